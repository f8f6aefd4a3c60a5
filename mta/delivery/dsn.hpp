// Delivery status notifications (RFC 3464): the bounce message Outpost sends back to a message's
// envelope sender when recipients failed (or, with action "delayed", are late).
//
// BuildDsn() is pure: it formats a complete message (header section + body, CRLF line ends) from
// its input and the time `now_unix`, with no I/O and no clock. The message is
//   From: Mail Delivery System <postmaster, or MAILER-DAEMON@reporting_mta>, To: <original_sender>,
//   Subject: Delivery Status Notification (Failure) — "(Delay)" when no recipient failed and one
//   is delayed, "(Success)" when all were delivered/relayed/expanded —, Date, Message-ID,
//   Auto-Submitted: auto-replied, MIME-Version: 1.0,
//   Content-Type: multipart/report; report-type=delivery-status; boundary="..."
// with three parts: text/plain (what happened, per recipient: the action and the diagnostic; for
// an expired recipient who deferred it, with what reply, and after how long it expired; with a
// postmaster, the address to write to for help),
// message/delivery-status
// (Reporting-MTA: dns; ..., X-Outpost-Queue-ID, Original-Envelope-Id when known, Arrival-Date,
// then per recipient Final-Recipient: rfc822; ..., Action, Status, Remote-MTA: dns; ... when
// known, Diagnostic-Code when known, Last-Attempt-Date) and text/rfc822-headers (the original
// header section; the part is left out when it is empty).
//
// Invariants: every line ends in CRLF and is at most 998 octets (longer diagnostics are cut);
// CR, LF and other control characters in any input field are replaced so that no input can add a
// header or a part; the boundary never occurs in the original headers.
//
// The caller never builds a DSN for a message whose sender is the null sender (<>): bounces of
// bounces are not sent (RFC 5321 section 6.1, RFC 3464 section 2). BuildDsn() does not check this.
//
// Thread-safety: a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::delivery {

struct DsnRecipient {
  std::string address;            // the recipient as given in RCPT TO (no angle brackets)
  std::string status;             // "5.4.7"
  std::string diagnostic;         // "smtp; 550 5.1.1 user unknown", or "" when there was no reply
  std::string remote_mta;         // host name or address of the MX that answered, or ""
  std::string action = "failed";  // failed | delayed | delivered | relayed | expanded
  // Set when the recipient failed by expiry ("2d", the bounce-after it exceeded): the text part
  // then says "delivery was deferred by REMOTE-MTA: DIAGNOSTIC; the message expired after 2d in
  // the queue" (or only that it expired, when no deferral is known).
  std::string expired_after;
};

struct DsnInput {
  std::string reporting_mta;  // this MTA's host name
  std::string postmaster;     // the From: address (`postmaster`); "" = MAILER-DAEMON@reporting_mta
  std::string queue_id;
  std::string original_envelope_id;  // ENVID, or ""
  std::string original_sender;       // never empty (see above)
  std::int64_t arrival_time = 0;     // UNIX seconds
  std::vector<DsnRecipient> recipients;
  std::string original_headers;  // header section of the original, CRLF
};

// A complete RFC 5322 message, ready to be queued with MAIL FROM:<>.
std::string BuildDsn(const DsnInput& input, std::int64_t now_unix);

}  // namespace outpost::delivery
