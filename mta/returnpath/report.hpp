// Reading inbound reports: bounces (RFC 3464 delivery-status reports, and the plain-text bounces
// Postfix, Exim, Microsoft Exchange/Outlook, Gmail and Yahoo send) and feedback-loop complaints
// (RFC 5965 ARF, with Microsoft JMRP's and Yahoo's habits). docs/powermta.md, "Remote bounces and
// complaints", says what is recovered from where.
//
// What a report says about the mail it reports on is gathered from everywhere it may be:
//   recipient     DSN Final-Recipient (or Original-Recipient); the text bounce's address line;
//                 ARF Original-Rcpt-To, JMRP's X-HmXmrOriginalRecipient, the returned message's
//                 single To: address; last, VERP in the address the report was sent to, else
//                 in the original sender (see VerpRecipient). A bounce sent to a VERP address
//                 that names no recipient at all still counts when its text holds an SMTP error
//                 reply (format "verp").
//   job           the returned message's X-Job header
//   envelope id   DSN Original-Envelope-Id
//   vmta          the returned message's X-Virtual-MTA header
//   message id    the returned message's Message-ID
//   sender        DSN X-Postfix-Sender, ARF Original-Mail-From, the returned Return-Path
// A report is `understood` when it names at least one failed recipient (bounce) or a complainer
// (feedback); otherwise `problem` says why not, for the log.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace outpost::returnpath {

// One recipient a bounce reports as failed.
struct FailedRecipient {
  std::string recipient;           // lower-case address
  std::string original_recipient;  // DSN Original-Recipient, as given ("rfc822;a@b"), if any
  std::string status;              // enhanced status "5.1.1", or "" when the report gave none
  int reply_code = 0;              // the remote reply's code (550), 0 when unknown
  std::string reply_text;          // the remote reply's text after code and enhanced status
  std::string diagnostic;          // "smtp;550 5.1.1 text" as the report gave it
  std::string remote_mta;          // DSN Remote-MTA without its type ("mx.example.com")
};

struct Report {
  bool understood = false;
  std::string format;   // "dsn", "postfix", "exim", "exchange", "gmail", "yahoo", "arf"
  std::string problem;  // when not understood

  std::vector<FailedRecipient> failed;  // bounces

  // Feedback reports.
  std::string complainer;     // the recipient who complained (lower-case)
  std::string feedback_type;  // "abuse", "fraud", ... (lower-case)
  std::string user_agent;
  std::string reporting_mta;
  std::string source_ip;

  // About the original message.
  std::string original_sender;
  std::string job_id;
  std::string env_id;
  std::string vmta;
  std::string message_id;
};

// Reads `message` (headers and body, CRLF or LF) sent to the bounce processor's address
// `envelope_recipient`.
Report ParseBounce(std::string_view message, std::string_view envelope_recipient);
// Reads `message` sent to the feedback-loop processor's address `envelope_recipient`.
Report ParseFeedback(std::string_view message, std::string_view envelope_recipient);

// The recipient encoded in a VERP address, "" when there is none: the local part's text after
// its first '+' (else its first '-') up to the '@', with its last '=' read as '@' — so
// "bounces+ann=example.com@bounce.example.net" gives "ann@example.com".
std::string VerpRecipient(std::string_view address);

}  // namespace outpost::returnpath
