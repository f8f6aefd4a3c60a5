#include "mta/smtp/command_parser.hpp"

#include <array>
#include <cctype>
#include <cstring>
#include <limits>

#include "common/cidr.hpp"
#include "common/strings.hpp"
#include "common/verp.hpp"

namespace outpost::smtp {
namespace {

constexpr std::size_t kMaxLineContent = 510;  // 512 with CRLF

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

// RFC 5322 atext.
bool IsAtext(char c) {
  if (IsAlnum(c)) return true;
  return c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

ParseResult Error(int code, std::string_view enhanced, std::string text) {
  ParseResult r;
  r.error = Reply{code, enhanced, std::move(text)};
  return r;
}

ParseResult Ok(Command command) {
  ParseResult r;
  r.command = std::move(command);
  return r;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool CheckDotString(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

// Returns the length of a quoted-string at the start of `s` (including quotes), or 0.
std::size_t QuotedStringLength(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) return 0;
      const auto n = static_cast<unsigned char>(s[i + 1]);
      if (n < 32 || n > 126) return 0;
      ++i;
      continue;
    }
    if (c < 32 || c > 126) return 0;  // qtextSMTP: %d32-33 / %d35-91 / %d93-126
  }
  return 0;
}

bool CheckDomain(std::string_view d) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= d.size(); ++i) {
    if (i == d.size() || d[i] == '.') {
      const std::string_view label = d.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63) return false;
      if (!IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
      for (char c : label) {
        if (!IsAlnum(c) && c != '-') return false;
      }
      label_start = i + 1;
    }
  }
  return true;
}

bool CheckAddressLiteral(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
  std::string_view inner = d.substr(1, d.size() - 2);
  if (IStartsWith(inner, "IPv6:")) {
    inner.remove_prefix(5);
    const auto ip = IpAddress::Parse(inner);
    return ip.has_value() && ip->v6;
  }
  // IPv4 dotted quad only (no General-address-literal).
  for (char c : inner) {
    if (!IsDigit(c) && c != '.') return false;
  }
  const auto ip = IpAddress::Parse(inner);
  return ip.has_value() && !ip->v6;
}

std::optional<std::string> DecodeXtext(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (static_cast<unsigned char>(decoded) < 33 || static_cast<unsigned char>(decoded) > 126) {
        return std::nullopt;  // control characters have no place in logs and acct files
      }
      out.push_back(decoded);
      i += 2;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

struct Keyword {
  std::string_view name;
  Verb verb;
};

constexpr std::array<Keyword, 12> kVerbs{{{"HELO", Verb::kHelo},
                                          {"EHLO", Verb::kEhlo},
                                          {"MAIL", Verb::kMail},
                                          {"RCPT", Verb::kRcpt},
                                          {"DATA", Verb::kData},
                                          {"RSET", Verb::kRset},
                                          {"NOOP", Verb::kNoop},
                                          {"QUIT", Verb::kQuit},
                                          {"HELP", Verb::kHelp},
                                          {"VRFY", Verb::kVrfy},
                                          {"STARTTLS", Verb::kStartTls},
                                          {"AUTH", Verb::kAuth}}};

constexpr std::array<std::string_view, 5> kUnsupported{"EXPN", "BDAT", "TURN", "ETRN", "ATRN"};

ParseResult ParseMailParams(std::string_view params, Command& cmd) {
  bool seen_size = false, seen_body = false, seen_envid = false, seen_auth = false;
  bool seen_xverp = false;
  while (true) {
    while (!params.empty() && params.front() == ' ') params.remove_prefix(1);
    if (params.empty()) break;
    std::size_t end = params.find(' ');
    if (end == std::string_view::npos) end = params.size();
    const std::string_view param = params.substr(0, end);
    params.remove_prefix(end);
    const std::size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (key.empty() || !IsAlnum(key.front())) {
      return Error(501, "5.5.4", "Syntax error in parameters");
    }
    for (char c : key) {
      if (!IsAlnum(c) && c != '-') return Error(501, "5.5.4", "Syntax error in parameters");
    }
    if (IEquals(key, "SIZE")) {
      if (seen_size || value.empty() || value.size() > 20) {
        return Error(501, "5.5.4", "Bad SIZE parameter");
      }
      std::uint64_t n = 0;
      for (char c : value) {
        if (!IsDigit(c)) return Error(501, "5.5.4", "Bad SIZE parameter");
        const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          n = std::numeric_limits<std::uint64_t>::max();
        } else {
          n = n * 10 + digit;
        }
      }
      cmd.size = n;
      seen_size = true;
    } else if (IEquals(key, "BODY")) {
      if (seen_body) return Error(501, "5.5.4", "Duplicate BODY parameter");
      if (IEquals(value, "7BIT")) {
        cmd.body = BodyType::k7Bit;
      } else if (IEquals(value, "8BITMIME")) {
        cmd.body = BodyType::k8BitMime;
      } else {
        return Error(501, "5.5.4", "Bad BODY parameter");
      }
      seen_body = true;
    } else if (IEquals(key, "ENVID")) {
      if (seen_envid || value.empty()) return Error(501, "5.5.4", "Bad ENVID parameter");
      auto decoded = DecodeXtext(value);
      if (!decoded || decoded->size() > kMaxEnvId) {
        return Error(501, "5.5.4", "Bad ENVID parameter");
      }
      cmd.env_id = std::move(*decoded);
      seen_envid = true;
    } else if (IEquals(key, "XVERP")) {
      const std::string_view delimiters = value.empty() ? kDefaultVerpDelimiters : value;
      if (seen_xverp || !ValidVerpDelimiters(delimiters)) {
        return Error(501, "5.5.4", "Bad XVERP parameter");
      }
      cmd.verp_delimiters = std::string(delimiters);
      seen_xverp = true;
    } else if (IEquals(key, "AUTH")) {
      if (seen_auth || value.empty()) return Error(501, "5.5.4", "Bad AUTH parameter");
      if (value != "<>" && !DecodeXtext(value)) return Error(501, "5.5.4", "Bad AUTH parameter");
      seen_auth = true;
    } else {
      return Error(555, "5.5.4", "Unsupported parameter");
    }
  }
  return Ok(cmd);
}

