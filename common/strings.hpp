// Small text helpers shared by the SMTP, delivery, DNS, queue and exporter code: ASCII case
// folding (protocol keywords, domains and header names are case-insensitive in ASCII only; never
// the locale's tolower), trimming, and finding one header's value in an RFC 5322 message.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace outpost {

constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
std::string AsciiLowercase(std::string_view text);
void AsciiLowercaseInPlace(std::string& text);
// Equal ignoring ASCII case.
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view text, std::string_view prefix);
// Without leading and trailing spaces and tabs.
std::string_view TrimBlanks(std::string_view text);

// The value of the first `name:` header of `message`'s header section (the lines before the first
// empty line; CRLF line ends), unfolded and trimmed; "" when there is none.
std::string HeaderValue(std::string_view message, std::string_view name);

}  // namespace outpost
