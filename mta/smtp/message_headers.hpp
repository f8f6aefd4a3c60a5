// Header processing of an accepted message, done once after the end of DATA.
//
// What the <source> asks for (HeaderOptions, from add-received-header, remove-received-headers,
// add-message-id-header, add-date-header and remove-header); by default:
// * Prepends a trace header (RFC 5321 4.4), unless add_received is false:
//     Received: from HELO ([IP])
//             by HOSTNAME (Outpost) with ESMTP[S][A] id QUEUEID
//             for <rcpt>; DATE
//   "([IP])" is omitted when the source has hide-message-source; "for <rcpt>" is written only for
//   a single-recipient message (naming one of several recipients would leak the others' existence
//   to each other's headers — Postfix does the same). The protocol follows RFC 3848: SMTP (HELO),
//   ESMTP, ESMTPS (TLS), ESMTPA (AUTH), ESMTPSA.
// * Adds `Message-ID: <QUEUEID@HOSTNAME>` at the end of the header section when the message has no
//   Message-ID (field names match case-insensitively), unless add_message_id is false.
// * With add_date, adds `Date: <time of reception>` when the message has no Date.
// * With remove_received, removes the Received: fields the message arrived with (the one added
//   here is not among them); every field named in `remove` is removed too.
// * X-Virtual-MTA and X-Job are removed (every occurrence, folded continuation lines included) so
//   they never reach receivers, unless retain_x_virtual_mta / retain_x_job keep them; with
//   process_x_envid, X-EnvID is removed too. The unfolded, trimmed values (first occurrence) of
//   X-Virtual-MTA, of the job header (X-Job, or the jobid-header field, which is never removed for
//   being it) and of X-EnvID are returned for the caller to use when the source allows it.
//   Control characters are dropped from the values and they are capped at kMaxHeaderValue octets.
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
#include <vector>

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

struct HeaderOptions {
  bool add_received = true;
  bool remove_received = false;
  bool add_message_id = true;
  bool add_date = false;
  std::vector<std::string> remove;    // field names, any case
  std::string job_header = "X-Job";   // where `job` is read from (jobid-header)
  bool retain_x_job = false;          // retain-x-job
  bool retain_x_virtual_mta = false;  // retain-x-virtual-mta
  bool process_x_envid = false;       // process-x-envid: read and remove X-EnvID
};

struct HeaderResult {
  std::optional<std::string> x_virtual_mta;
  std::optional<std::string> job;      // the value of job_header
  std::optional<std::string> x_envid;  // with process_x_envid
  bool message_id_added = false;
};

// Rewrites `message` (CRLF line ends, not dot-stuffed) as described above.
HeaderResult ProcessHeaders(const TraceInfo& trace, std::string& message,
                            const HeaderOptions& options = HeaderOptions{});

// The Received: field (with its CRLF) for `trace`.
std::string FormatReceived(const TraceInfo& trace);

}  // namespace outpost::smtp
