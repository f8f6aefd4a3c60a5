// Header processing of an accepted message, done once after the end of DATA.
//
// * Prepends a trace header (RFC 5321 4.4):
//     Received: from HELO ([IP])
//             by HOSTNAME (Outpost) with ESMTP[S][A] id QUEUEID
//             for <rcpt>; DATE
//   "([IP])" is omitted when the source has hide-message-source; "for <rcpt>" is written only for
//   a single-recipient message (naming one of several recipients would leak the others' existence
//   to each other's headers — Postfix does the same). The protocol follows RFC 3848: SMTP (HELO),
//   ESMTP, ESMTPS (TLS), ESMTPA (AUTH), ESMTPSA.
// * Adds `Message-ID: <QUEUEID@HOSTNAME>` at the end of the header section when the message has no
//   Message-ID (field names match case-insensitively).
// * X-Virtual-MTA and X-Job are always removed (every occurrence, folded continuation lines
//   included) so they never reach receivers; their unfolded, trimmed values (first occurrence) are
//   returned for the caller to use when the source allows it. Control characters are dropped from
//   the values and they are capped at kMaxHeaderValue octets.
//
// The header section ends at the first empty line, or at the first line that is neither a field
// ("name:" with a printable name) nor a continuation. A field name followed by spaces before the
// colon ("X-Job :") counts as that field (obsolete syntax that some parsers accept).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::smtp {

inline constexpr std::size_t kMaxHeaderValue = 256;

struct TraceInfo {
  std::string helo;            // client's EHLO/HELO name
  std::string client_literal;  // "[192.0.2.1]" / "[IPv6:::1]"; empty = hide the source
  std::string host_name;       // our name
  std::string protocol;        // "ESMTP", "ESMTPSA", ...
  std::string queue_id;
  std::string recipient;  // set only for single-recipient messages
  std::int64_t time = 0;  // UNIX seconds
};

struct HeaderResult {
  std::optional<std::string> x_virtual_mta;
  std::optional<std::string> x_job;
  bool message_id_added = false;
};

// Rewrites `message` (CRLF line ends, not dot-stuffed) as described above.
HeaderResult ProcessHeaders(const TraceInfo& trace, std::string& message);

// The Received: field (with its CRLF) for `trace`.
std::string FormatReceived(const TraceInfo& trace);

}  // namespace outpost::smtp
