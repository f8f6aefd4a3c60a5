// The checks that need the whole configuration, run once every file (includes too) is read:
// required directives, sections missing what they need, and cross-references between sections
// (each reported at the file and line that made it).
//
// Thread-safety: works on one ParseContext, on the parsing thread.
#include <unistd.h>

#include <algorithm>

#include "mta/config/internal.hpp"

namespace outpost::config {

namespace {

std::pair<std::string, int> Origin(const SectionOrigins& origins, Scope scope, std::size_t index,
                                   const std::string& main_file) {
  auto it = origins.find({scope, index});
  return it == origins.end() ? std::make_pair(main_file, 0) : it->second;
}

void CheckReference(const ParseContext& ctx, const Reference& r) {
  const Config& c = *ctx.config;
  auto error = [&](const std::string& message) { ctx.ErrorAt(r.file, r.line, message); };
  switch (r.kind) {
    case Reference::kPatternList: {
      bool found = false;
      for (const SmtpPatternList& l : c.smtp_pattern_lists) found = found || l.name == r.name;
      if (!found) {
        error("'smtp-pattern-list " + r.name + "': no <smtp-pattern-list " + r.name +
              "> is defined");
      }
      break;
    }
    case Reference::kVmtaOrPool:
      if (c.FindVirtualMta(r.name) == nullptr && c.FindVirtualMtaPool(r.name) == nullptr) {
        error("'" + r.directive + " " + r.name + "': no <virtual-mta " + r.name +
              "> or <virtual-mta-pool " + r.name + "> is defined");
      }
      break;
    case Reference::kVmta:
      if (c.FindVirtualMta(r.name) == nullptr) {
        error("'virtual-mta " + r.name + "': no <virtual-mta " + r.name + "> is defined" +
              (c.FindVirtualMtaPool(r.name) != nullptr
                   ? " (it is a pool; pools cannot contain pools)"
                   : ""));
      }
      break;
    case Reference::kNamedSource: {
      bool found = false;
      for (const SourcePolicy& s : c.sources) found = found || s.name == r.name;
      if (!found) error("'source " + r.name + "': no <source " + r.name + "> is defined");
      break;
    }
    case Reference::kRoutePatternList:
      if (c.FindPatternList(r.name) == nullptr) {
        error("'pattern-list " + r.name + "': no <pattern-list " + r.name + "> is defined");
      }
      break;
    case Reference::kTlsCertificate:
      if (c.smtp_server_tls_certificate.empty()) {
        error("'" + r.directive + "' needs 'smtp-server-tls-certificate' (and its private key)");
      }
      break;
    case Reference::kMacro:
      if (c.domain_macros.count(r.name) == 0) {
        error("<domain $" + r.name + ">: no 'domain-macro " + r.name + "' is defined");
      }
      break;
  }
}

// A report processor without any address takes no mail: most likely a forgotten <address-list>.
void CheckProcessor(ParseContext& ctx, const SectionOrigins& origins, const std::string& main_file,
                    const std::optional<ReportProcessor>& processor, Scope scope) {
  if (!processor) return;
  const AddressList& list = processor->address_list;
  if (!list.domains.empty() || !list.addresses.empty()) return;
  auto [file, line] = Origin(origins, scope, scope == Scope::kBounceProcessor ? 0 : 1, main_file);
  ctx.ErrorAt(file, line,
              "<" + std::string(ScopeFor(scope).tag) +
                  "> has no <address-list> with a 'domain' or 'address' line: it would read no "
                  "mail");
}

}  // namespace

// <acct-file |PROGRAM>: the on-disk buffer the program is fed from lives in the spool, and the
// directives that place or rotate a file of the operator's are refused (the buffer is Outpost's).
void CheckAcctPipe(ParseContext& ctx, const SectionOrigins& origins, const std::string& main_file,
                   std::size_t i) {
  AcctFile& acct = ctx.config->acct_files[i];
  if (acct.pipe_program.empty()) return;
  auto [file, line] = Origin(origins, Scope::kAcctFile, i, main_file);
  if (acct.move_interval || acct.max_size || acct.delete_after || acct.move_to ||
      !acct.webhook_url.empty()) {
    ctx.ErrorAt(file, line,
                "<acct-file |" + acct.pipe_program +
                    ">: move-interval, max-size, delete-after, move-to and webhook-url apply to "
                    "a file, not to a program");
  }
  acct.path = AcctPipeBufferPath(ctx.config->spool_dir, acct.pipe_program);
  acct.max_size = kAcctPipeBufferRotateSize;
}

// webhook-ca-file: only for an https:// webhook-url, and a file that exists.
void CheckAcctWebhookCa(ParseContext& ctx, const SectionOrigins& origins,
                        const std::string& main_file, std::size_t i) {
  const AcctFile& acct = ctx.config->acct_files[i];
  if (acct.webhook_ca_file.empty()) return;
  auto [file, line] = Origin(origins, Scope::kAcctFile, i, main_file);
  if (acct.webhook_url.rfind("https://", 0) != 0) {
    ctx.ErrorAt(file, line,
                "<acct-file " + acct.path + ">: webhook-ca-file needs an https:// webhook-url");
  } else if (::access(acct.webhook_ca_file.c_str(), R_OK) != 0) {
    ctx.ErrorAt(file, line,
                "<acct-file " + acct.path + ">: webhook-ca-file " + acct.webhook_ca_file +
                    " cannot be read");
  }
}

void CheckWholeConfig(ParseContext& ctx, const SectionOrigins& origins,
                      const std::string& main_file) {
  Config& c = *ctx.config;
  ResolveColdVirtualMtas(ctx, origins, main_file);
  if (c.spool_dir.empty() && ctx.global_lines.count("spool") == 0) {
    ctx.ErrorAt(main_file, 0, "no 'spool' directive: the spool directory is required");
  }
  if (c.smtp_listeners.empty() && ctx.global_lines.count("smtp-listener") == 0) {
    ctx.ErrorAt(main_file, 0, "no 'smtp-listener' directive: at least one is required");
  }
  if (!c.smtp_server_tls_private_key.empty() && c.smtp_server_tls_certificate.empty()) {
    ctx.ErrorAt(main_file, ctx.global_lines["smtp-server-tls-private-key"],
                "'smtp-server-tls-private-key' without 'smtp-server-tls-certificate'");
  }
  for (std::size_t i = 0; i < c.acct_files.size(); ++i) {
    CheckAcctPipe(ctx, origins, main_file, i);
    CheckAcctWebhookCa(ctx, origins, main_file, i);
    const AcctFile& acct = c.acct_files[i];
    for (const RecordFields& rf : acct.record_fields) {
      if (acct.records.empty() ||
          std::find(acct.records.begin(), acct.records.end(), rf.type) != acct.records.end()) {
        continue;
      }
      auto [file, line] = Origin(origins, Scope::kAcctFile, i, main_file);
      ctx.ErrorAt(file, rf.line,
                  "'record-fields " + rf.type + "': this file's 'records' do not include " +
                      rf.type + ", so no such record would be written here");
    }
  }
  for (std::size_t i = 0; i < c.smtp_users.size(); ++i) {
    if (c.smtp_users[i].password.empty()) {
      auto [file, line] = Origin(origins, Scope::kSmtpUser, i, main_file);
      ctx.ErrorAt(file, line, "<smtp-user " + c.smtp_users[i].name + "> has no 'password'");
    }
  }
  for (std::size_t i = 0; i < c.virtual_mta_pools.size(); ++i) {
    const VirtualMtaPool& pool = c.virtual_mta_pools[i];
    auto [file, line] = Origin(origins, Scope::kVirtualMtaPool, i, main_file);
    if (pool.members.empty()) {
      ctx.ErrorAt(file, line, "<virtual-mta-pool " + pool.name + "> has no 'virtual-mta' members");
    }
    if (c.FindVirtualMta(pool.name) != nullptr) {
      ctx.ErrorAt(file, line,
                  "<virtual-mta-pool " + pool.name +
                      "> has the name of a <virtual-mta>; the names must differ");
    }
  }
  for (std::size_t i = 0; i < c.alert_actions.size(); ++i) {
    const AlertAction& rule = c.alert_actions[i];
    auto [file, line] = Origin(origins, Scope::kAlertAction, i, main_file);
    if (rule.match.empty() && ctx.alert_match_seen.count(i) == 0) {  // a bad one: reported
      ctx.ErrorAt(file, line,
                  "<alert-action " + rule.name + "> has no 'match': it would act on every alert");
    }
    if (!rule.verb && ctx.alert_action_seen.count(i) == 0) {
      ctx.ErrorAt(file, line, "<alert-action " + rule.name + "> has no 'action'");
    }
  }
  CheckProcessor(ctx, origins, main_file, c.bounce_processor, Scope::kBounceProcessor);
  CheckProcessor(ctx, origins, main_file, c.feedback_loop_processor, Scope::kFeedbackLoopProcessor);
  for (const Reference& r : ctx.references) CheckReference(ctx, r);
  if (c.host_name.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) c.host_name = buf;
  }
}

}  // namespace outpost::config
