// SMTP reply formatting (RFC 5321 section 4.2, RFC 2034 enhanced status codes).
//
// A reply is a three-digit code, an optional enhanced status code ("5.5.1") and text. Replies are
// appended to an output buffer so that pipelined commands' replies go out in one write. Multi-line
// replies (EHLO) use "CODE-text" on every line but the last, which uses "CODE text".
//
// Invariant: text never contains CR or LF (callers pass fixed strings or sanitized client input;
// AppendReply replaces any control character with '?' so a reply can never be split).
//
// Thread-safety: stateless functions and value types.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace outpost::smtp {

struct Reply {
  int code = 0;               // 250, 354, 550, ...
  std::string_view enhanced;  // "2.0.0"; empty for none (greeting, EHLO lines, 354)
  std::string text;

  bool ok() const { return code != 0; }
  bool permanent() const { return code >= 500; }
  bool transient() const { return code >= 400 && code < 500; }
};

// Appends "CODE ENH text\r\n".
void AppendReply(std::string& out, const Reply& reply);
void AppendReply(std::string& out, int code, std::string_view enhanced, std::string_view text);
// Appends a multi-line reply: lines[0..n-2] with "CODE-", the last with "CODE ". No enhanced codes
// (EHLO's form). An empty `lines` appends nothing.
void AppendMultilineReply(std::string& out, int code, const std::vector<std::string>& lines);

}  // namespace outpost::smtp
