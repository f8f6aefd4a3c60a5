#include "tools/isp-sim/sim_config.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/strings.hpp"
#include "tools/isp-sim/ratio_schedule.hpp"

namespace outpost::isp_sim {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  AsciiLowercaseInPlace(out);
  return out;
}

template <typename T>
bool ParseUnsigned(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// One token of a line: a bare word, a quoted string (unescaped), or a block marker.
struct Token {
  enum Kind { kWord, kQuoted, kOpen, kClose } kind = kWord;
  std::string text;  // word / string / domain name of <domain NAME>
};

// Splits one line into tokens; `#` outside quotes starts a comment.
bool Tokenize(std::string_view line, std::vector<Token>* out, std::string* error) {
  std::size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      break;
    } else if (c == '"') {
      std::string text;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\' && i < line.size()) {
          char e = line[i++];
          text.push_back(e == 'n' ? '\n' : e);
        } else {
          text.push_back(d);
        }
      }
      if (!closed) {
        *error = "unterminated quoted string";
        return false;
      }
      out->push_back({Token::kQuoted, std::move(text)});
    } else if (c == '<') {
      std::size_t end = line.find('>', i);
      if (end == std::string_view::npos) {
        *error = "unterminated block marker";
        return false;
      }
      std::string_view inner = line.substr(i + 1, end - i - 1);
      i = end + 1;
      std::istringstream words{std::string(inner)};
      std::string tag, name, extra;
      words >> tag >> name >> extra;
      tag = Lower(tag);
      if (tag == "/domain" && name.empty()) {
        out->push_back({Token::kClose, ""});
      } else if (tag == "domain" && !name.empty() && extra.empty()) {
        out->push_back({Token::kOpen, Lower(name)});
      } else {
        *error = "unknown block <" + std::string(inner) + ">";
        return false;
      }
    } else {
      std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
             line[i] != '"' && line[i] != '<' && line[i] != '#') {
        ++i;
      }
      out->push_back({Token::kWord, std::string(line.substr(start, i - start))});
    }
  }
  return true;
}

bool ParseReplyArg(const std::vector<Token>& args, std::size_t index, int min_code, int max_code,
                   Reply* out, std::string* error) {
  if (index >= args.size()) return true;  // keep the default reply
  auto reply = Reply::Parse(args[index].text, error);
  if (!reply) return false;
  if (reply->code < min_code || reply->code > max_code) {
    *error = "reply code " + std::to_string(reply->code) + " out of range " +
             std::to_string(min_code) + "-" + std::to_string(max_code);
    return false;
  }
  *out = *reply;
  return true;
}

bool ParseRatioArg(const std::vector<Token>& args, std::uint32_t* out, std::string* error) {
  auto ppm = args.empty() ? std::nullopt : RatioSchedule::ParsePpm(args[0].text);
  if (!ppm) {
    *error = "expected a ratio between 0 and 1";
    return false;
  }
  *out = *ppm;
  return true;
}

