// A small, defensive MIME reader for inbound reports (bounces and feedback-loop complaints).
//
// It reads only what the return path needs: header fields (unfolded), a multipart body's parts
// (recursively, RFC 2046 boundaries), and a part's body decoded from quoted-printable or base64.
// Line ends may be CRLF or LF. Hostile input is bounded: at most kMaxDepth levels of nesting and
// kMaxParts parts in all; a missing closing boundary ends the part at the end of the text; a part
// without its boundaries is read as text. Nothing here throws or allocates more than a copy of
// the input.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::returnpath {

inline constexpr int kMaxDepth = 8;
inline constexpr std::size_t kMaxParts = 64;

struct Part {
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case name, unfolded value
  std::string body;                                          // raw (still encoded), LF line ends

  // The first field `lower_name`'s value, trimmed; "" when absent.
  const std::string& Header(std::string_view lower_name) const;
  // "multipart/report" (lower-case, no parameters); "text/plain" when absent (RFC 2045).
  std::string ContentType() const;
  // The body decoded per Content-Transfer-Encoding (quoted-printable, base64; others as is).
  std::string DecodedBody() const;
};

// Splits `text` (header section, blank line, body) into a Part; line ends become LF.
Part ParsePart(std::string_view text);
// Header-like "Name: value" blocks (a DSN's or a feedback report's fields): every field of the
// text, unfolded, names lower-case, blocks separated by blank lines.
std::vector<std::vector<std::pair<std::string, std::string>>> ParseFieldBlocks(
    std::string_view text);
// A parameter of a header value: Param("multipart/report; boundary=\"x\"", "boundary") == "x".
std::string Param(std::string_view value, std::string_view lower_name);
// Every non-multipart part of `root` in document order (root itself when it is not multipart),
// within kMaxDepth and kMaxParts. `truncated` (optional) is set when a limit cut the walk.
std::vector<Part> Leaves(const Part& root, bool* truncated = nullptr);

std::string DecodeQuotedPrintable(std::string_view text);

}  // namespace outpost::returnpath
