// The directive tables: every scope of the language, every directive in it, its syntax, default,
// meaning, who implements it, and the setter that parses it into a Config.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <type_traits>

#include "common/acct_format.hpp"
#include "mta/config/internal.hpp"
#include "mta/config/setters.hpp"

namespace outpost::config {

namespace {

using namespace detail;  // NOLINT: the tables use the setters unqualified

// ---- Specific setters. ----

// Compacting a segment that is more than 90 % live would rewrite nearly all of it to reclaim a
// little: the spool would spend its disk bandwidth copying. 0 turns compaction off.
constexpr double kMaxCompactionThreshold = 0.9;

Result SetCompactionThreshold(ParseContext& c, const std::string& v) {
  auto share = ParseShare(v);
  if (!share) return std::string();
  if (*share > kMaxCompactionThreshold) {
    std::string error =
        "more than 90%, the most allowed: compacting segments that are mostly live would copy "
        "nearly all of them to reclaim little (0 turns compaction off)";
    const std::string text = Trim(v);
    if (*share > 1 && text.back() != '%') {
      error += "; a number without % is a fraction: write " + text + "% for a percentage";
    }
    return error;
  }
  c.config->spool_compaction_threshold = *share;
  return std::nullopt;
}

// sync-msg-update no: completion marks are written without a sync (mta/spool/spool.hpp).
Result SetSyncMsgUpdate(ParseContext&, const std::string& v) {
  return OnlyNo(v,
                "Outpost records that a recipient is finished without syncing it to disk (after a "
                "crash of the machine it may be delivered again, never lost) and does not offer "
                "syncing those records: only 'no' is accepted");
}

// reuse-ssl-session no: the outbound TLS client never resumes a session (mta/delivery).
Result SetReuseSslSession(ParseContext&, const std::string& v) {
  return OnlyNo(v,
                "Outpost's outbound TLS client makes a full handshake on every connection and "
                "does not resume TLS sessions: only 'no' is accepted");
}

// The `yes` side of a PowerMTA yes/no that Outpost always does (OnlyNo's mirror).
Result OnlyYes(const std::string& v, const char* why) {
  auto b = ParseBool(v);
  if (!b) return std::string();
  if (!*b) return std::string(why);
  return std::nullopt;
}

// smtp-server-tls-allow-tlsv1 / -tlsv1.1 no: the SMTP server's TLS floor is 1.2
// (mta/smtp/smtp_server.cpp).
Result SetAllowOldTls(ParseContext&, const std::string& v) {
  return OnlyNo(v,
                "Outpost's SMTP server refuses TLS 1.0 and 1.1 on purpose (they are deprecated, "
                "RFC 8996): only 'no' is accepted");
}

// smtp-server-tls-allow-tlsv1.2 / -tlsv1.3 yes: both are always offered.
Result SetAllowTls(ParseContext&, const std::string& v) {
  return OnlyYes(v,
                 "Outpost's SMTP server always offers TLS 1.2 and 1.3 and has no way to turn one "
                 "off: only 'yes' is accepted");
}

// http-redirect-to-https no: the management port speaks plain HTTP only.
Result SetHttpRedirectToHttps(ParseContext&, const std::string& v) {
  return OnlyNo(v,
                "the management port serves plain HTTP only (no HTTPS to redirect to): only 'no' "
                "is accepted");
}

// spool DIR, unless a <spool DIR> section already set it.
Result SetSpool(ParseContext& c, const std::string& v) {
  auto it = c.global_lines.find("spool");
  if (it != c.global_lines.end() && it->second != c.line) {
    return "the spool is already set at line " + std::to_string(it->second) +
           "; Outpost uses one spool directory";
  }
  return SetPath<&Config::spool_dir>(c, v);
}

// An existing directory, for `what`; an error detail otherwise.
std::optional<std::string> CheckDirectory(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return std::string(what) + " '" + path + "' is not an existing directory";
  }
  return std::nullopt;
}

// `pickup DIR BADDIR`: two existing, different directories.
Result SetPickup(ParseContext& c, const std::string& v) {
  std::vector<std::string> words = SplitWords(v);
  if (words.size() != 2) return std::string();
  Config::Pickup p{c.ResolvePath(words[0]), c.ResolvePath(words[1])};
  if (Result bad = CheckDirectory(p.dir, "the pickup directory")) return bad;
  if (Result bad = CheckDirectory(p.bad_dir, "the bad-file directory")) return bad;
  std::error_code ec;
  if (std::filesystem::equivalent(p.dir, p.bad_dir, ec)) {
    return std::string("the bad-file directory must not be the pickup directory itself");
  }
  for (const Config::Pickup& other : c.config->pickups) {
    if (std::filesystem::equivalent(other.dir, p.dir, ec)) {
      return "the pickup directory '" + p.dir + "' is already watched";
    }
  }
  c.config->pickups.push_back(std::move(p));
  return std::nullopt;
}

// `smtp-listener ADDR:PORT [tls=yes|no]`: tls=yes is implicit TLS (SMTPS, usually port 465).
Result SetSmtpListener(ParseContext& c, const std::string& v) {
  std::vector<std::string> words = SplitWords(v);
  if (words.empty()) return std::string();
  auto a = ParseListenAddress(words[0], false);
  if (!a) return std::string();
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string option = Lower(words[i]);
    if (option == "tls=yes" || option == "tls=true") {
      a->implicit_tls = true;
      c.references.push_back(
          Reference{Reference::kTlsCertificate, "", c.line, "smtp-listener " + v, ""});
    } else if (option != "tls=no" && option != "tls=false") {
      return "unknown option '" + words[i] + "' (the one option is tls=yes|no)";
    }
  }
  c.config->smtp_listeners.push_back(*a);
  return std::nullopt;
}

Result SetHttpMgmtPort(ParseContext& c, const std::string& v) {
  auto a = ParseListenAddress(v, true);
  if (!a) return std::string();
  c.config->http_mgmt = *a;
  return std::nullopt;
}

Result SetHttpAccess(ParseContext& c, const std::string& v) {
  std::size_t space = v.find_first_of(" \t");
  if (space == std::string::npos) return std::string();
  auto cidr = Cidr::Parse(v.substr(0, space));
  if (!cidr) return std::string("expected an IP address or CIDR (like 10.0.0.0/8 or 0/0) first");
  std::string level = Lower(Trim(v.substr(space)));
  HttpAccessRule rule{*cidr, AccessLevel::kNone};
  if (level == "admin") {
    rule.level = AccessLevel::kAdmin;
  } else if (level == "monitor") {
    rule.level = AccessLevel::kMonitor;
  } else if (level == "submit") {
    rule.level = AccessLevel::kSubmit;
  } else if (level != "none") {
    return std::string("expected the level admin, monitor, submit or none after the address");
  }
  c.config->http_access.push_back(rule);
  return std::nullopt;
}

// One line of an http-api-key-file: "KEY" or "NAME KEY"; "" when it is good.
std::string ParseApiKeyLine(const std::string& line, ApiKey& key) {
  const std::size_t space = line.find_first_of(" \t");
  key.key = Trim(space == std::string::npos ? line : line.substr(space));
  if (space != std::string::npos) key.name = line.substr(0, space);
  if (key.key.size() < kMinApiKeyLength) {
    return "an API key must be at least " + std::to_string(kMinApiKeyLength) + " characters";
  }
  if (key.key.find_first_of(" \t") != std::string::npos) return "expected KEY or NAME KEY";
  return "";
}

// http-api-key-file PATH: one key a line ("KEY" or "NAME KEY"), '#' comments and blank lines
// skipped. The keys are kept in memory only: never echoed in messages or logs.
Result SetHttpApiKeyFile(ParseContext& c, const std::string& v) {
  const std::string path = c.ResolvePath(Trim(v));
  std::ifstream in(path);
  if (!in) return "cannot read API key file '" + path + "'";
  std::string line;
  int number = 0;
  std::size_t found = 0;
  while (std::getline(in, line)) {
    ++number;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    ApiKey key;
    const std::string why = ParseApiKeyLine(line, key);
    if (!why.empty()) return path + ":" + std::to_string(number) + ": " + why;
    if (key.name.empty()) key.name = "key" + std::to_string(c.config->http_api_keys.size() + 1);
    c.config->http_api_keys.push_back(std::move(key));
    ++found;
  }
  if (found == 0) return "API key file '" + path + "' holds no key";
  return std::nullopt;
}

// SELECTOR,DOMAIN,KEYFILE into `out`, the key file checked. DOMAIN `*`: any signing domain.
Result ParseDomainKey(ParseContext& c, const std::string& v, std::vector<DomainKey>& out) {
  std::vector<std::string> parts = SplitList(v);
  if (parts.size() != 3 || parts[0].empty() || parts[2].empty() ||
      (parts[1] != "*" && !IsHostName(parts[1]))) {
    return std::string();
  }
  DomainKey key{parts[0], Lower(parts[1]), c.ResolvePath(parts[2]), c.file, c.line};
  // Check the key file is there and readable now, not when the first message needs signing. Its
  // contents are private: never read or echo them here.
  std::error_code ec;
  auto status = std::filesystem::status(key.key_file, ec);
  if (ec || !std::filesystem::exists(status)) {
    return "key file '" + key.key_file + "' does not exist";
  }
  if (!std::filesystem::is_regular_file(status)) {
    return "key file '" + key.key_file + "' is not a regular file";
  }
  if (access(key.key_file.c_str(), R_OK) != 0) {
    return "key file '" + key.key_file + "' is not readable by this user";
  }
  out.push_back(key);
  return std::nullopt;
}

Result SetDomainKey(ParseContext& c, const std::string& v) {
  return ParseDomainKey(c, v, c.config->domain_keys);
}

