#include "common/strings.hpp"

namespace outpost {

std::string AsciiLowercase(std::string_view text) {
  std::string out(text);
  AsciiLowercaseInPlace(out);
  return out;
}

void AsciiLowercaseInPlace(std::string& text) {
  for (char& c : text) c = AsciiLower(c);
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && IEquals(text.substr(0, prefix.size()), prefix);
}

std::string_view TrimBlanks(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string HeaderValue(std::string_view message, std::string_view name) {
  if (message.starts_with("\r\n")) return {};  // an empty header section
  const std::size_t blank = message.find("\r\n\r\n");
  // Keep the CRLF of the last header line so every line below ends in one.
  const std::string_view headers =
      blank == std::string_view::npos ? message : message.substr(0, blank + 2);
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t eol = headers.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = headers.size();
    const std::string_view line = headers.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() <= name.size() || line[name.size()] != ':' ||
        !IEquals(line.substr(0, name.size()), name)) {
      continue;
    }
    std::string value(line.substr(name.size() + 1));
    // Continuation lines start with white space.
    while (pos < headers.size() && (headers[pos] == ' ' || headers[pos] == '\t')) {
      std::size_t next = headers.find("\r\n", pos);
      if (next == std::string_view::npos) next = headers.size();
      value += headers.substr(pos, next - pos);
      pos = next + 2;
    }
    return std::string(TrimBlanks(value));
  }
  return {};
}

}  // namespace outpost
