// The <source>, <smtp-user>, <pattern-list> and <spool> parts of the directive tables: injection
// policy per client, AUTH identities, routing rules, and the section form of the spool directory.
//
// Thread-safety: immutable tables built at first use.
#include <limits>

#include "mta/config/internal.hpp"
#include "mta/config/setters.hpp"

namespace outpost::config::detail {

namespace {

Result SetDefaultVirtualMta(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  c.config->sources[c.index].default_virtual_mta = Lower(v);
  c.references.push_back({Reference::kVmtaOrPool, Lower(v), c.line, "default-virtual-mta"});
  return std::nullopt;
}

// bare-line-end reject|normalize
Result SetBareLineEnd(ParseContext& c, const std::string& v) {
  const std::string mode = Lower(v);
  if (mode != "reject" && mode != "normalize") return std::string();
  c.config->sources[c.index].normalize_bare_line_ends = mode == "normalize";
  return std::nullopt;
}

Result SetUserSource(ParseContext& c, const std::string& v) {
  if (!IsToken(v) || v.front() != '{' || v.back() != '}' || v.size() < 3) return std::string();
  c.config->smtp_users[c.index].source = Lower(v);
  c.references.push_back({Reference::kNamedSource, Lower(v), c.line, "source"});
  return std::nullopt;
}

// remove-header NAME[,NAME...]: field names are printable ASCII without ':' (RFC 5322 3.6.8).
Result SetRemoveHeader(ParseContext& c, const std::string& v) {
  std::vector<std::string>& names = c.config->sources[c.index].remove_headers;
  for (const std::string& name : SplitList(v)) {
    if (name.empty()) return std::string();
    for (char ch : name) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 33 || u > 126 || ch == ':') return "'" + Shown(name) + "' is not a header field name";
    }
    names.push_back(Lower(name));
  }
  return std::nullopt;
}

// deliver-only no: the spool takes new mail (Outpost's only mode; `yes` is refused).
Result SetDeliverOnly(ParseContext&, const std::string& v) {
  return OnlyNo(v,
                "Outpost has one spool, which always takes new mail: 'deliver-only yes' is not "
                "supported");
}

Result SetSourcePatternList(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  c.config->sources[c.index].pattern_list = Lower(v);
  c.references.push_back({Reference::kRoutePatternList, Lower(v), c.line, "pattern-list"});
  return std::nullopt;
}

// The rest of a <pattern-list> line: `/REGEX/[i] virtual-mta=NAME`.
Result AddRoutePattern(ParseContext& c, RoutePattern p, std::string_view rest) {
  std::size_t end = 0;
  if (!SplitRegex(rest, &p.regex, &p.icase, &end)) return std::string();
  if (auto err = CheckRegex(p.regex, p.icase)) return err;
  const std::string action = Trim(rest.substr(end));
  constexpr std::string_view kAction = "virtual-mta=";
  if (Lower(action).rfind(kAction, 0) != 0 || !IsToken(action.substr(kAction.size()))) {
    return "expected virtual-mta=NAME after the /regex/ (the action Outpost implements), not '" +
           Shown(action) + "'";
  }
  p.virtual_mta = Lower(action.substr(kAction.size()));
  p.line = c.line;
  c.references.push_back({Reference::kVmtaOrPool, p.virtual_mta, c.line, "virtual-mta="});
  c.config->pattern_lists[c.index].patterns.push_back(std::move(p));
  return std::nullopt;
}

Result SetMailFromPattern(ParseContext& c, const std::string& v) {
  RoutePattern p;
  p.subject = RoutePattern::Subject::kMailFrom;
  return AddRoutePattern(c, std::move(p), v);
}

Result SetRcptToPattern(ParseContext& c, const std::string& v) {
  RoutePattern p;
  p.subject = RoutePattern::Subject::kRcptTo;
  return AddRoutePattern(c, std::move(p), v);
}