Result SetVmtaDomainKey(ParseContext& c, const std::string& v) {
  return ParseDomainKey(c, v, c.config->virtual_mtas[c.index].domain_keys);
}

Result SetDomainMacro(ParseContext& c, const std::string& v) {
  std::size_t space = v.find_first_of(" \t");
  if (space == std::string::npos) return std::string();
  std::string name = Lower(v.substr(0, space));
  if (!name.empty() && name[0] == '$') name.erase(0, 1);
  std::vector<std::string> domains;
  for (const std::string& d : SplitList(Trim(v.substr(space)))) {
    if (!IsHostName(d)) return "'" + d + "' is not a domain name";
    domains.push_back(Lower(d));
  }
  std::string key = "domain-macro " + name;
  auto [it, inserted] = c.global_lines.emplace(key, c.line);
  if (!inserted) {
    return "macro '" + name + "' is already defined at line " + std::to_string(it->second);
  }
  c.config->domain_macros[name] = domains;
  return std::nullopt;
}

// postmaster LOCAL@DOMAIN: a plain address (no display name, no brackets, no quoting).
Result SetPostmaster(ParseContext& c, const std::string& v) {
  const std::size_t at = v.rfind('@');
  if (at == std::string::npos || at == 0) return std::string();
  for (char ch : v.substr(0, at)) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 33 || u > 126 || std::string_view("<>()[]\\,;:@\"").find(ch) != std::string::npos) {
      return std::string();
    }
  }
  if (!IsHostName(v.substr(at + 1))) return std::string();
  c.config->postmaster = v;
  return std::nullopt;
}

Result SetDnsServer(ParseContext& c, const std::string& v) {
  auto a = ParseListenAddress(v, false);
  if (!a) {
    auto ip = IpAddress::Parse(Trim(v));
    if (!ip) return std::string();
    a = ListenAddress{ip->ToString(), 53};
  }
  if (a->port == 0) return std::string("expected ADDR[:PORT] with a port from 1 to 65535");
  c.config->dns_server = *a;
  return std::nullopt;
}

// ADDR HOSTNAME (smtp-source-host, auto-cold-virtual-mta).
std::optional<SourceHost> ParseSourceHost(const std::string& v) {
  std::size_t space = v.find_first_of(" \t");
  if (space == std::string::npos) return std::nullopt;
  auto ip = IpAddress::Parse(v.substr(0, space));
  std::string host = Trim(v.substr(space));
  if (!ip || !IsHostName(host)) return std::nullopt;
  return SourceHost{ip->ToString(), Lower(host)};
}

Result SetSourceHost(ParseContext& c, const std::string& v) {
  auto h = ParseSourceHost(v);
  if (!h) return std::string();
  c.config->virtual_mtas[c.index].source_hosts.push_back(*h);
  return std::nullopt;
}

// The cold virtual MTA is checked once the whole file is read (ResolveColdVirtualMtas).
Result SetColdVirtualMta(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  c.config->virtual_mtas[c.index].cold_virtual_mta = Lower(v);
  return std::nullopt;
}

Result SetAutoColdVirtualMta(ParseContext& c, const std::string& v) {
  auto h = ParseSourceHost(v);
  if (!h) return std::string();
  c.config->virtual_mtas[c.index].auto_cold = *h;
  return std::nullopt;
}

// N/day (also N/d, N/1d, N/24h) or a bare N: recipients per day; 0 sends none through the cold one.
Result SetMaxColdVirtualMtaMsg(ParseContext& c, const std::string& v) {
  const std::string text = Lower(Trim(v));
  const std::size_t slash = text.find('/');
  auto count = ParseUnsigned(std::string_view(text).substr(0, slash));
  if (!count) return std::string();
  if (slash != std::string::npos) {
    auto per = ParseRate("1" + text.substr(slash));
    if (!per) return std::string();
    if (per->per != Seconds(86400)) {
      return std::string("the count is per day: expected N/day like 500/day, not per ") +
             text.substr(slash + 1);
    }
  }
  c.config->domains[c.index].max_cold_virtual_mta_msg = *count;
  c.config->domains[c.index].max_cold_virtual_mta_msg_line = c.line;
  return std::nullopt;
}

Result SetPoolMember(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  c.config->virtual_mta_pools[c.index].members.push_back(Lower(v));
  c.references.push_back({Reference::kVmta, Lower(v), c.line, "virtual-mta"});
  return std::nullopt;
}

Result SetPatternListRef(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  c.config->domains[c.index].smtp_pattern_list = Lower(v);
  c.references.push_back({Reference::kPatternList, Lower(v), c.line, "smtp-pattern-list"});
  return std::nullopt;
}

Result SetBackoffToNormalAfter(ParseContext& c, const std::string& v) {
  if (Lower(v) == "never") {
    c.config->domains[c.index].backoff_to_normal_after.reset();
    return std::nullopt;
  }
  auto d = ParseDuration(v);
  if (!d) return std::string();
  c.config->domains[c.index].backoff_to_normal_after = *d;
  return std::nullopt;
}

// mx-rollup decides which queue a recipient domain uses before a virtual MTA's policy is known:
// it is global only.
Result SetMxRollup(ParseContext& c, const std::string& v) {
  const DomainPolicy& d = c.config->domains[c.index];
  if (!d.virtual_mta.empty() || !d.virtual_mta_pool.empty()) {
    return std::string(
        "mx-rollup shares one queue among domains for every virtual MTA; set it in a global "
        "<domain> section, not in one inside <virtual-mta> or <virtual-mta-pool>");
  }
  return SetHostName<&DomainPolicy::mx_rollup>(c, v);
}

// N, or `unlimited` (stored as 0: no limit).
Result SetMaxErrorsPerConnection(ParseContext& c, const std::string& v) {
  if (Lower(Trim(v)) == "unlimited") {
    c.config->domains[c.index].max_errors_per_connection = 0;
    return std::nullopt;
  }
  if (SetInt<&DomainPolicy::max_errors_per_connection, 0, 1000000>(c, v)) {
    return std::string("expected a whole number from 0 to 1000000 or 'unlimited'");
  }
  return std::nullopt;
}

// One smtp-hosts entry: lookup-mx:DOMAIN, [ADDR], [ADDR]:PORT, HOST or HOST:PORT.
std::optional<SmtpHost> ParseSmtpHost(const std::string& item) {
  SmtpHost h;
  const std::string lower = Lower(item);
  if (lower.rfind("lookup-mx:", 0) == 0) {
    h.host = lower.substr(10);
    h.lookup_mx = true;
    if (!IsHostName(h.host)) return std::nullopt;
    return h;
  }
  if (auto a = ParseHostPort(item, false, /*hostname_ok=*/true)) {
    if (a->port == 0) return std::nullopt;
    h.host = a->host;
    h.port = a->port;
    return h;
  }
  if (lower.size() > 2 && lower.front() == '[' && lower.back() == ']') {
    auto ip = IpAddress::Parse(lower.substr(1, lower.size() - 2));
    if (!ip) return std::nullopt;
    h.host = ip->ToString();
    return h;
  }
  if (!IsHostName(lower)) return std::nullopt;
  h.host = lower;
  return h;
}

Result SetSmtpHosts(ParseContext& c, const std::string& v) {
  std::vector<SmtpHost> hosts;
  std::string list = v;
  std::replace(list.begin(), list.end(), ' ', ',');
  std::replace(list.begin(), list.end(), '\t', ',');
  for (const std::string& item : SplitList(list)) {
    if (item.empty()) continue;
    auto h = ParseSmtpHost(item);
    if (!h) return "'" + item + "' is not [ADDR][:PORT], HOST[:PORT] or lookup-mx:DOMAIN";
    hosts.push_back(*h);
  }
  if (hosts.empty()) return std::string();
  c.config->domains[c.index].smtp_hosts = hosts;
  return std::nullopt;
}

// route [ADDR]:PORT | HOST:PORT (connect there) or route DOMAIN (that domain's MX hosts).
Result SetRoute(ParseContext& c, const std::string& v) {
  if (auto a = ParseHostPort(v, false, /*hostname_ok=*/true)) {
    if (a->port == 0) return std::string();
    c.config->domains[c.index].route = *a;
    return std::nullopt;
  }
  const std::string domain = Lower(Trim(v));
  if (!IsHostName(domain)) return std::string();
  c.config->domains[c.index].smtp_hosts = std::vector<SmtpHost>{{domain, std::nullopt, true}};
  return std::nullopt;
}

Result SetDeliveryType(ParseContext& c, const std::string& v) {
  const std::string type = Lower(Trim(v));
  if (type == "file" || type == "pipe" || type == "http-delivery") {
    return "delivery type '" + type +
           "' is a PowerMTA delivery type not supported by Outpost (smtp and discard are)";
  }
  if (type != "smtp" && type != "discard") return std::string();
  c.config->domains[c.index].delivery_type = type;
  return std::nullopt;
}

Result SetReply(ParseContext& c, const std::string& v) {
  SmtpPattern p;
  std::size_t end = 0;
  if (!SplitRegex(v, &p.regex, &p.icase, &end)) return std::string();
  std::string rest = Lower(Trim(std::string_view(v).substr(end)));
  if (rest == "mode=backoff") {
    p.mode = PatternMode::kBackoff;
  } else if (rest == "mode=normal") {
    p.mode = PatternMode::kNormal;
  } else {
    return std::string("expected mode=backoff or mode=normal after the /regex/");
  }
  if (auto err = CheckRegex(p.regex, p.icase)) return err;
  p.line = c.line;
  c.config->smtp_pattern_lists[c.index].patterns.push_back(p);
  return std::nullopt;
}