bool ApplyDomainDirective(const std::string& name, const std::vector<Token>& args, DomainPolicy* d,
                          std::string* error) {
  auto want_args = [&](std::size_t lo, std::size_t hi) {
    if (args.size() < lo || args.size() > hi) {
      *error = name + ": wrong number of arguments";
      return false;
    }
    return true;
  };
  if (name == "accept") return want_args(0, 0);
  if (name == "defer-ratio") {
    return want_args(1, 2) && ParseRatioArg(args, &d->defer_ppm, error) &&
           ParseReplyArg(args, 1, 400, 499, &d->defer_reply, error);
  }
  if (name == "bounce-ratio") {
    return want_args(1, 2) && ParseRatioArg(args, &d->bounce_ppm, error) &&
           ParseReplyArg(args, 1, 500, 599, &d->bounce_reply, error);
  }
  if (name == "drop-mid-data-ratio") {
    return want_args(1, 1) && ParseRatioArg(args, &d->drop_mid_data_ppm, error);
  }
  if (name == "reset-mid-data-ratio") {
    return want_args(1, 1) && ParseRatioArg(args, &d->reset_mid_data_ppm, error);
  }
  if (name == "silent-after-data-ratio") {
    return want_args(1, 1) && ParseRatioArg(args, &d->silent_after_data_ppm, error);
  }
  if (name == "garbage-reply-ratio") {
    return want_args(1, 1) && ParseRatioArg(args, &d->garbage_reply_ppm, error);
  }
  if (name == "reply-delay") {
    if (!want_args(1, 1)) return false;
    auto delay = ParseDuration(args[0].text);
    if (!delay) {
      *error = "reply-delay: expected a duration like 200ms or 2s";
      return false;
    }
    d->reply_delay = *delay;
    return true;
  }
  if (name == "max-conn-per-ip") {
    if (!want_args(1, 2)) return false;
    if (!ParseUnsigned(args[0].text, &d->max_conn_per_ip)) {
      *error = "max-conn-per-ip: expected a number";
      return false;
    }
    return ParseReplyArg(args, 1, 400, 599, &d->max_conn_reply, error);
  }
  *error = "unknown directive in <domain>: " + name;
  return false;
}

bool ApplyGlobalDirective(const std::string& name, const std::vector<Token>& args, SimConfig* c,
                          std::string* error) {
  auto one_arg = [&]() {
    if (args.size() != 1) {
      *error = name + ": expected one argument";
      return false;
    }
    return true;
  };
  if (name == "listen" || name == "stats-listen") {
    if (!one_arg()) return false;
    auto ep = Endpoint::Parse(args[0].text);
    if (!ep) {
      *error = name + ": expected HOST:PORT";
      return false;
    }
    (name == "listen" ? c->listen : c->stats_listen) = *ep;
    return true;
  }
  if (name == "hostname") {
    if (!one_arg()) return false;
    c->hostname = args[0].text;
    return true;
  }
  if (name == "greeting") {
    if (!one_arg()) return false;
    Reply r;
    if (!ParseReplyArg(args, 0, 200, 599, &r, error)) return false;
    c->greeting = r;
    return true;
  }
  if (name == "max-conn-per-ip") {
    if (args.empty() || args.size() > 2 || !ParseUnsigned(args[0].text, &c->max_conn_per_ip)) {
      *error = "max-conn-per-ip: expected a number and an optional reply";
      return false;
    }
    return ParseReplyArg(args, 1, 400, 599, &c->max_conn_reply, error);
  }
  if (name == "max-message-size") {
    if (!one_arg() || !ParseUnsigned(args[0].text, &c->max_message_size)) {
      *error = "max-message-size: expected a number of bytes";
      return false;
    }
    return true;
  }
  if (name == "record-message-ids") {
    if (!one_arg() || !ParseUnsigned(args[0].text, &c->record_message_ids)) {
      *error = "record-message-ids: expected a number";
      return false;
    }
    return true;
  }
  if (name == "split-replies" || name == "starttls-fail") {
    if (!one_arg() || (args[0].text != "yes" && args[0].text != "no")) {
      *error = name + ": expected yes or no";
      return false;
    }
    (name == "split-replies" ? c->split_replies : c->starttls_fail) = args[0].text == "yes";
    return true;
  }
  if (name == "silent-greeting") {
    if (!one_arg() || (args[0].text != "yes" && args[0].text != "no")) {
      *error = name + ": expected yes or no";
      return false;
    }
    c->silent_greeting_ppm = args[0].text == "yes" ? 1'000'000 : 0;
    return true;
  }
  if (name == "silent-greeting-ratio") {
    return one_arg() && ParseRatioArg(args, &c->silent_greeting_ppm, error);
  }
  if (name == "tls-certificate" || name == "tls-key") {
    *error = name + ": STARTTLS is not implemented by outpost-isp-sim";
    return false;
  }
  *error = "unknown directive: " + name;
  return false;
}

}  // namespace