// header NAME /REGEX/[i] virtual-mta=NAME
Result SetHeaderPattern(ParseContext& c, const std::string& v) {
  const std::size_t space = v.find_first_of(" \t");
  if (space == std::string::npos) return std::string();
  RoutePattern p;
  p.subject = RoutePattern::Subject::kHeader;
  p.header = Lower(v.substr(0, space));
  for (char ch : p.header) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 33 || u > 126 || ch == ':') return "'" + Shown(p.header) + "' is not a header name";
  }
  return AddRoutePattern(c, std::move(p), Trim(std::string_view(v).substr(space)));
}

// jobid-header NAME: a header field name (printable ASCII without ':').
Result SetJobIdHeader(ParseContext& c, const std::string& v) {
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 33 || u > 126 || ch == ':') return std::string();
  }
  c.config->sources[c.index].jobid_header = Lower(v);
  return std::nullopt;
}

using I = Implementation;

const std::vector<DirectiveSpec> kSource = {
    {"always-allow-relaying", "always-allow-relaying BOOL", "no",
     "Accept mail from these clients for any recipient domain without authentication.", I::kDaemon,
     SetBool<&SourcePolicy::always_allow_relaying>, kExpBool},
    {"smtp-service", "smtp-service BOOL", "yes",
     "May these clients use SMTP at all; `no` answers 554 at connect.", I::kDaemon,
     SetBool<&SourcePolicy::smtp_service>, kExpBool},
    {"require-auth", "require-auth BOOL", "no",
     "These clients must authenticate (AUTH) before MAIL FROM.", I::kDaemon,
     SetBool<&SourcePolicy::require_auth>, kExpBool},
    {"max-message-size", "max-message-size SIZE|unlimited", "0 (the global max-message-size)",
     "Largest message these clients may send; `unlimited` sets no limit.", I::kDaemon,
     SetSizeOrUnlimited<&SourcePolicy::max_message_size, false>,
     "expected a size like 512, 100K, 50M, 1G (powers of 1024) or unlimited"},
    {"process-x-virtual-mta", "process-x-virtual-mta BOOL", "no",
     "Honour an X-Virtual-MTA header naming the virtual MTA or pool (the header is removed).",
     I::kDaemon, SetBool<&SourcePolicy::process_x_virtual_mta>, kExpBool},
    {"process-x-job", "process-x-job BOOL", "no",
     "Take the job id (accounting `jobId`) from the X-Job header (the header is removed).",
     I::kDaemon, SetBool<&SourcePolicy::process_x_job>, kExpBool},
    {"default-virtual-mta", "default-virtual-mta NAME", "none",
     "The virtual MTA or pool used for these clients' mail when no header chooses one.", I::kDaemon,
     SetDefaultVirtualMta, "expected the name of a <virtual-mta> or <virtual-mta-pool>"},
    {"log-connections", "log-connections BOOL", "no",
     "Log each connection from these clients at info level (otherwise at debug).", I::kDaemon,
     SetBool<&SourcePolicy::log_connections>, kExpBool},
    {"hide-message-source", "hide-message-source BOOL", "no",
     "Leave the client's address out of the Received: header outpostd adds.", I::kDaemon,
     SetBool<&SourcePolicy::hide_message_source>, kExpBool},
    {"bare-line-end", "bare-line-end reject|normalize", "reject",
     "A bare CR or LF in these clients' messages: `reject` refuses the message (550 5.6.11), "
     "`normalize` stores it as CRLF. Either way only CRLF.CRLF ends DATA (no smuggling).",
     I::kDaemon, SetBareLineEnd, "expected reject or normalize"},
    {"log-commands", "log-commands BOOL", "no",
     "Log every SMTP command of these clients with the first line of its reply, at info level. "
     "AUTH keeps only its mechanism; credentials and lines that are not commands are not shown.",
     I::kDaemon, SetBool<&SourcePolicy::log_commands>, kExpBool},
    {"add-received-header", "add-received-header BOOL", "yes",
     "Add a Received: trace header to these clients' messages.", I::kDaemon,
     SetBool<&SourcePolicy::add_received_header>, kExpBool},
    {"remove-received-headers", "remove-received-headers BOOL", "no",
     "Remove the Received: headers these clients' messages arrive with (the one outpostd adds, "
     "if any, is kept).",
     I::kDaemon, SetBool<&SourcePolicy::remove_received_headers>, kExpBool},
    {"add-message-id-header", "add-message-id-header BOOL", "yes",
     "Add `Message-ID: <QUEUEID@HOST-NAME>` to these clients' messages that have none.", I::kDaemon,
     SetBool<&SourcePolicy::add_message_id_header>, kExpBool},
    {"add-date-header", "add-date-header BOOL", "no",
     "Add a Date: header (the time of reception) to these clients' messages that have none.",
     I::kDaemon, SetBool<&SourcePolicy::add_date_header>, kExpBool},
    {"remove-header", "remove-header NAME[,NAME...]", "none",
     "Remove every header field of these names (any case) from these clients' messages. "
     "Repeatable; the lists add up.",
     I::kDaemon, SetRemoveHeader, "expected header field names like X-Mailer,X-Originating-IP",
     true},
    {"jobid-header", "jobid-header NAME", "X-Job",
     "With process-x-job, the header field the job id (accounting `jobId`) is read from. A "
     "field other than X-Job stays in the message.",
     I::kDaemon, SetJobIdHeader, "expected a header field name like X-Mailer-RecptId"},
    {"retain-x-job", "retain-x-job BOOL", "no",
     "Keep the X-Job header in these clients' messages (otherwise it is removed).", I::kDaemon,
     SetBool<&SourcePolicy::retain_x_job>, kExpBool},
    {"retain-x-virtual-mta", "retain-x-virtual-mta BOOL", "no",
     "Keep the X-Virtual-MTA header in these clients' messages (otherwise it is removed).",
     I::kDaemon, SetBool<&SourcePolicy::retain_x_virtual_mta>, kExpBool},
    {"process-x-envid", "process-x-envid BOOL", "no",
     "Take the envelope id (DSN ENVID, accounting `envId`) from an X-EnvID header when MAIL FROM "
     "gave none; the header is removed.",
     I::kDaemon, SetBool<&SourcePolicy::process_x_envid>, kExpBool},
    {"verp-default", "verp-default BOOL", "no",
     "Deliver these clients' messages with VERP: each recipient gets its own transaction whose "
     "envelope sender has the recipient encoded (bounces+ann=example.com@b.example), as MAIL "
     "FROM's XVERP parameter asks for one message.",
     I::kDaemon, SetBool<&SourcePolicy::verp_default>, kExpBool},
    {"log-data", "log-data BOOL", "no",
     "Log the start of each message these clients send (its first lines, bounded), at info "
     "level, after the end of DATA.",
     I::kDaemon, SetBool<&SourcePolicy::log_data>, kExpBool},
    {"allow-starttls", "allow-starttls BOOL", "yes",
     "Offer STARTTLS to these clients (when a certificate is configured); `no` neither offers "
     "nor accepts it.",
     I::kDaemon, SetBool<&SourcePolicy::allow_starttls>, kExpBool},
    {"require-starttls-before-auth", "require-starttls-before-auth BOOL", "no",
     "These clients must use STARTTLS before AUTH, even where allow-unencrypted-plain-auth "
     "allows AUTH in clear.",
     I::kDaemon, SetBool<&SourcePolicy::require_starttls_before_auth>, kExpBool},
    {"allow-unencrypted-plain-auth", "allow-unencrypted-plain-auth BOOL", "no",
     "Offer and accept AUTH PLAIN and LOGIN without TLS (the password then crosses the network "
     "in clear).",
     I::kDaemon, SetBool<&SourcePolicy::allow_unencrypted_plain_auth>, kExpBool},
    {"smtp-max-auth-failure-rate", "smtp-max-auth-failure-rate RATE",
     "the global "
     "max-auth-failures-per-ip per auth-failure-window",
     "At most this many failed AUTHs per period from one of these clients' addresses; past it, "
     "AUTH is refused (454) for one period. `unlimited` lifts the cap.",
     I::kDaemon, SetRate<&SourcePolicy::smtp_max_auth_failure_rate>, kExpRate},
    {"pattern-list", "pattern-list NAME", "none",
     "Route these clients' mail with the rules of <pattern-list NAME> (see there); a message "
     "no rule matches keeps the virtual MTA it would have had.",
     I::kDaemon, SetSourcePatternList, "expected the name of a <pattern-list>"},
};