constexpr const char* kBounceCategories[] = {"bad-configuration",   "bad-connection",
                                             "bad-domain",          "bad-mailbox",
                                             "content-related",     "inactive-mailbox",
                                             "invalid-sender",      "message-expired",
                                             "no-answer-from-host", "other",
                                             "policy-related",      "protocol-errors",
                                             "quota-issues",        "relaying-issues",
                                             "routing-errors",      "spam-related",
                                             "virus-related",       "success"};

bool IsPowerMtaCategory(const std::string& name) {
  return std::any_of(std::begin(kBounceCategories), std::end(kBounceCategories),
                     [&](const char* k) { return name == k; });
}

// A category name: PowerMTA's, or an operator's own (lower-case letters, digits and '-', at most
// 40 characters, starting with a letter). Operators' names are bounded by kMaxCustomCategories
// per configuration, so the accounting column and metrics built on it stay bounded.
constexpr std::size_t kMaxCategoryName = 40;
constexpr std::size_t kMaxCustomCategories = 50;

bool IsCategoryName(const std::string& name) {
  if (name.empty() || name.size() > kMaxCategoryName ||
      !std::islower(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::islower(static_cast<unsigned char>(ch)) ||
           std::isdigit(static_cast<unsigned char>(ch)) || ch == '-';
  });
}

Result CheckCategory(const Config& config, const std::string& category) {
  if (!IsCategoryName(category)) {
    return std::string(
        "expected a bounce category after the /regex/: PowerMTA's (bad-mailbox, "
        "policy-related, ...) or a name of lower-case letters, digits and '-' "
        "(at most 40 characters)");
  }
  if (IsPowerMtaCategory(category)) return std::nullopt;
  std::set<std::string> custom;
  for (const BounceCategoryPattern& p : config.bounce_category_patterns) {
    if (!IsPowerMtaCategory(p.category)) custom.insert(p.category);
  }
  if (custom.count(category) == 0 && custom.size() >= kMaxCustomCategories) {
    return "more than " + std::to_string(kMaxCustomCategories) +
           " bounce categories of your own; map some to PowerMTA's";
  }
  return std::nullopt;
}

Result SetBouncePattern(ParseContext& c, const std::string& v) {
  BounceCategoryPattern p;
  std::size_t end = 0;
  // `//` (the empty regex) matches every diagnostic: PowerMTA's samples end with `// other`.
  if (!SplitRegex(v, &p.regex, &p.icase, &end, /*allow_empty=*/true)) return std::string();
  p.category = Lower(Trim(std::string_view(v).substr(end)));
  if (auto err = CheckCategory(*c.config, p.category)) return err;
  if (auto err = CheckRegex(p.regex, p.icase)) return err;
  c.config->bounce_category_patterns.push_back(p);
  return std::nullopt;
}

Result SetDeleteAfter(ParseContext& c, const std::string& v) {
  if (Lower(Trim(v)) == "never") {
    c.config->acct_files[c.index].delete_after.reset();
    return std::nullopt;
  }
  return SetDuration<&AcctFile::delete_after, 1>(c, v);
}

constexpr const char* kRecordTypes[] = {"d", "b", "t", "tq", "r", "f", "rb"};

bool IsRecordType(const std::string& r) {
  return std::any_of(std::begin(kRecordTypes), std::end(kRecordTypes),
                     [&](const char* t) { return r == t; });
}

// Several `records` lines add up (`records d` then `records rb` writes both); `all` is every type.
Result SetRecords(ParseContext& c, const std::string& v) {
  std::vector<std::string>& records = c.config->acct_files[c.index].records;
  std::vector<std::string> listed = SplitList(Lower(v));
  if (listed == std::vector<std::string>{"all"})
    listed.assign(std::begin(kRecordTypes), std::end(kRecordTypes));
  for (const std::string& r : listed) {
    if (!IsRecordType(r)) return std::string();
    if (std::find(records.begin(), records.end(), r) == records.end()) records.push_back(r);
  }
  return std::nullopt;
}

Result SetRecordFields(ParseContext& c, const std::string& v) {
  const std::string text = Trim(v);
  const std::size_t space = text.find_first_of(" \t");
  RecordFields rf;
  rf.type = Lower(text.substr(0, space));
  rf.line = c.line;
  if (!IsRecordType(rf.type)) return "bad record type '" + rf.type + "'";
  const std::string list = space == std::string::npos ? "" : Trim(text.substr(space));
  if (list.empty()) return std::string();
  for (const auto& existing : c.config->acct_files[c.index].record_fields) {
    if (existing.type == rf.type) {
      return "record type '" + rf.type + "' already has its fields (line " +
             std::to_string(existing.line) + ")";
    }
  }
  if (list != "*") {
    for (const std::string& name : SplitList(list)) {
      if (Lower(name).rfind("header_", 0) == 0) {
        return "field '" + name +
               "': columns copied from message headers (header_NAME) are not supported yet; the "
               "record's own fields are (see docs/config.md)";
      }
      auto field = acct::ParseFieldName(name);
      if (!field || *field == acct::Field::kType) {
        return "unknown field '" + name + "'; known: " + acct::Layout::Default().Header();
      }
      rf.fields.push_back(name);
    }
  }
  c.config->acct_files[c.index].record_fields.push_back(rf);
  return std::nullopt;
}

// ---- Section openers. ----

Result OpenVirtualMta(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->virtual_mtas.emplace_back().name = Lower(arg);
  c.index = c.config->virtual_mtas.size() - 1;
  *key = Lower(arg);
  if (!IsToken(arg)) return std::string(kExpName);
  return std::nullopt;
}

Result OpenVirtualMtaPool(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->virtual_mta_pools.push_back(VirtualMtaPool{Lower(arg), {}});
  c.index = c.config->virtual_mta_pools.size() - 1;
  *key = Lower(arg);
  if (!IsToken(arg)) return std::string(kExpName);
  return std::nullopt;
}

// One name of a <domain> header: a domain, `*`, `$MACRO`, `*.DOMAIN` or `[*.]DOMAIN`.
std::optional<std::string> CheckDomainName(ParseContext& c, std::string& name) {
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  if (name == "*") return std::nullopt;
  if (name.size() > 1 && name[0] == '$' && IsToken(name)) {
    c.references.push_back({Reference::kMacro, name.substr(1), c.line, "domain"});
    return std::nullopt;
  }
  const std::size_t wildcard = name.rfind("[*.]", 0) == 0 ? 4 : name.rfind("*.", 0) == 0 ? 2 : 0;
  const std::string_view host = std::string_view(name).substr(wildcard);
  if (!host.empty() && host.find('*') == std::string_view::npos && IsHostName(host)) {
    return std::nullopt;
  }
  return "'" + Shown(name) +
         "' is not a domain name, *, $macro, *.DOMAIN (its subdomains) or [*.]DOMAIN (it and its "
         "subdomains)";
}

// <domain NAME [NAME...]>: one section for several names applies to each of them. `key` holds
// one line per name, so each is checked for duplicates on its own.
Result OpenDomain(ParseContext& c, const std::string& arg, std::string* key) {
  DomainPolicy& d = c.config->domains.emplace_back();
  c.index = c.config->domains.size() - 1;
  d.line = c.line;
  // Nested: the owner's name keeps it apart from a global section for the same domain.
  std::string owner;
  if (c.parent == Scope::kVirtualMta) {
    d.virtual_mta = c.config->virtual_mtas[c.parent_index].name;
    owner = "in virtual-mta " + d.virtual_mta + " ";
  } else if (c.parent == Scope::kVirtualMtaPool) {
    d.virtual_mta_pool = c.config->virtual_mta_pools[c.parent_index].name;
    owner = "in virtual-mta-pool " + d.virtual_mta_pool + " ";
  }
  Result error;
  key->clear();
  for (std::string name : SplitWords(Lower(arg))) {
    if (auto err = CheckDomainName(c, name); err && !error) error = err;
    if (std::find(d.names.begin(), d.names.end(), name) != d.names.end()) {
      if (!error) error = "'" + Shown(name) + "' is named twice";
      continue;
    }
    d.names.push_back(name);
    d.match += (d.match.empty() ? "" : " ") + name;
    *key += (key->empty() ? "" : "\n") + owner + name;
  }
  if (d.names.empty()) return std::string("expected a domain name, * or $macro");
  return error;
}

Result OpenSmtpPatternList(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->smtp_pattern_lists.push_back(SmtpPatternList{Lower(arg), {}});
  c.index = c.config->smtp_pattern_lists.size() - 1;
  *key = Lower(arg);
  if (!IsToken(arg)) return std::string(kExpName);
  return std::nullopt;
}

Result OpenBounceCategoryPatterns(ParseContext&, const std::string& arg, std::string* key) {
  key->clear();
  if (!arg.empty()) return std::string("expected no argument");
  return std::nullopt;
}

Result OpenAcctFile(ParseContext& c, const std::string& arg, std::string* key) {
  AcctFile f;
  const bool pipe = !arg.empty() && arg.front() == '|';
  if (pipe) {
    f.pipe_program = c.ResolvePath(arg.substr(1));
  } else {
    f.path = c.ResolvePath(arg);
  }
  f.line = c.line;
  c.config->acct_files.push_back(f);
  c.index = c.config->acct_files.size() - 1;
  *key = pipe ? "|" + f.pipe_program : f.path;
  if (pipe) {
    if (arg.size() > 1 && IsToken(arg.substr(1))) return std::nullopt;
    return std::string("expected |PROGRAM: a program path without spaces after the |");
  }
  if (!IsToken(arg)) return std::string("expected a file path without spaces");
  return std::nullopt;
}