std::optional<Reply> Reply::Parse(std::string_view text, std::string* error) {
  Reply r;
  r.code = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    bool has_code = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                    std::isdigit(static_cast<unsigned char>(line[1])) &&
                    std::isdigit(static_cast<unsigned char>(line[2])) &&
                    (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (r.code == 0) {
      if (!has_code) {
        *error = "a reply must start with a 3-digit code: \"" + std::string(text) + "\"";
        return std::nullopt;
      }
      r.code = std::stoi(std::string(line.substr(0, 3)));
      if (r.code < 200 || r.code > 599) {
        *error = "reply code out of range: " + std::to_string(r.code);
        return std::nullopt;
      }
    }
    if (has_code && std::stoi(std::string(line.substr(0, 3))) == r.code) {
      line.remove_prefix(line.size() > 3 ? 4 : 3);
    }
    r.lines.emplace_back(line);
  }
  return r;
}

std::string Reply::Wire() const {
  std::string out;
  std::string code_text = std::to_string(code);
  if (lines.empty()) return code_text + "\r\n";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += code_text;
    out += (i + 1 == lines.size()) ? ' ' : '-';
    out += lines[i];
    out += "\r\n";
  }
  return out;
}

std::optional<Endpoint> Endpoint::Parse(std::string_view text) {
  Endpoint ep;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    ep.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    ep.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (ep.host.empty() || !ParseUnsigned(port_text, &ep.port)) return std::nullopt;
  return ep;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::uint64_t value = 0;
  if (!ParseUnsigned(text.substr(0, digits), &value)) return std::nullopt;
  std::string_view unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s") return std::chrono::milliseconds(value * 1000);
  if (unit == "m") return std::chrono::milliseconds(value * 60'000);
  if (unit.empty() && value == 0) return std::chrono::milliseconds(0);
  return std::nullopt;
}

std::optional<SimConfig> SimConfig::Parse(std::string_view text, std::string* error) {
  SimConfig config;
  DomainPolicy* current = nullptr;
  int line_no = 0;
  std::size_t pos = 0;
  auto fail = [&](const std::string& message) {
    *error = "line " + std::to_string(line_no) + ": " + message;
    return std::nullopt;
  };
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    std::vector<Token> tokens;
    std::string message;
    if (!Tokenize(line, &tokens, &message)) return fail(message);
    std::size_t i = 0;
    while (i < tokens.size()) {
      const Token& t = tokens[i];
      if (t.kind == Token::kOpen) {
        if (current != nullptr) return fail("nested <domain> block");
        for (const auto& d : config.domains) {
          if (d.name == t.text) return fail("duplicate <domain " + t.text + ">");
        }
        config.domains.emplace_back();
        current = &config.domains.back();
        current->name = t.text;
        ++i;
        continue;
      }
      if (t.kind == Token::kClose) {
        if (current == nullptr) return fail("</domain> without <domain>");
        current = nullptr;
        ++i;
        continue;
      }
      if (t.kind != Token::kWord) return fail("expected a directive, got a quoted string");
      std::string name = Lower(t.text);
      std::vector<Token> args;
      for (++i; i < tokens.size() &&
                (tokens[i].kind == Token::kWord || tokens[i].kind == Token::kQuoted);
           ++i) {
        args.push_back(tokens[i]);
      }
      bool ok = current != nullptr ? ApplyDomainDirective(name, args, current, &message)
                                   : ApplyGlobalDirective(name, args, &config, &message);
      if (!ok) return fail(message);
    }
  }
  if (current != nullptr) {
    *error = "unterminated <domain " + current->name + "> block";
    return std::nullopt;
  }
  return config;
}

std::optional<SimConfig> SimConfig::LoadFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto config = Parse(text.str(), error);
  if (!config) *error = path + ": " + *error;
  return config;
}

int SimConfig::PolicyIndexFor(std::string_view domain) const {
  int star = -1;
  for (std::size_t i = 0; i < domains.size(); ++i) {
    if (domains[i].name == domain) return static_cast<int>(i);
    if (domains[i].name == "*") star = static_cast<int>(i);
  }
  return star;
}

}  // namespace outpost::isp_sim