const std::vector<DirectiveSpec> kPatternList = {
    {"mail-from", "mail-from /REGEX/[i] virtual-mta=NAME", "none",
     "Mail whose envelope sender (MAIL FROM, without angle brackets) contains a match for REGEX "
     "goes through virtual MTA (or pool) NAME. Repeatable; lines are tried in order.",
     I::kDaemon, SetMailFromPattern, "expected /REGEX/ virtual-mta=NAME", true},
    {"rcpt-to", "rcpt-to /REGEX/[i] virtual-mta=NAME", "none",
     "A recipient (RCPT TO) that contains a match for REGEX goes through NAME. Repeatable.",
     I::kDaemon, SetRcptToPattern, "expected /REGEX/ virtual-mta=NAME", true},
    {"header", "header NAME /REGEX/[i] virtual-mta=NAME", "none",
     "Mail whose header field NAME (its first occurrence, unfolded) contains a match for REGEX "
     "goes through the virtual MTA. Repeatable.",
     I::kDaemon, SetHeaderPattern, "expected HEADER-NAME /REGEX/ virtual-mta=NAME", true},
};

const std::vector<DirectiveSpec> kSmtpUser = {
    {"password", "password TEXT", "none (required)",
     "The user's AUTH password, in plain text as in PowerMTA (protect the file).", I::kDaemon,
     SetText<&SmtpUser::password>, "expected a password"},
    {"source", "source {NAME}", "none",
     "The named <source {NAME}> whose rules apply to this user's sessions after AUTH.", I::kDaemon,
     SetUserSource, "expected a source name in braces, like {auth}"},
};

