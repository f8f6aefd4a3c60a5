// Config's lookup methods: effective source policy, domain policy, vmta and HTTP access lookups.
#include "mta/config/config.hpp"

#include <algorithm>
#include <cstdio>

#include "mta/config/internal.hpp"

namespace outpost::config {

std::string ConfigError::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::string SummaryLine(const LoadResult& result) {
  auto count = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  const ConfigSummary& s = result.summary;
  return count(static_cast<std::size_t>(s.directives), "directive", "directives") + " and " +
         count(static_cast<std::size_t>(s.sections), "section", "sections") + " read from " +
         count(static_cast<std::size_t>(s.files), "file", "files") + ": " +
         count(result.errors.size(), "error", "errors") + ", " +
         count(result.notices.size(), "notice", "notices");
}

namespace {

// Overlays the fields `layer` sets onto `out`.
void Apply(const SourcePolicy& layer, EffectiveSourcePolicy& out) {
  if (layer.always_allow_relaying) out.always_allow_relaying = *layer.always_allow_relaying;
  if (layer.smtp_service) out.smtp_service = *layer.smtp_service;
  if (layer.require_auth) out.require_auth = *layer.require_auth;
  if (layer.max_message_size) out.max_message_size = *layer.max_message_size;
  if (layer.process_x_virtual_mta) out.process_x_virtual_mta = *layer.process_x_virtual_mta;
  if (layer.process_x_job) out.process_x_job = *layer.process_x_job;
  if (layer.default_virtual_mta) out.default_virtual_mta = *layer.default_virtual_mta;
  if (layer.log_connections) out.log_connections = *layer.log_connections;
  if (layer.hide_message_source) out.hide_message_source = *layer.hide_message_source;
  if (layer.normalize_bare_line_ends) {
    out.normalize_bare_line_ends = *layer.normalize_bare_line_ends;
  }
  if (layer.log_commands) out.log_commands = *layer.log_commands;
  if (layer.add_received_header) out.add_received_header = *layer.add_received_header;
  if (layer.remove_received_headers) out.remove_received_headers = *layer.remove_received_headers;
  if (layer.add_message_id_header) out.add_message_id_header = *layer.add_message_id_header;
  if (layer.add_date_header) out.add_date_header = *layer.add_date_header;
  if (layer.pattern_list) out.pattern_list = *layer.pattern_list;
  if (layer.jobid_header) out.jobid_header = *layer.jobid_header;
  if (layer.retain_x_job) out.retain_x_job = *layer.retain_x_job;
  if (layer.retain_x_virtual_mta) out.retain_x_virtual_mta = *layer.retain_x_virtual_mta;
  if (layer.process_x_envid) out.process_x_envid = *layer.process_x_envid;
  if (layer.verp_default) out.verp_default = *layer.verp_default;
  if (layer.log_data) out.log_data = *layer.log_data;
  if (layer.allow_starttls) out.allow_starttls = *layer.allow_starttls;
  if (layer.require_starttls_before_auth) {
    out.require_starttls_before_auth = *layer.require_starttls_before_auth;
  }
  if (layer.allow_unencrypted_plain_auth) {
    out.allow_unencrypted_plain_auth = *layer.allow_unencrypted_plain_auth;
  }
  if (layer.smtp_max_auth_failure_rate) {
    out.smtp_max_auth_failure_rate = *layer.smtp_max_auth_failure_rate;
  }
  for (const std::string& name : layer.remove_headers) {
    if (std::find(out.remove_headers.begin(), out.remove_headers.end(), name) ==
        out.remove_headers.end()) {
      out.remove_headers.push_back(name);
    }
  }
}

}  // namespace

EffectiveSourcePolicy Config::SourcePolicyFor(const IpAddress& client) const {
  std::vector<const SourcePolicy*> matching;
  for (const SourcePolicy& s : sources) {
    if (s.cidr && s.cidr->Contains(client)) matching.push_back(&s);
  }
  // Least specific first, so that more specific sources overwrite; stable keeps file order
  // between equally specific ones (duplicates are rejected at load, so ties are 0.0.0.0/0 vs
  // 0/0 at most).
  std::stable_sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
    return a->cidr->Specificity() < b->cidr->Specificity();
  });
  EffectiveSourcePolicy out;
  for (const SourcePolicy* s : matching) Apply(*s, out);
  return out;
}

EffectiveSourcePolicy Config::NamedSourcePolicy(const std::string& name,
                                                EffectiveSourcePolicy base) const {
  std::string key = Lower(name);
  for (const SourcePolicy& s : sources) {
    if (!s.cidr && s.name == key) Apply(s, base);
  }
  return base;
}

