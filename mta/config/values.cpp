// Value parsers for the configuration language: durations, duration lists, rates, sizes, shares
// (percentages), booleans and listen addresses. All arithmetic is exact integer arithmetic; any
// overflow makes the value invalid (nullopt) rather than wrapping.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>

#include "common/cidr.hpp"
#include "common/strings.hpp"
#include "mta/config/config.hpp"
#include "mta/config/internal.hpp"

namespace outpost::config {

namespace {

constexpr std::uint64_t kMaxSeconds =
    static_cast<std::uint64_t>(std::numeric_limits<Seconds::rep>::max());

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of decimal digits at `pos` into `out`. False if none or on overflow.
bool ReadNumber(std::string_view text, std::size_t& pos, std::uint64_t& out) {
  std::size_t start = pos;
  std::uint64_t value = 0;
  while (pos < text.size() && IsDigit(text[pos])) {
    if (__builtin_mul_overflow(value, std::uint64_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<std::uint64_t>(text[pos] - '0'), &value)) {
      return false;
    }
    ++pos;
  }
  out = value;
  return pos > start;
}

// Seconds in one duration unit letter, or 0 when `c` is not a unit.
std::uint64_t UnitSeconds(char c) {
  switch (std::tolower(static_cast<unsigned char>(c))) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86400;
    case 'w':
      return 7 * 86400;
    default:
      return 0;
  }
}

}  // namespace