Result SetWebhookUrl(ParseContext& c, const std::string& v) {
  const std::size_t scheme = v.rfind("http://", 0) == 0 ? 7 : v.rfind("https://", 0) == 0 ? 8 : 0;
  if (scheme == 0 || v.size() <= scheme || !IsToken(v)) {
    return std::string(
        "expected an http:// or https:// URL like https://collector.example.net/acct");
  }
  Target<AcctFile>(c).webhook_url = v;
  return std::nullopt;
}

constexpr char kLogLevels[] = "debug|info|warning|error";
constexpr char kDkimAlgorithms[] = "rsa-sha256|ed25519-sha256";
constexpr char kCanons[] = "relaxed|simple";

using I = Implementation;

// ---- The tables. ----

const std::vector<DirectiveSpec> kGlobal = {
    {"smtp-listener", "smtp-listener ADDR:PORT [tls=yes|no]", "none (at least one is required)",
     "Accept SMTP on this address and port. Repeat for several. `0/0:25` means every address "
     "(0.0.0.0); IPv6 is written `[::1]:25`; port 0 asks the kernel for a free port (tests). "
     "`tls=yes` makes it an implicit-TLS (SMTPS) listener, usually port 465: the TLS handshake "
     "comes first and the whole session is inside it (RFC 8314); it needs "
     "smtp-server-tls-certificate. `tls=no`, the default, is plain SMTP with STARTTLS offered "
     "when a certificate is configured.",
     I::kDaemon, SetSmtpListener, kExpListen, true},
    {"spool", "spool DIR", "none (required)",
     "Directory of the message spool. Relative paths are relative to the config file.", I::kDaemon,
     SetSpool, kExpPath},
    {"http-mgmt-port", "http-mgmt-port [ADDR:]PORT", "none (management HTTP off)",
     "Serve the management HTTP API and web console here. A bare port listens on every "
     "address (0.0.0.0), as PowerMTA does; `http-access` decides who may use it.",
     I::kManagement, SetHttpMgmtPort, kExpListen},
    {"http-access", "http-access CIDR LEVEL", "127.0.0.1 and ::1 monitor; everyone else none",
     "Grant a level (admin, monitor, submit or none) to clients in CIDR on the management port. "
     "Repeatable; the most specific matching rule wins. Any http-access line replaces the "
     "default.",
     I::kManagement, SetHttpAccess,
     "expected CIDR LEVEL, like 10.0.0.0/8 monitor (levels: admin, monitor, submit, none)", true},
    {"http-api-key-file", "http-api-key-file PATH", "none (HTTP submission refused: 401)",
     "Read API keys for HTTP submission from PATH, one a line (`KEY` or `NAME KEY`, keys of at "
     "least 16 characters; `#` comments). Repeatable. Keys never appear in the config text.",
     I::kDaemon, SetHttpApiKeyFile, kExpPath, true},
    {"http-submit-max-size", "http-submit-max-size SIZE", "0 (max-message-size)",
     "Largest message (`content`) accepted by HTTP submission; larger answers 413.", I::kDaemon,
     SetSize<&Config::http_submit_max_size>, kExpSize},
    {"http-submit-rate", "http-submit-rate RATE", "unlimited",
     "Most HTTP submissions per API key per time unit (like 100/s); beyond it: 429.", I::kDaemon,
     SetRate<&Config::http_submit_rate>, kExpRate},
    {"alert-action-token-file", "alert-action-token-file PATH", "none (POST /api/alerts off)",
     "File holding the bearer token Alertmanager must send to POST /api/alerts (alert-driven "
     "actions); read at each request, so it can be rotated without a reload.",
     I::kDaemon, SetPath<&Config::alert_action_token_file>, kExpPath},
    {"domain-key", "domain-key SELECTOR,DOMAIN,KEYFILE", "none",
     "A DKIM private key (PEM) for DOMAIN under SELECTOR; DOMAIN `*` signs mail of any From: "
     "domain that has no key of its own. The file must exist and be readable when the config is "
     "loaded; its contents are never logged.",
     I::kDaemon, SetDomainKey,
     "expected SELECTOR,DOMAIN,KEYFILE like s1,example.com,/etc/outpost/dkim/s1.pem (DOMAIN may "
     "be *)",
     true},
    {"domain-macro", "domain-macro NAME DOMAIN,DOMAIN,...", "none",
     "Name a set of domains; `<domain $NAME>` then applies to each of them.", I::kDaemon,
     SetDomainMacro, "expected NAME DOMAIN,DOMAIN,... like hotmail hotmail.com,live.com", true},
    {"host-name", "host-name NAME", "the system host name (gethostname())",
     "The name outpostd gives in its SMTP greeting and Received: headers.", I::kDaemon,
     SetHostName<&Config::host_name>, "expected a host name like mta.example.com"},
    {"log-file", "log-file PATH", "none (log to standard error)",
     "Append the operational log to this file (reopened on SIGUSR1 and when rotated).", I::kDaemon,
     SetPath<&Config::log_file>, kExpPath},
    {"log-level", "log-level debug|info|warning|error", "info",
     "The least severe level written to the log.", I::kDaemon,
     SetChoice<&Config::log_level, kLogLevels>, "expected debug, info, warning or error"},
    {"postmaster", "postmaster ADDRESS", "MAILER-DAEMON@ the host-name",
     "The address outpostd's delivery status notifications (bounces) come from, and the one "
     "their text gives for help; their envelope sender stays empty (<>).",
     I::kDaemon, SetPostmaster, "expected an address like postmaster@example.com"},
    {"run-as-root", "run-as-root BOOL", "no",
     "Started as root, outpostd binds its ports and opens its spool, log and accounting files, "
     "then switches to the unprivileged user `outpost` (`nobody` where there is none); `yes` "
     "keeps root.",
     I::kDaemon, SetBool<&Config::run_as_root>, kExpBool},
    {"dns-server", "dns-server ADDR[:PORT]", "none (the system resolver's servers)",
     "Ask this DNS server for MX and address records (tests point it at a local server).",
     I::kDaemon, SetDnsServer, "expected ADDR[:PORT] like 127.0.0.1:53 or [::1]:5353"},
    {"dns-cache-size", "dns-cache-size N", "100000", "Most DNS answers kept in the resolver cache.",
     I::kDaemon, SetInt<&Config::dns_cache_size, 0, std::numeric_limits<long long>::max()>,
     kExpInt},
    {"dns-cache-ttl", "dns-cache-ttl DURATION", "1h",
     "Longest time a cached DNS answer is used, whatever its TTL.", I::kDaemon,
     SetDuration<&Config::dns_cache_ttl>, kExpDuration},
    {"max-smtp-in", "max-smtp-in N", "1000",
     "Most simultaneous inbound SMTP connections (all clients together); more are refused "
     "with 421.",
     I::kDaemon, SetInt<&Config::max_smtp_in, 1, 1000000>, kExpInt},
    {"total-max-smtp-in", "total-max-smtp-in N", "1000",
     "PowerMTA's name for the cap on all inbound SMTP connections together: the same setting as "
     "max-smtp-in (give one or the other).",
     I::kDaemon, SetInt<&Config::max_smtp_in, 1, 1000000>, kExpInt, false, "max-smtp-in"},
    {"total-max-smtp-out", "total-max-smtp-out N", "0 (no limit)",
     "Most simultaneous outbound connections of outpostd, all virtual MTAs and destinations "
     "together. A queue that would exceed it waits for a connection to close.",
     I::kDaemon, SetInt<&Config::total_max_smtp_out, 0, 1000000>, kExpInt},
    {"max-smtp-in-per-ip", "max-smtp-in-per-ip N", "100",
     "Most simultaneous inbound SMTP connections from one client address.", I::kDaemon,
     SetInt<&Config::max_smtp_in_per_ip, 1, 1000000>, kExpInt},
    {"max-message-size", "max-message-size SIZE|unlimited", "50M",
     "Largest message accepted (advertised in EHLO SIZE); a <source> may set its own. "
     "`unlimited` sets no limit (EHLO then says `SIZE 0`); the spool's free space still applies.",
     I::kDaemon, SetSizeOrUnlimited<&Config::max_message_size>,
     "expected a size like 512, 100K, 50M, 1G (powers of 1024) or unlimited"},
    {"max-rcpt-per-message", "max-rcpt-per-message N", "1000",
     "Most recipients in one inbound message; further RCPTs get 452 4.5.3.", I::kDaemon,
     SetInt<&Config::max_rcpt_per_message, 1, 1000000>, kExpInt},
    {"smtp-server-tls-certificate", "smtp-server-tls-certificate PATH",
     "none (STARTTLS not offered)",
     "PEM certificate (chain) for inbound STARTTLS. Without it STARTTLS is not offered.",
     I::kDaemon, SetPath<&Config::smtp_server_tls_certificate>, kExpPath},
    {"smtp-server-tls-private-key", "smtp-server-tls-private-key PATH", "the certificate file",
     "PEM private key for inbound STARTTLS, when it is not in the certificate file. Needs "
     "smtp-server-tls-certificate.",
     I::kDaemon, SetPath<&Config::smtp_server_tls_private_key>, kExpPath},
    {"smtp-in-command-timeout", "smtp-in-command-timeout DURATION", "5m",
     "How long outpostd waits for the next SMTP command before closing with 421.", I::kDaemon,
     SetDuration<&Config::smtp_in_command_timeout, 1>, kExpDuration},
    {"smtp-in-data-timeout", "smtp-in-data-timeout DURATION", "10m",
     "Longest time the whole DATA phase of one message may take.", I::kDaemon,
     SetDuration<&Config::smtp_in_data_timeout, 1>, kExpDuration},
    {"smtp-in-max-errors", "smtp-in-max-errors N", "10",
     "After this many error replies in one session, outpostd answers 421 and closes.", I::kDaemon,
     SetInt<&Config::smtp_in_max_errors, 1, 1000000>, kExpInt},
    {"smtp-in-auth-failure-delay", "smtp-in-auth-failure-delay DURATION", "2s",
     "How long outpostd waits before answering a failed AUTH (535); the session's later input "
     "waits too. With the cap of 3 failures per session it bounds password guessing. 0 disables.",
     I::kDaemon, SetDuration<&Config::smtp_in_auth_failure_delay>, kExpDuration},
    {"max-auth-failures-per-ip", "max-auth-failures-per-ip N", "10",
     "After this many failed AUTHs from one client address within auth-failure-window (across "
     "sessions), further AUTH from it gets 454 4.7.0 until the window has passed. 0 disables.",
     I::kDaemon, SetInt<&Config::max_auth_failures_per_ip, 0, 1000000>, kExpInt},
    {"auth-failure-window", "auth-failure-window DURATION", "10m",
     "The window over which max-auth-failures-per-ip counts failed AUTHs, and how long an address "
     "that reached the cap is refused AUTH.",
     I::kDaemon, SetDuration<&Config::auth_failure_window, 1>, kExpDuration},
    {"spool-min-free", "spool-min-free SIZE", "64M",
     "When the spool's file system has less free space, new mail gets 452 4.3.1.", I::kDaemon,
     SetSize<&Config::spool_min_free>, kExpSize},
    {"spool-segment-size", "spool-segment-size SIZE", "64M",
     "Start a new spool segment file once the one being written is past this size (at least "
     "64K).",
     I::kDaemon, SetSizeAtLeast<&Config::spool_segment_size, 64 << 10>, kExpSize},
    {"spool-compaction-threshold", "spool-compaction-threshold PERCENT", "50%",
     "A spool segment other than the one being written whose live entries fill less than this "
     "share of it has them copied forward and is deleted. At most 90%; 0 turns compaction off.",
     I::kDaemon, SetCompactionThreshold, kExpShare},
    {"spool-compaction-rate", "spool-compaction-rate SIZE", "16M",
     "Most bytes per second that compaction copies; 0 means no limit.", I::kDaemon,
     SetSize<&Config::spool_compaction_rate>, kExpSize},
    {"spool-compaction-min-age", "spool-compaction-min-age DURATION", "30s",
     "A segment is compacted only once it has not been the one being written for this long; "
     "segments found at start-up count as old. 0 compacts at once.",
     I::kDaemon, SetDuration<&Config::spool_compaction_min_age>, kExpDuration},
    {"sync-msg-create", "sync-msg-create BOOL", "yes",
     "Sync each new message to disk before answering 250. `no` skips that sync (faster "
     "injection): mail already answered 250 may be lost if the machine crashes or loses power.",
     I::kDaemon, SetBool<&Config::sync_msg_create>, kExpBool},
    {"smtp-server-tls-allow-tlsv1", "smtp-server-tls-allow-tlsv1 no", "no",
     "The SMTP server never accepts TLS 1.0 (deprecated), so only `no` is accepted.", I::kDaemon,
     SetAllowOldTls, "expected no"},
    {"smtp-server-tls-allow-tlsv1.1", "smtp-server-tls-allow-tlsv1.1 no", "no",
     "The SMTP server never accepts TLS 1.1 (deprecated), so only `no` is accepted.", I::kDaemon,
     SetAllowOldTls, "expected no"},
    {"smtp-server-tls-allow-tlsv1.2", "smtp-server-tls-allow-tlsv1.2 yes", "yes",
     "The SMTP server always accepts TLS 1.2, so only `yes` is accepted.", I::kDaemon, SetAllowTls,
     "expected yes"},
    {"smtp-server-tls-allow-tlsv1.3", "smtp-server-tls-allow-tlsv1.3 yes", "yes",
     "The SMTP server always accepts TLS 1.3, so only `yes` is accepted.", I::kDaemon, SetAllowTls,
     "expected yes"},
    {"http-redirect-to-https", "http-redirect-to-https no", "no",
     "The management port serves plain HTTP only and never redirects to HTTPS, so only `no` is "
     "accepted.",
     I::kDaemon, SetHttpRedirectToHttps, "expected no"},
    {"sync-msg-update", "sync-msg-update no", "no",
     "Outpost records finished recipients without syncing them to disk (after a crash of the "
     "machine one may be delivered again, never lost), so only `no` is accepted.",
     I::kDaemon, SetSyncMsgUpdate, "expected no"},
    {"max-queued-recipients", "max-queued-recipients N", "0 (no limit)",
     "When this many recipients are queued, new mail is refused with a temporary error.",
     I::kDaemon, SetInt<&Config::max_queued_recipients, 0, std::numeric_limits<long long>::max()>,
     kExpInt},
    {"queue-cache-size", "queue-cache-size N", "0 (chosen automatically)",
     "Most queued recipients held in memory; the rest stay on the spool until there is room.",
     I::kDaemon, SetInt<&Config::queue_cache_size, 0, std::numeric_limits<long long>::max()>,
     kExpInt},
    {"queue-stall-warning-after", "queue-stall-warning-after DURATION", "30m",
     "Outpost only. A queue with mail due for delivery that starts and finishes no connection or "
     "transaction for this long, with no reason the scheduler can name (paused, backoff mode, a "
     "retry hold, a connection cap, a rate limit), is logged as stalled and counted. 0 turns the "
     "watchdog off.",
     I::kDaemon, SetDuration<&Config::queue_stall_warning_after>, kExpDuration},
    {"queue-processing-threads", "queue-processing-threads N", "0 (the machine's core count)",
     "Threads that do outpostd's CPU-heavy per-message work (DKIM signing) beside the event loop "
     "that serves every SMTP connection; 0 starts one per core. Read at start (a reload keeps "
     "the running pool).",
     I::kDaemon, SetInt<&Config::queue_processing_threads, 0, 256>, kExpInt},
    {"workers", "workers N", "0 (the machine's core count)",
     "The same setting as queue-processing-threads (give one or the other).", I::kDaemon,
     SetInt<&Config::queue_processing_threads, 0, 256>, kExpInt, false, "queue-processing-threads"},
    {"pickup", "pickup DIR BADDIR", "none",
     "Inject every file dropped into DIR: an RFC 5322 message whose envelope is given by "
     "x-sender and x-receiver header fields (removed before queuing). Files are taken as for "
     "SMTP from 127.0.0.1 (its <source> rules apply); a file is deleted once its message is in "
     "the spool, and an unusable one is moved to BADDIR. Repeatable, one line per directory.",
     I::kDaemon, SetPickup, "expected two directories: pickup DIR BADDIR", true},
    {"relay-domain", "relay-domain DOMAIN | *.DOMAIN | [*.]DOMAIN", "none",
     "Accept mail for DOMAIN (with *., its subdomains; with [*.], both) from any client, also one "
     "not allowed to relay (mail for other domains stays refused with 550 5.7.1). Repeatable. "
     "Mail for DOMAIN that no report processor's <address-list> takes is delivered like other "
     "mail.",
     I::kDaemon, SetRelayDomain,
     "expected a domain name like bounce.example.com, *.example.com or [*.]example.com", true},
    {"suppression-list", "suppression-list BOOL", "no",
     "Outpost-only. Keep a suppression list: recipients who complained (f records) or "
     "hard-bounced (rb and b records of category bad-mailbox, inactive-mailbox, bad-domain) are "
     "added, and RCPT TO for a listed address is refused with 550 5.7.1.",
     I::kDaemon, SetBool<&Config::suppression_list>, kExpBool},
    {"suppression-max-entries", "suppression-max-entries N", "5000000",
     "Outpost-only. Most addresses on the suppression list (at most 8000000); at the bound a new "
     "address is not added (counted), listed ones are still refreshed.",
     I::kDaemon, SetInt<&Config::suppression_max_entries, 1, 8'000'000>, kExpInt},
    {"suppression-complaint-expire", "suppression-complaint-expire DURATION", "0 (never)",
     "Outpost-only. How long a complaint keeps an address on the suppression list; 0 forever.",
     I::kDaemon, SetDuration<&Config::suppression_complaint_expire>, kExpDuration},
    {"suppression-hard-bounce-expire", "suppression-hard-bounce-expire DURATION", "90d",
     "Outpost-only. How long a hard bounce keeps an address on the suppression list; 0 forever.",
     I::kDaemon, SetDuration<&Config::suppression_hard_bounce_expire>, kExpDuration},
    {"suppression-manual-expire", "suppression-manual-expire DURATION", "0 (never)",
     "Outpost-only. How long an address an operator added stays on the suppression list; 0 "
     "forever.",
     I::kDaemon, SetDuration<&Config::suppression_manual_expire>, kExpDuration},
};