std::string AcctFeedKey(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a: stable across runs and builds
  for (unsigned char ch : text) hash = (hash ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

std::string AcctPipeBufferPath(const std::string& spool_dir, const std::string& program) {
  return spool_dir + "/acct-feed/pipe-" + AcctFeedKey(program) + ".csv";
}

const SmtpUser* Config::FindSmtpUser(const std::string& name) const {
  for (const SmtpUser& u : smtp_users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

bool Config::IsRelayDomain(std::string_view domain) const {
  std::string key = Lower(domain);
  if (!key.empty() && key.back() == '.') key.pop_back();
  return std::any_of(relay_domains.begin(), relay_domains.end(), [&](const std::string& r) {
    return r == key || WildcardDomainMatch(r, key) >= 0;
  });
}

int WildcardDomainMatch(std::string_view pattern, std::string_view domain) {
  const bool self_too = pattern.substr(0, 4) == "[*.]";
  if (!self_too && pattern.substr(0, 2) != "*.") return -1;
  const std::string_view suffix = pattern.substr(self_too ? 4 : 2);
  if (suffix.empty()) return -1;
  if (self_too && domain == suffix) return static_cast<int>(suffix.size());
  if (domain.size() <= suffix.size() + 1) return -1;
  const std::size_t dot = domain.size() - suffix.size() - 1;
  if (domain[dot] != '.' || domain.substr(dot + 1) != suffix) return -1;
  return static_cast<int>(suffix.size());
}

bool AddressList::Matches(const std::string& lower_recipient) const {
  if (std::find(addresses.begin(), addresses.end(), lower_recipient) != addresses.end()) {
    return true;
  }
  const std::size_t at = lower_recipient.rfind('@');
  if (at == std::string::npos) return false;
  const std::string domain = lower_recipient.substr(at + 1);
  return std::find(domains.begin(), domains.end(), domain) != domains.end();
}

const VirtualMta* Config::FindVirtualMta(const std::string& name) const {
  std::string key = Lower(name);
  for (const VirtualMta& v : virtual_mtas) {
    if (v.name == key) return &v;
  }
  return nullptr;
}

const VirtualMtaPool* Config::FindVirtualMtaPool(const std::string& name) const {
  std::string key = Lower(name);
  for (const VirtualMtaPool& p : virtual_mta_pools) {
    if (p.name == key) return &p;
  }
  return nullptr;
}

const PatternList* Config::FindPatternList(const std::string& name) const {
  std::string key = Lower(name);
  for (const PatternList& l : pattern_lists) {
    if (l.name == key) return &l;
  }
  return nullptr;
}

int Config::DomainMatchRank(const DomainPolicy& d, const std::string& domain) const {
  constexpr int kStar = 300, kMaxSuffix = 255;
  int best = -1;
  auto closer = [&best](int rank) {
    if (rank >= 0 && (best < 0 || rank < best)) best = rank;
  };
  // A section built in code (tests) may set only `match`: its words are the names.
  const std::vector<std::string> words =
      d.names.empty() ? SplitWords(d.match) : std::vector<std::string>{};
  for (const std::string& name : d.names.empty() ? words : d.names) {
    if (name == domain) {
      closer(0);
    } else if (name == "*") {
      closer(kStar);
    } else if (name.size() > 1 && name[0] == '$') {
      auto it = domain_macros.find(name.substr(1));
      if (it != domain_macros.end() &&
          std::find(it->second.begin(), it->second.end(), domain) != it->second.end()) {
        closer(1);
      }
    } else if (const int suffix = WildcardDomainMatch(name, domain); suffix >= 0) {
      closer(2 + kMaxSuffix - std::min(suffix, kMaxSuffix));
    }
  }
  return best;
}

const DomainPolicy* Config::FindDomainPolicy(const std::string& domain) const {
  std::string key = Lower(domain);
  if (!key.empty() && key.back() == '.') key.pop_back();
  const DomainPolicy* best = nullptr;
  int best_rank = -1;
  for (const DomainPolicy& d : domains) {
    if (!d.virtual_mta.empty() || !d.virtual_mta_pool.empty()) continue;
    const int rank = DomainMatchRank(d, key);
    if (rank >= 0 && (best == nullptr || rank < best_rank)) {
      best = &d;
      best_rank = rank;
    }
  }
  return best;
}

AccessLevel Config::HttpAccessFor(const IpAddress& client) const {
  if (http_access.empty()) {
    static const IpAddress kV4 = *IpAddress::Parse("127.0.0.1");
    static const IpAddress kV6 = *IpAddress::Parse("::1");
    return client == kV4 || client == kV6 ? AccessLevel::kMonitor : AccessLevel::kNone;
  }
  const HttpAccessRule* best = nullptr;
  for (const HttpAccessRule& rule : http_access) {
    // Later lines win ties, so an operator can override by appending.
    if (rule.cidr.Contains(client) &&
        (best == nullptr || rule.cidr.Specificity() >= best->cidr.Specificity())) {
      best = &rule;
    }
  }
  return best == nullptr ? AccessLevel::kNone : best->level;
}

}  // namespace outpost::config