std::string Trim(std::string_view text) {
  std::size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

std::string Lower(std::string_view text) { return AsciiLowercase(text); }

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    out.push_back(Trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (true) {
    i = text.find_first_not_of(" \t", i);
    if (i == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t", i), text.size());
    out.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view text) {
  std::size_t pos = 0;
  std::uint64_t value = 0;
  if (!ReadNumber(text, pos, value) || pos != text.size()) return std::nullopt;
  return value;
}

std::optional<Seconds> ParseDuration(const std::string& raw) {
  std::string text = Trim(raw);
  if (text.empty()) return std::nullopt;
  std::size_t pos = 0;
  std::uint64_t total = 0;
  std::uint64_t last_unit = std::numeric_limits<std::uint64_t>::max();
  while (pos < text.size()) {
    std::uint64_t n = 0;
    if (!ReadNumber(text, pos, n)) return std::nullopt;
    std::uint64_t unit = 1;
    if (pos < text.size()) {
      unit = UnitSeconds(text[pos]);
      if (unit == 0) return std::nullopt;
      ++pos;
      // Units must go from larger to smaller, each at most once: 4d12h, not 12h4d or 1h1h.
      if (unit >= last_unit) return std::nullopt;
      last_unit = unit;
    } else if (last_unit != std::numeric_limits<std::uint64_t>::max()) {
      return std::nullopt;  // "1h30" is ambiguous: reject rather than guess
    }
    std::uint64_t part = 0;
    if (__builtin_mul_overflow(n, unit, &part) || __builtin_add_overflow(total, part, &total)) {
      return std::nullopt;
    }
  }
  if (total > kMaxSeconds) return std::nullopt;
  return Seconds(static_cast<Seconds::rep>(total));
}

std::optional<std::vector<Seconds>> ParseDurationList(const std::string& text) {
  std::vector<Seconds> out;
  for (const std::string& item : SplitList(text)) {
    auto d = ParseDuration(item);
    if (!d) return std::nullopt;
    out.push_back(*d);
  }
  return out;
}

std::optional<Rate> ParseRate(const std::string& raw) {
  std::string text = Lower(Trim(raw));
  if (text == "unlimited") return Rate{};
  std::size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto count = ParseUnsigned(std::string_view(text).substr(0, slash));
  if (!count || *count == 0) return std::nullopt;  // 0 would read as unlimited: say so instead
  std::string per_text = text.substr(slash + 1);
  // PowerMTA's unit words: N/[M]{d|day|h|hr|m|min|s|sec}, e.g. 400/day, 100/10min.
  for (const auto& [word, letter] : {std::pair<std::string_view, char>{"day", 'd'},
                                     {"hr", 'h'},
                                     {"hour", 'h'},
                                     {"min", 'm'},
                                     {"sec", 's'}}) {
    if (per_text.size() < word.size() ||
        per_text.compare(per_text.size() - word.size(), word.size(), word) != 0) {
      continue;
    }
    const std::string digits = per_text.substr(0, per_text.size() - word.size());
    if (std::all_of(digits.begin(), digits.end(), IsDigit)) per_text = digits + letter;
    break;
  }
  std::optional<Seconds> per;
  if (per_text.size() == 1 && UnitSeconds(per_text[0]) != 0) {
    per = Seconds(static_cast<Seconds::rep>(UnitSeconds(per_text[0])));
  } else if (!per_text.empty() && !IsDigit(per_text.back())) {
    per = ParseDuration(per_text);  // "10m": a bare number after '/' is not a rate
  }
  if (!per || per->count() == 0) return std::nullopt;
  return Rate{*count, *per};
}

std::optional<std::uint64_t> ParseSize(const std::string& raw) {
  std::string text = Lower(Trim(raw));
  std::size_t pos = 0;
  std::uint64_t n = 0;
  if (!ReadNumber(text, pos, n)) return std::nullopt;
  std::string suffix = text.substr(pos);
  int shift = 0;
  if (suffix.empty() || suffix == "b") {
    shift = 0;
  } else if (suffix == "k" || suffix == "kb") {
    shift = 10;
  } else if (suffix == "m" || suffix == "mb") {
    shift = 20;
  } else if (suffix == "g" || suffix == "gb") {
    shift = 30;
  } else {
    return std::nullopt;
  }
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(n, std::uint64_t{1} << shift, &out)) return std::nullopt;
  return out;
}

std::optional<double> ParseShare(const std::string& raw) {
  std::string text = Trim(raw);
  bool percent = !text.empty() && text.back() == '%';
  if (percent) text = Trim(std::string_view(text).substr(0, text.size() - 1));
  // DIGITS[.DIGITS], read as an exact integer over a power of ten; at most 15 digits in all, so
  // both are exact in a double and the one division below rounds once.
  std::uint64_t numerator = 0;
  std::uint64_t denominator = percent ? 100 : 1;
  std::size_t digits = 0;
  bool point = false;
  for (char c : text) {
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (!IsDigit(c) || ++digits > 15) return std::nullopt;
    numerator = numerator * 10 + static_cast<std::uint64_t>(c - '0');
    if (point) denominator *= 10;
  }
  if (digits == 0 || text.front() == '.' || text.back() == '.') return std::nullopt;
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

std::optional<bool> ParseBool(const std::string& raw) {
  std::string text = Lower(Trim(raw));
  if (text == "yes" || text == "true" || text == "on") return true;
  if (text == "no" || text == "false" || text == "off") return false;
  return std::nullopt;
}

std::optional<ListenAddress> ParseHostPort(const std::string& raw, bool port_only_ok,
                                           bool hostname_ok) {
  std::string text = Trim(raw);
  if (text.empty()) return std::nullopt;
  ListenAddress out;
  std::string port_text;
  if (text.find(':') == std::string::npos ||
      (text.front() != '[' && text.find(':') != text.rfind(':'))) {
    // No colon at all: a bare port (when allowed). Several colons without brackets: a bare IPv6
    // address, which is ambiguous with a port; demand [::1]:25.
    if (!port_only_ok || text.find(':') != std::string::npos) return std::nullopt;
    out.host = "0.0.0.0";
    port_text = text;
  } else {
    std::string host;
    if (text.front() == '[') {
      std::size_t close = text.find(']');
      if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
        return std::nullopt;
      }
      host = text.substr(1, close - 1);
      port_text = text.substr(close + 2);
    } else {
      std::size_t colon = text.rfind(':');
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
    if (host == "0/0" || host == "*") {
      out.host = "0.0.0.0";
    } else if (auto ip = IpAddress::Parse(host)) {
      out.host = ip->ToString();
    } else if (hostname_ok && IsHostName(host)) {
      out.host = Lower(host);
    } else {
      return std::nullopt;
    }
  }
  auto port = ParseUnsigned(port_text);
  if (!port || *port > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

std::optional<ListenAddress> ParseListenAddress(const std::string& text, bool port_only_ok) {
  return ParseHostPort(text, port_only_ok, /*hostname_ok=*/false);
}

bool IsHostName(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;  // a trailing dot (absolute name) is accepted
}

}  // namespace outpost::config