const std::vector<DirectiveSpec> kVirtualMta = {
    {"smtp-source-host", "smtp-source-host ADDR HOSTNAME", "none (the system's default address)",
     "Bind outbound connections to local address ADDR and say HOSTNAME in EHLO. Repeatable.",
     I::kDaemon, SetSourceHost, "expected ADDR HOSTNAME like 192.0.2.10 mta1.example.com", true},
    {"max-smtp-out", "max-smtp-out N", "0 (no limit of its own)",
     "Most simultaneous outbound connections of this virtual MTA, to all destinations together "
     "(each destination's own max-smtp-out still applies within it). A connection counts from "
     "its opening until its socket is closed.",
     I::kDaemon, SetInt<&VirtualMta::max_smtp_out, 0, 1000000>, kExpInt},
    {"domain-key", "domain-key SELECTOR,DOMAIN,KEYFILE", "none (the global domain-key ones)",
     "A DKIM private key (PEM) for DOMAIN under SELECTOR (DOMAIN `*`: any From: domain), used "
     "instead of the global domain-key when mail goes through this virtual MTA. Repeatable; the "
     "file must exist and be readable when the config is loaded.",
     I::kDaemon, SetVmtaDomainKey,
     "expected SELECTOR,DOMAIN,KEYFILE like s1,example.com,/etc/outpost/dkim/s1.pem (DOMAIN may "
     "be *)",
     true},
    {"cold-virtual-mta", "cold-virtual-mta NAME", "none",
     "IP warm-up: this (warm) virtual MTA sends part of its mail through the <virtual-mta NAME> "
     "(a new, cold address), up to max-cold-virtual-mta-msg recipients per destination and UTC "
     "day; the rest leaves through this one. See \"Cold virtual MTAs\".",
     I::kDaemon, SetColdVirtualMta, "expected the name of a <virtual-mta>"},
    {"auto-cold-virtual-mta", "auto-cold-virtual-mta ADDR HOSTNAME", "none",
     "Like cold-virtual-mta, with the cold virtual MTA defined here: it is named NAME-cold "
     "(NAME: this one's), binds ADDR, says HOSTNAME in EHLO and otherwise shares this virtual "
     "MTA's settings (max-smtp-out, domain-key, nested <domain> sections).",
     I::kDaemon, SetAutoColdVirtualMta, "expected ADDR HOSTNAME like 192.0.2.30 mta3.example.com"},
};