// Parses "FROM:<path> params" / "TO:<path> params" (after the verb and its space).
ParseResult ParsePathCommand(std::string_view rest, Command cmd) {
  const bool is_mail = cmd.verb == Verb::kMail;
  const std::string_view prefix = is_mail ? "FROM:" : "TO:";
  const std::string_view syntax =
      is_mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
  const std::string_view bad_addr_code = is_mail ? "5.1.7" : "5.1.3";
  if (!IStartsWith(rest, prefix)) return Error(501, "5.5.4", std::string(syntax));
  rest.remove_prefix(prefix.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty() || rest.front() != '<') return Error(501, "5.5.4", std::string(syntax));
  // Find the closing bracket, skipping quoted strings (a quoted local part may hold '>').
  std::size_t close = std::string_view::npos;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    if (rest[i] == '"') {
      const std::size_t q = QuotedStringLength(rest.substr(i));
      if (q == 0) return Error(553, bad_addr_code, "Bad address syntax");
      i += q - 1;
      continue;
    }
    if (rest[i] == '>') {
      close = i;
      break;
    }
  }
  if (close == std::string_view::npos) return Error(501, "5.5.4", std::string(syntax));
  if (close + 1 > kMaxPath) return Error(553, bad_addr_code, "Address too long");
  const std::string_view mailbox = rest.substr(1, close - 1);
  std::string_view params = rest.substr(close + 1);
  if (!params.empty() && params.front() != ' ') return Error(501, "5.5.4", std::string(syntax));

  if (mailbox.empty()) {
    if (!is_mail) return Error(501, "5.1.3", "Null recipient not allowed");
    cmd.address.clear();
  } else {
    const MailboxCheck check = CheckMailbox(mailbox);
    if (check.source_route) return Error(553, bad_addr_code, "Source routes are not accepted");
    if (!check.ok)
      return Error(553, bad_addr_code, "Bad address syntax: " + std::string(check.why));
    cmd.address.assign(mailbox);
    cmd.domain_is_literal = check.domain_is_literal;
  }
  if (is_mail) return ParseMailParams(params, cmd);
  params = TrimSpaces(params);
  if (!params.empty()) return Error(555, "5.5.4", "Unsupported parameter");
  return Ok(std::move(cmd));
}

}  // namespace