const std::vector<DirectiveSpec> kSpool = {
    {"deliver-only", "deliver-only no", "no",
     "PowerMTA can keep a spool directory only to deliver what is already in it; Outpost's one "
     "spool always takes new mail, so only `no` is accepted.",
     I::kDaemon, SetDeliverOnly, "expected no"},
};

}  // namespace

Result OpenSource(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->sources.emplace_back();
  c.index = c.config->sources.size() - 1;
  SourcePolicy& s = c.config->sources.back();
  if (arg.size() >= 3 && arg.front() == '{' && arg.back() == '}' && IsToken(arg)) {
    s.name = Lower(arg);
    *key = s.name;
    return std::nullopt;
  }
  auto cidr = Cidr::Parse(arg);
  if (!cidr) return std::string("expected an IP address, a CIDR (10.0.0.0/8, 0/0) or {name}");
  s.cidr = *cidr;
  *key = cidr->ToString();
  return std::nullopt;
}

Result OpenSmtpUser(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->smtp_users.push_back(SmtpUser{arg, "", ""});
  c.index = c.config->smtp_users.size() - 1;
  *key = arg;  // user names compare exactly, as AUTH does
  if (!IsToken(arg)) return std::string("expected a user name");
  return std::nullopt;
}

Result OpenPatternList(ParseContext& c, const std::string& arg, std::string* key) {
  c.config->pattern_lists.push_back(PatternList{Lower(arg), {}});
  c.index = c.config->pattern_lists.size() - 1;
  *key = Lower(arg);
  if (!IsToken(arg)) return std::string(kExpName);
  return std::nullopt;
}

// <spool PATH>: the section form of `spool PATH`.
Result OpenSpool(ParseContext& c, const std::string& arg, std::string* key) {
  *key = arg;
  if (!IsToken(arg)) return std::string("expected a directory path without spaces");
  auto [it, inserted] = c.global_lines.emplace("spool", c.line);
  if (!inserted) {
    return "the spool is already set at line " + std::to_string(it->second) +
           "; Outpost uses one spool directory";
  }
  c.config->spool_dir = c.ResolvePath(arg);
  return std::nullopt;
}

const std::vector<DirectiveSpec>& SourceDirectives() { return kSource; }
const std::vector<DirectiveSpec>& SmtpUserDirectives() { return kSmtpUser; }
const std::vector<DirectiveSpec>& SpoolDirectives() { return kSpool; }
const std::vector<DirectiveSpec>& PatternListDirectives() { return kPatternList; }

}  // namespace outpost::config::detail