const std::vector<DirectiveSpec> kVirtualMtaPool = {
    {"virtual-mta", "virtual-mta NAME", "none (at least one)",
     "A member of the pool: the name of a <virtual-mta>. Repeatable.", I::kDaemon, SetPoolMember,
     "expected the name of a <virtual-mta>", true},
};

const std::vector<DirectiveSpec> kDomain = {
    {"max-smtp-out", "max-smtp-out N", "20",
     "Most simultaneous outbound connections to this destination (per virtual MTA).", I::kDaemon,
     SetInt<&DomainPolicy::max_smtp_out, 1, 100000>, kExpInt},
    {"max-connect-rate", "max-connect-rate RATE", "unlimited",
     "Most new connections per time unit.", I::kDaemon, SetRate<&DomainPolicy::max_connect_rate>,
     kExpRate},
    {"max-conn-rate", "max-conn-rate RATE", "unlimited", "Alias of max-connect-rate.", I::kDaemon,
     SetRate<&DomainPolicy::max_connect_rate>, kExpRate, false, "max-connect-rate"},
    {"max-msg-rate", "max-msg-rate RATE", "unlimited",
     "Most delivery attempts (recipients) per time unit.", I::kDaemon,
     SetRate<&DomainPolicy::max_msg_rate>, kExpRate},
    {"max-msg-per-connection", "max-msg-per-connection N", "0 (no limit)",
     "Messages sent over one connection before it is closed.", I::kDaemon,
     SetInt<&DomainPolicy::max_msg_per_connection, 0, 100000000>, kExpInt},
    {"max-rcpt-per-transaction", "max-rcpt-per-transaction N", "1000",
     "Most RCPT TO in one outbound transaction.", I::kDaemon,
     SetInt<&DomainPolicy::max_rcpt_per_transaction, 1, 100000>, kExpInt},
    {"retry-after", "retry-after DURATION[,DURATION...]", "10m",
     "Wait before retrying a deferred recipient; a list gives successive waits, the last one "
     "repeating.",
     I::kDaemon, SetDurationList<&DomainPolicy::retry_after>, kExpDurationList},
    {"bounce-after", "bounce-after DURATION", "4d12h",
     "Longest time a recipient stays queued; then it bounces (message-expired).", I::kDaemon,
     SetDuration<&DomainPolicy::bounce_after, 1>, kExpDuration},
    {"smtp-pattern-list", "smtp-pattern-list NAME", "none",
     "The <smtp-pattern-list> whose reply patterns switch this queue to backoff or normal mode.",
     I::kDaemon, SetPatternListRef, "expected the name of an <smtp-pattern-list>"},
    {"backoff-max-smtp-out", "backoff-max-smtp-out N", "max-smtp-out",
     "max-smtp-out while the queue is in backoff mode.", I::kDaemon,
     SetInt<&DomainPolicy::backoff_max_smtp_out, 1, 100000>, kExpInt},
    {"backoff-max-connect-rate", "backoff-max-connect-rate RATE", "max-connect-rate",
     "max-connect-rate while the queue is in backoff mode.", I::kDaemon,
     SetRate<&DomainPolicy::backoff_max_connect_rate>, kExpRate},
    {"backoff-max-msg-rate", "backoff-max-msg-rate RATE", "max-msg-rate",
     "max-msg-rate while the queue is in backoff mode.", I::kDaemon,
     SetRate<&DomainPolicy::backoff_max_msg_rate>, kExpRate},
    {"backoff-max-msg-per-connection", "backoff-max-msg-per-connection N", "max-msg-per-connection",
     "max-msg-per-connection while the queue is in backoff mode.", I::kDaemon,
     SetInt<&DomainPolicy::backoff_max_msg_per_connection, 0, 100000000>, kExpInt},
    {"backoff-retry-after", "backoff-retry-after DURATION[,DURATION...]", "1h",
     "retry-after while the queue is in backoff mode; a list gives successive waits, the last "
     "one repeating.",
     I::kDaemon, SetDurationList<&DomainPolicy::backoff_retry_after>, kExpDurationList},
    {"backoff-to-normal-after", "backoff-to-normal-after DURATION|never", "never",
     "Return from backoff to normal mode after this long in backoff.", I::kDaemon,
     SetBackoffToNormalAfter, "expected a duration like 30m, 1h or 'never'"},
    {"backoff-to-normal-after-delivery", "backoff-to-normal-after-delivery BOOL", "no",
     "Return from backoff to normal mode after the first successful delivery.", I::kDaemon,
     SetBool<&DomainPolicy::backoff_to_normal_after_delivery>, kExpBool},
    {"source-ip-max-smtp-out", "source-ip-max-smtp-out N", "0 (no per-address limit)",
     "Most simultaneous connections to this destination from one local source address.", I::kDaemon,
     SetInt<&DomainPolicy::source_ip_max_smtp_out, 0, 100000>, kExpInt},
    {"source-ip-max-msg-rate", "source-ip-max-msg-rate RATE", "unlimited",
     "Most delivery attempts per time unit from one local source address.", I::kDaemon,
     SetRate<&DomainPolicy::source_ip_max_msg_rate>, kExpRate},
    {"mx-rollup", "mx-rollup NAME", "none",
     "Share the queue NAME/vmta among the domains using this policy whose MX host set equals "
     "NAME's (e.g. gmail.com, in <domain *>, for every domain whose MX is Google's).",
     I::kDaemon, SetMxRollup, "expected a queue name like gmail.com"},
    {"dkim-sign", "dkim-sign BOOL", "no",
     "Sign mail to this destination with the matching domain-key.", I::kDaemon,
     SetBool<&DomainPolicy::dkim_sign>, kExpBool},
    {"dk-sign", "dk-sign BOOL", "no",
     "Also sign mail to this destination with a DomainKeys (RFC 4870) signature, made with the "
     "same domain-key as DKIM.",
     I::kDaemon, SetBool<&DomainPolicy::dk_sign>, kExpBool},
    {"dkim-algorithm", "dkim-algorithm rsa-sha256|ed25519-sha256", "the key's type",
     "The DKIM signing algorithm; it must match the key's type.", I::kDaemon,
     SetChoice<&DomainPolicy::dkim_algorithm, kDkimAlgorithms>,
     "expected rsa-sha256 or ed25519-sha256"},
    {"dkim-headers-canon", "dkim-headers-canon relaxed|simple", "relaxed",
     "DKIM header canonicalization.", I::kDaemon,
     SetChoice<&DomainPolicy::dkim_headers_canon, kCanons>, "expected relaxed or simple"},
    {"dkim-body-canon", "dkim-body-canon relaxed|simple", "relaxed", "DKIM body canonicalization.",
     I::kDaemon, SetChoice<&DomainPolicy::dkim_body_canon, kCanons>, "expected relaxed or simple"},
    {"dkim-identity", "dkim-identity IDENTITY", "none (no i= tag)",
     "The DKIM i= tag, e.g. @example.com.", I::kDaemon, SetText<&DomainPolicy::dkim_identity>,
     "expected an identity like @example.com"},
    {"route", "route HOST:PORT | route DOMAIN", "none (deliver to the domain's MX hosts)",
     "Send this destination's mail to HOST:PORT instead of its MX hosts (smart host, tests), or "
     "to the MX hosts of another DOMAIN (`route yahoo.com`). HOST is an address, `[ADDR]` or a "
     "host name; IPv6 is written `[::1]:2525`.",
     I::kDaemon, SetRoute,
     "expected HOST:PORT like [127.0.0.1]:2526 or smtp.example.com:25, or a domain name"},
    {"smtp-hosts", "smtp-hosts HOST[,HOST...]", "none (the domain's MX hosts)",
     "Deliver to these hosts, tried in order, instead of the domain's MX hosts. Each is "
     "`[ADDR]`, `[ADDR]:PORT`, `HOST`, `HOST:PORT` or `lookup-mx:DOMAIN` (that domain's MX "
     "hosts); without a port, default-smtp-port.",
     I::kDaemon, SetSmtpHosts,
     "expected hosts like [192.0.2.1]:2525, mx.example.com, lookup-mx:example.net"},
    {"mx-connection-attempts", "mx-connection-attempts N", "0 (every address)",
     "Most MX addresses one connection attempt tries before it counts as failed (a tq record "
     "and the retry interval); 0 tries every address of every MX host.",
     I::kDaemon, SetInt<&DomainPolicy::mx_connection_attempts, 0, 1000>, kExpInt},
    {"ignore-8bitmime", "ignore-8bitmime BOOL", "no",
     "Act as if the receiving server did not offer 8BITMIME: 8-bit messages are converted to "
     "7-bit (quoted-printable) before they are sent, and BODY=8BITMIME is never said.",
     I::kDaemon, SetBool<&DomainPolicy::ignore_8bitmime>, kExpBool},
    {"max-cold-virtual-mta-msg", "max-cold-virtual-mta-msg N/day", "100/day",
     "IP warm-up: most recipients per UTC day that mail to this destination through a warm "
     "virtual MTA (one with cold-virtual-mta or auto-cold-virtual-mta) sends through its cold "
     "virtual MTA instead; the rest goes through the warm one. 0 sends none through the cold one.",
     I::kDaemon, SetMaxColdVirtualMtaMsg, "expected N/day like 500/day (or a bare N)"},
    {"type", "type smtp|discard", "smtp",
     "How this destination's mail is delivered: smtp, or discard (no connection; every "
     "recipient is counted delivered with a d record saying so).",
     I::kDaemon, SetDeliveryType, "expected smtp or discard"},
    {"max-rcpt-per-message", "max-rcpt-per-message N", "1000",
     "PowerMTA's name, in <domain>, for max-rcpt-per-transaction: a message with more "
     "recipients for this destination is sent in several transactions (give one or the other).",
     I::kDaemon, SetInt<&DomainPolicy::max_rcpt_per_transaction, 1, 100000>, kExpInt, false,
     "max-rcpt-per-transaction"},
    {"default-smtp-port", "default-smtp-port PORT", "25", "The port used to connect to MX hosts.",
     I::kDaemon, SetInt<&DomainPolicy::default_smtp_port, 1, 65535>, kExpInt},
    {"use-starttls", "use-starttls BOOL", "yes",
     "Use STARTTLS when the receiving server offers it; after a failed handshake (and "
     "require-starttls no) retry that MX address in plain text and skip STARTTLS there for 1h.",
     I::kDaemon, SetBool<&DomainPolicy::use_starttls>, kExpBool},
    {"require-starttls", "require-starttls BOOL", "no",
     "Only deliver over TLS: a server without STARTTLS is a temporary failure.", I::kDaemon,
     SetBool<&DomainPolicy::require_starttls>, kExpBool},
    {"reuse-ssl-session", "reuse-ssl-session no", "no",
     "Outpost's outbound TLS client makes a full handshake on every connection (no session "
     "resumption), so only `no` is accepted.",
     I::kDaemon, SetReuseSslSession, "expected no"},
    {"connect-timeout", "connect-timeout DURATION", "1m",
     "How long the outbound TCP connect to a receiving MX may take (1s to 1d); then the next MX "
     "address is tried, or the queue defers.",
     I::kDaemon, SetBoundedDuration<&DomainPolicy::connect_timeout, 1, 86400>, kExpDuration},
    {"smtp-greeting-timeout", "smtp-greeting-timeout DURATION", "5m",
     "How long to wait for the receiving server's 220 greeting (1s to 1d).", I::kDaemon,
     SetBoundedDuration<&DomainPolicy::smtp_greeting_timeout, 1, 86400>, kExpDuration},
    {"smtp-command-timeout", "smtp-command-timeout DURATION", "5m",
     "How long each outbound command (EHLO, MAIL, RCPT, DATA, RSET, QUIT, STARTTLS and the TLS "
     "handshake) may take to be sent and answered (1s to 1d).",
     I::kDaemon, SetBoundedDuration<&DomainPolicy::smtp_command_timeout, 1, 86400>, kExpDuration},
    {"data-send-timeout", "data-send-timeout DURATION", "3m",
     "How long each write of the message body (64 KiB at a time) may take while the receiver "
     "reads it (1s to 1d); a stalled receiver ends the connection and the message is retried.",
     I::kDaemon, SetBoundedDuration<&DomainPolicy::data_send_timeout, 1, 86400>, kExpDuration},
    {"smtp-data-termination-timeout", "smtp-data-termination-timeout DURATION", "10m",
     "How long to wait for the reply to the final dot of the message (1s to 1d); without it the "
     "message is deferred (t record) and retried.",
     I::kDaemon, SetBoundedDuration<&DomainPolicy::smtp_data_termination_timeout, 1, 86400>,
     kExpDuration},
    {"queue-priority", "queue-priority N", "50",
     "Relative priority (0 to 100) of this destination's queues when the active set "
     "(recipients being attempted at once) is full: its freed room goes to the waiting queues "
     "in proportion to priority + 1, so 0 is served less, never starved.",
     I::kDaemon, SetInt<&DomainPolicy::queue_priority, 0, 100>, kExpInt},
    {"max-errors-per-connection", "max-errors-per-connection N|unlimited", "unlimited",
     "Close a connection once this many recipients were refused on it (4xx or 5xx to RCPT, or "
     "the message refused for them); the rest are sent on a new connection.",
     I::kDaemon, SetMaxErrorsPerConnection, "expected a whole number or 'unlimited'"},
    {"deliver-local-dsn", "deliver-local-dsn BOOL", "yes",
     "Send the delivery status notifications (bounces) outpostd makes when they are addressed to "
     "this domain, i.e. for mail whose envelope sender is in it. With no, none is made: the "
     "recipients are still bounced and recorded (b records) as usual.",
     I::kDaemon, SetBool<&DomainPolicy::deliver_local_dsn>, kExpBool},
    {"bounce-upon-no-mx", "bounce-upon-no-mx BOOL", "no",
     "Bounce (bad-domain) the recipients of a domain that has no MX record, instead of "
     "delivering to its address record (or retrying when it has none).",
     I::kDaemon, SetBool<&DomainPolicy::bounce_upon_no_mx>, kExpBool},
    {"bounce-upon-5xx-greeting", "bounce-upon-5xx-greeting BOOL", "yes",
     "A 5xx greeting (or 5xx to EHLO and HELO) bounces the domain's queued recipients. With no, "
     "it is a temporary failure: the next MX is tried and the queue retries.",
     I::kDaemon, SetBool<&DomainPolicy::bounce_upon_5xx_greeting>, kExpBool},
    {"smtp-421-means-mx-unavailable", "smtp-421-means-mx-unavailable BOOL", "no",
     "A 421 reply during a transaction closes the connection and its recipients are retried at "
     "once on a connection to the next MX host (the one that said 421 is tried last for a "
     "retry interval).",
     I::kDaemon, SetBool<&DomainPolicy::smtp_421_means_mx_unavailable>, kExpBool},
    {"smtp-553-means-invalid-mailbox", "smtp-553-means-invalid-mailbox BOOL", "yes",
     "A 553 reply to RCPT without an enhanced status code counts as 5.1.1: bounceCat "
     "bad-mailbox.",
     I::kDaemon, SetBool<&DomainPolicy::smtp_553_means_invalid_mailbox>, kExpBool},
    {"bounce-upon-transfer-failure", "bounce-upon-transfer-failure BOOL", "no",
     "When the connection breaks while the message body is being sent (after 354), bounce the "
     "message's recipients at once instead of retrying (no duplicate or partial copies).",
     I::kDaemon, SetBool<&DomainPolicy::bounce_upon_transfer_failure>, kExpBool},
    {"assume-delivery-upon-data-termination-timeout",
     "assume-delivery-upon-data-termination-timeout BOOL", "no",
     "When the reply to the final dot does not come within smtp-data-termination-timeout, count "
     "the recipients delivered (d record) instead of retrying (no duplicates).",
     I::kDaemon, SetBool<&DomainPolicy::assume_delivery_upon_data_termination_timeout>, kExpBool},
};