MailboxCheck CheckMailbox(std::string_view mailbox) {
  MailboxCheck r;
  if (!mailbox.empty() && mailbox.front() == '@') {
    r.source_route = true;
    r.why = "source route";
    return r;
  }
  std::size_t local_len = 0;
  if (!mailbox.empty() && mailbox.front() == '"') {
    local_len = QuotedStringLength(mailbox);
    if (local_len == 0) {
      r.why = "bad quoted local part";
      return r;
    }
  } else {
    local_len = mailbox.find('@');
    if (local_len == std::string_view::npos) {
      r.why = "no domain";
      return r;
    }
    if (!CheckDotString(mailbox.substr(0, local_len))) {
      r.why = "bad local part";
      return r;
    }
  }
  if (local_len > kMaxLocalPart) {
    r.why = "local part too long";
    return r;
  }
  if (local_len >= mailbox.size() || mailbox[local_len] != '@') {
    r.why = "no domain";
    return r;
  }
  const std::string_view domain = mailbox.substr(local_len + 1);
  if (!domain.empty() && domain.front() == '[') {
    if (!CheckAddressLiteral(domain)) {
      r.why = "bad address literal";
      return r;
    }
    r.domain_is_literal = true;
  } else if (!CheckDomain(domain)) {
    r.why = "bad domain";
    return r;
  }
  r.ok = true;
  return r;
}

ParseResult ParseCommand(std::string_view line) {
  if (line.size() > kMaxLineContent) return Error(500, "5.5.2", "Line too long");
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return Error(501, "5.5.2", "Invalid character in command");
    }
  }
  std::size_t verb_end = line.find(' ');
  if (verb_end == std::string_view::npos) verb_end = line.size();
  const std::string_view verb_text = line.substr(0, verb_end);
  const std::string_view rest =
      verb_end < line.size() ? line.substr(verb_end + 1) : std::string_view();
  const bool has_space = verb_end < line.size();

  const Keyword* keyword = nullptr;
  for (const Keyword& k : kVerbs) {
    if (IEquals(verb_text, k.name)) {
      keyword = &k;
      break;
    }
  }
  if (keyword == nullptr) {
    for (std::string_view u : kUnsupported) {
      if (IEquals(verb_text, u)) return Error(502, "5.5.1", "Command not implemented");
    }
    return Error(500, "5.5.1", "Unrecognized command");
  }
  Command cmd;
  cmd.verb = keyword->verb;
  switch (cmd.verb) {
    case Verb::kHelo:
    case Verb::kEhlo: {
      const std::string_view name = TrimSpaces(rest);
      if (name.empty()) return Error(501, "5.5.4", "Syntax: EHLO hostname");
      if (name.size() > kMaxDomain) return Error(501, "5.5.4", "Host name too long");
      for (char c : name) {
        if (c <= ' ' || c > '~') return Error(501, "5.5.4", "Invalid host name");
      }
      cmd.argument.assign(name);
      return Ok(std::move(cmd));
    }
    case Verb::kMail:
    case Verb::kRcpt:
      if (!has_space) {
        return Error(
            501, "5.5.4",
            cmd.verb == Verb::kMail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
      }
      return ParsePathCommand(rest, std::move(cmd));
    case Verb::kData:
    case Verb::kRset:
    case Verb::kQuit:
    case Verb::kStartTls:
      if (!TrimSpaces(rest).empty()) {
        return Error(501, "5.5.4", "Syntax error (no parameters allowed)");
      }
      return Ok(std::move(cmd));
    case Verb::kAuth: {
      const std::string_view arg = TrimSpaces(rest);
      if (arg.empty()) return Error(501, "5.5.4", "Syntax: AUTH mechanism");
      cmd.argument.assign(arg);
      return Ok(std::move(cmd));
    }
    case Verb::kNoop:
    case Verb::kHelp:
    case Verb::kVrfy:
      cmd.argument.assign(TrimSpaces(rest));
      return Ok(std::move(cmd));
  }
  return Error(500, "5.5.1", "Unrecognized command");
}

std::string CommandForLog(std::string_view line) {
  static constexpr std::string_view kVerbs[] = {"HELO", "EHLO",     "MAIL", "RCPT", "DATA",
                                                "RSET", "NOOP",     "QUIT", "VRFY", "EXPN",
                                                "HELP", "STARTTLS", "BDAT", "AUTH"};
  const std::size_t space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  std::string verb(word);
  for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  bool known = false;
  for (std::string_view v : kVerbs) known = known || verb == v;
  if (!known) return "(" + std::to_string(line.size()) + " octets not shown)";
  std::string_view shown = line;
  if (verb == "AUTH") {
    const std::string_view rest = space == std::string_view::npos ? "" : line.substr(space + 1);
    const std::string_view mechanism = rest.substr(0, rest.find(' '));
    std::string out = "AUTH";
    if (!mechanism.empty()) out.append(" ").append(mechanism);
    if (mechanism.size() < rest.size()) out += " (credentials not shown)";
    return out;
  }
  std::string out;
  for (char ch : shown.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : ch);
  }
  if (shown.size() > 200) out += "...";
  return out;
}

}  // namespace outpost::smtp