const std::vector<DirectiveSpec> kSmtpPatternList = {
    {"reply", "reply /REGEX/[i] mode=backoff|normal", "none",
     "When a receiving server's reply matches REGEX (ECMAScript; `i` ignores case), switch the "
     "queue to backoff (or back to normal) mode. Repeatable; a `#` inside the /REGEX/ is not a "
     "comment.",
     I::kDaemon, SetReply, "expected /REGEX/ mode=backoff or /REGEX/i mode=normal", true},
};

const std::vector<DirectiveSpec> kBounceCategoryPatterns = {
    {"/regex/", "/REGEX/[i] CATEGORY", "none (only the built-in rules)",
     "A bounce whose diagnostic matches REGEX gets CATEGORY: one of PowerMTA's bounce "
     "categories or a name of your own, written in the accounting bounceCat column. Tried in "
     "order, before the built-in rules. A line is just the pattern and the category, without a "
     "directive name.",
     I::kDaemon, SetBouncePattern, "expected /REGEX/ CATEGORY like /mailbox full/i quota-issues",
     true},
};

const std::vector<DirectiveSpec> kAcctFile = {
    {"records", "records TYPE,TYPE,... | all", "all types",
     "The record types written to this file: d, b, t, tq, r, f, rb, or all of them (`all`). "
     "Several lines add up.",
     I::kDaemon, SetRecords,
     "expected a comma-separated list of record types from d, b, t, tq, r, f, rb, or all", true},
    {"record-fields", "record-fields TYPE FIELD,FIELD,...|*", "every column of the default header",
     "The columns records of TYPE fill in this file, by their header names (`*`: all of them). The "
     "file's header holds the union of the columns its record types fill, in the order given.",
     I::kDaemon, SetRecordFields, "expected a record type and a field list, like d rcpt,jobId",
     true},
    {"move-interval", "move-interval DURATION", "none (no rotation by time)",
     "Rotate the file this often (the old one is moved aside with a time stamp in its name).",
     I::kDaemon, SetDuration<&AcctFile::move_interval, 1>, kExpDuration},
    {"max-size", "max-size SIZE", "none (no rotation by size)",
     "Rotate the file when it grows past this size.", I::kDaemon,
     SetSize<&AcctFile::max_size, true>, kExpSize},
    {"delete-after", "delete-after DURATION|never", "never (rotated files are kept)",
     "Delete rotated files older than this; `never` keeps them.", I::kDaemon, SetDeleteAfter,
     "expected a duration like 8d or 'never'"},
    {"move-to", "move-to DIR", "the file's own directory",
     "Directory that rotated files are moved into.", I::kDaemon, SetPath<&AcctFile::move_to>,
     kExpPath},
    {"webhook-url", "webhook-url URL", "none (no webhook)",
     "POST this file's records, as JSON arrays of objects keyed by the header's field names, to "
     "URL (http:// or https://, the server's certificate verified). Batched, retried until a "
     "2xx, at least once; the position is kept in the spool (docs/config.md, \"The accounting "
     "webhook\").",
     I::kDaemon, SetWebhookUrl, "expected an http:// or https:// URL"},
    {"webhook-ca-file", "webhook-ca-file PATH", "the system's CA certificates",
     "The CA certificates (PEM) an https:// webhook-url's server certificate must chain to, "
     "instead of the system's.",
     I::kDaemon, SetPath<&AcctFile::webhook_ca_file>, kExpPath},
    {"webhook-batch-interval", "webhook-batch-interval DURATION", "1s",
     "Send a batch once its oldest record has waited this long.", I::kDaemon,
     SetBoundedDuration<&AcctFile::webhook_batch_interval, 0, 3600>, kExpDuration},
    {"webhook-batch-size", "webhook-batch-size SIZE", "1M",
     "Send a batch as soon as it holds this many bytes of CSV records (a record is never split).",
     I::kDaemon, SetSize<&AcctFile::webhook_batch_size, true>, kExpSize},
    {"webhook-max-backoff", "webhook-max-backoff DURATION", "1m",
     "The longest wait between retries of a failed POST (the wait starts at 1s and doubles).",
     I::kDaemon, SetBoundedDuration<&AcctFile::webhook_max_backoff, 1, 86400>, kExpDuration},
    {"webhook-timeout", "webhook-timeout DURATION", "30s",
     "Connect and read timeout of one POST; a timeout counts as a failure and is retried.",
     I::kDaemon, SetBoundedDuration<&AcctFile::webhook_timeout, 1, 3600>, kExpDuration},
};

const std::vector<ScopeSpec> kScopes = {
    {Scope::kGlobal, "", "", "Global directives", "Directives outside any section.", nullptr,
     &kGlobal},
    {Scope::kSource, "source", "ADDR/CIDR | {NAME}", "<source>",
     "Rules for injecting clients, by address or CIDR (`0/0` = everyone), or named (`{auth}`) "
     "for authenticated users. Rules of all matching address sources merge, the most specific "
     "winning per directive.",
     OpenSource, &SourceDirectives()},
    {Scope::kSmtpUser, "smtp-user", "NAME", "<smtp-user>",
     "An AUTH identity (PLAIN or LOGIN over TLS) and the named source whose rules apply after "
     "AUTH.",
     OpenSmtpUser, &SmtpUserDirectives()},
    {Scope::kVirtualMta, "virtual-mta", "NAME", "<virtual-mta>",
     "A sending identity: local source address(es) and EHLO name(s), its own connection total "
     "and DKIM keys, and <domain> sections nested in it (destination policy for its mail only).",
     OpenVirtualMta, &kVirtualMta},
    {Scope::kVirtualMtaPool, "virtual-mta-pool", "NAME", "<virtual-mta-pool>",
     "A set of virtual MTAs used in turn; selectable wherever a virtual MTA is. <domain> "
     "sections nested in it apply to mail through its members.",
     OpenVirtualMtaPool, &kVirtualMtaPool},
    {Scope::kDomain, "domain", "NAME [NAME...]", "<domain>",
     "Delivery policy for destination domains. Each NAME is a domain, `$MACRO` (every domain of "
     "the macro), `*.DOMAIN` (every subdomain of DOMAIN), `[*.]DOMAIN` (DOMAIN and its "
     "subdomains) or `*` (the defaults); a section with several names applies to each of them.",
     OpenDomain, &kDomain},
    {Scope::kSmtpPatternList, "smtp-pattern-list", "NAME", "<smtp-pattern-list>",
     "Named list of reply patterns that change a queue's mode.", OpenSmtpPatternList,
     &kSmtpPatternList},
    {Scope::kBounceCategoryPatterns, "bounce-category-patterns", "", "<bounce-category-patterns>",
     "Site-specific bounce classification rules.", OpenBounceCategoryPatterns,
     &kBounceCategoryPatterns},
    {Scope::kPatternList, "pattern-list", "NAME", "<pattern-list>",
     "Named list of routing rules: the virtual MTA a source's mail goes through, chosen by its "
     "sender, its recipient or a header. A <source> uses it with `pattern-list NAME`.",
     OpenPatternList, &PatternListDirectives()},
    {Scope::kAcctFile, "acct-file", "PATH | |PROGRAM", "<acct-file>",
     "An accounting CSV file, its record types and its rotation; or, written `|PROGRAM`, a "
     "program fed the same CSV stream on its standard input (restarted when it exits).",
     OpenAcctFile, &kAcctFile},
    {Scope::kSpool, "spool", "PATH", "<spool>",
     "The section form of `spool PATH`, as PowerMTA's sample configuration writes it. Outpost "
     "has one spool directory: `spool` and `<spool>` together, or two `<spool>` sections, are "
     "an error.",
     OpenSpool, &SpoolDirectives()},
    {Scope::kBounceProcessor, "bounce-processor", "", "<bounce-processor>",
     "Mail to its <address-list> is read as a bounce report (RFC 3464 or a plain-text bounce) "
     "and recorded as an `rb` accounting record instead of being delivered.",
     OpenBounceProcessor, &ProcessorDirectives()},
    {Scope::kFeedbackLoopProcessor, "feedback-loop-processor", "", "<feedback-loop-processor>",
     "Mail to its <address-list> is read as a feedback-loop complaint (RFC 5965 ARF) and "
     "recorded as an `f` accounting record instead of being delivered.",
     OpenFeedbackLoopProcessor, &ProcessorDirectives()},
    {Scope::kAddressList,
     "address-list",
     "",
     "<address-list>",
     "Inside <bounce-processor> or <feedback-loop-processor>: the recipients whose mail that "
     "processor reads.",
     OpenAddressList,
     &AddressListDirectives(),
     {Scope::kBounceProcessor, Scope::kFeedbackLoopProcessor}},
    {Scope::kAlertAction, "alert-action", "NAME", "<alert-action>",
     "An alert-driven action: when Alertmanager reports a firing alert whose labels match, "
     "outpostd pauses, puts in backoff or reroutes what the action names, and undoes it when "
     "the alert resolves or after `for`.",
     OpenAlertAction, &AlertActionDirectives()},
};

}  // namespace

const char* ImplementationText(Implementation impl) {
  switch (impl) {
    case Implementation::kDaemon:
      return "outpostd";
    case Implementation::kDelivery:
      return "config only (later issue): parsed and checked now; acted on by the delivery "
             "engine (not yet)";
    case Implementation::kManagement:
      return "config only (later issue): parsed and checked now; acted on by the management "
             "plane (not yet)";
    case Implementation::kDkim:
      return "config only (later issue): parsed and checked now; acted on by the DKIM signer "
             "(not yet)";
  }
  return "";
}

const std::vector<ScopeSpec>& Scopes() { return kScopes; }

const ScopeSpec& ScopeFor(Scope scope) {
  for (const ScopeSpec& s : kScopes) {
    if (s.scope == scope) return s;
  }
  return kScopes.front();
}

const ScopeSpec* FindSection(const std::string& lower_tag) {
  for (const ScopeSpec& s : kScopes) {
    if (s.scope != Scope::kGlobal && lower_tag == s.tag) return &s;
  }
  return nullptr;
}

const DirectiveSpec* FindDirective(const ScopeSpec& scope, const std::string& lower_name) {
  for (const DirectiveSpec& d : *scope.directives) {
    if (lower_name == d.name) return &d;
  }
  return nullptr;
}

bool SplitRegex(std::string_view text, std::string* regex, bool* icase, std::size_t* end,
                bool allow_empty) {
  if (text.empty() || text[0] != '/') return false;
  std::size_t i = 1;
  for (; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;  // an escaped character, '/' included, belongs to the regex
      continue;
    }
    if (text[i] == '/') break;
  }
  if (i >= text.size()) return false;
  *regex = std::string(text.substr(1, i - 1));
  if (regex->empty() && !allow_empty) return false;
  ++i;
  *icase = false;
  if (i < text.size() && text[i] == 'i') {
    *icase = true;
    ++i;
  }
  if (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) return false;
  *end = i;
  return true;
}

std::optional<std::string> CheckRegex(const std::string& regex, bool icase) {
  // Start-up only: std::regex reports errors by exception, which stays inside this function.
  try {
    auto flags = std::regex::ECMAScript;
    if (icase) flags |= std::regex::icase;
    std::regex compiled(regex, flags);
  } catch (const std::regex_error& e) {
    return "invalid regular expression /" + regex + "/: " + e.what();
  }
  return std::nullopt;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace outpost::config
