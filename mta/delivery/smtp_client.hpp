// The SMTP client: one outbound connection to a receiving MX, reused for several transactions.
//
// Connect() binds the virtual MTA's source address, connects (with a timeout), reads the greeting,
// says EHLO with the vmta's host name (HELO if EHLO is refused), and does STARTTLS when offered and
// `use_starttls` (or fails the connection when `require_starttls` and it is not offered or fails).
// Send() runs one transaction: MAIL FROM (with SIZE= when offered, BODY=8BITMIME when the message
// is 8-bit and offered; the client sends the bytes it is given: converting 8-bit mail for a
// server without 8BITMIME is delivery::MimeDowngradeDeliverer's job, before DKIM signing), RCPT TO
// per recipient and DATA — pipelined when PIPELINING is offered —
// then the dot-stuffed message and the final reply. Replies are parsed whole (multi-line, possibly
// split across packets) and kept verbatim for accounting.
//
// Timeouts (ClientTimeouts; per destination, from the <domain> directives named below):
//   connect           connect-timeout                 TCP connect (default 1m)
//   greeting          smtp-greeting-timeout           the 220 banner (5m)
//   command           smtp-command-timeout            each command's write and its reply: EHLO,
//                                                     MAIL, RCPT, DATA, RSET, QUIT, STARTTLS and
//                                                     the TLS handshake (5m)
//   data_send         data-send-timeout               each body write (64 KiB) must finish within
//                                                     it, so a big body on a slow link is not cut
//                                                     while the receiver keeps reading (3m)
//   data_termination  smtp-data-termination-timeout   the reply to the final dot (10m)
// Each phase arms one per-connection deadline timer; when it fires before the phase ends it closes
// the socket, which completes the pending operation with an error that is reported as a timeout
// (kTimeout, or connection_lost in Send with the reason in the pending reply's text, e.g.
// "timeout after 2s waiting for the reply to the final dot"). A connection that timed out is
// unusable anyway, so closing is the simplest cancellation that works the same for plain TCP and
// TLS streams. Durations are milliseconds so tests can use short ones.
//
// The body is dot-stuffed while it is copied into 64 KiB write chunks (no per-line writes); bare
// CR or LF in the message are written as CRLF (no SMTP smuggling through bare line ends); a
// missing final CRLF is added before ".". Without a valid recipient the body is never sent: when a
// pipelined DATA still got 354, an empty message (".") is sent and its reply ignored (RFC 2920).
//
// STARTTLS is opportunistic: TLS 1.2 or later, certificates not verified (XXX: no DANE/MTA-STS),
// and tls() records whether it was used. Bytes buffered before the TLS handshake are discarded.
// When the handshake itself fails, ConnectResult::tls_handshake_failed is set: with
// require_starttls that is the end (the caller defers); without it the caller reconnects to the
// same server with use_starttls off and remembers the server (name, address, port) in a
// delivery::TlsFailureMemory, so the next connections there go straight to plain text (what Postfix
// does for opportunistic TLS).
//
// Closing: Quit() (QUIT when the connection is usable, then a graceful close) and a failed
// Connect() shut down the send side and read to the peer's EOF, bounded by min(5 s, command
// timeout), before the socket is closed: a receiver that counts connections per client then no
// longer counts this one when the caller opens its successor (max-smtp-out holds as the receiver
// sees it). Close() and the destructor close at once.
//
// Errors are values: a connection-level failure (refused, timeout, greeting 4xx/5xx, TLS failure,
// dropped connection) is reported in the result, never thrown. After a connection-level failure the
// connection is unusable; callers try the next MX or defer.
//
// Thread-safety: not thread-safe; one coroutine uses a connection at a time on its io_context.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace outpost::delivery {

// A parsed SMTP reply: "421-4.7.28 text\r\n421 4.7.28 more" -> code 421, enhanced "4.7.28".
struct Reply {
  int code = 0;              // 0 when there was no reply (connection-level failure)
  std::string enhanced;      // "4.7.28", or "" when the server gave none
  std::string text;          // all lines joined with " ", without codes: for dsnDiag and patterns
  std::string Full() const;  // "421 4.7.28 text" — what accounting's dsnDiag carries after "smtp;"
  bool Positive() const { return code >= 200 && code < 400; }
  bool Transient() const { return code >= 400 && code < 500; }
  bool Permanent() const { return code >= 500; }
};

// Per-phase deadlines (see the header comment for what each covers and its directive).
struct ClientTimeouts {
  std::chrono::milliseconds connect{std::chrono::minutes(1)};
  std::chrono::milliseconds greeting{std::chrono::minutes(5)};
  std::chrono::milliseconds command{std::chrono::minutes(5)};
  std::chrono::milliseconds data_send{std::chrono::minutes(3)};
  std::chrono::milliseconds data_termination{std::chrono::minutes(10)};
  bool operator==(const ClientTimeouts&) const = default;
};

struct ClientOptions {
  std::string source_address;  // local address to bind ("" = any)
  std::string ehlo_name;       // vmta host name
  bool use_starttls = true;
  bool require_starttls = false;
  bool ignore_8bitmime = false;  // ignore-8bitmime: act as if the server did not offer 8BITMIME
  ClientTimeouts timeouts;
};

enum class ConnectFailure { kNone, kRefused, kTimeout, kGreeting, kTls, kDropped, kBind };

struct ConnectResult {
  ConnectFailure failure = ConnectFailure::kNone;
  Reply reply;        // the greeting or EHLO reply that failed, when there was one
  std::string error;  // human-readable, e.g. "connect to 192.0.2.1:25: Connection refused"
  bool tls_handshake_failed = false;  // STARTTLS got 220, then the handshake failed (kTls)
  bool ok() const { return failure == ConnectFailure::kNone; }
};

struct Transaction {
  std::string mail_from;                // "" for <>
  std::vector<std::string> recipients;  // at most max-rcpt-per-transaction
  const std::string* data = nullptr;    // the message, CRLF, not dot-stuffed
  bool body_8bit = false;
  std::string env_id;
};

struct TransactionResult {
  bool connection_lost = false;  // the connection broke mid-transaction (no final reply)
  Reply mail_reply;
  std::vector<Reply> rcpt_replies;  // one per recipient, in order
  Reply data_reply;                 // the reply after the final dot (or to DATA when refused)
  // Set with connection_lost: the connection broke after DATA's 354, while the body was sent or
  // before the reply to the final dot (the receiver may hold a partial or whole copy)...
  bool transfer_failed = false;
  // ... or the whole body was sent and no reply to the final dot came within data_termination.
  bool final_reply_timed_out = false;
  // The outcome for recipient i: the RCPT reply when it was not positive, else the DATA reply
  // (or MAIL's when MAIL failed). Code 0 when the connection was lost before an answer.
  Reply OutcomeFor(std::size_t i) const;
};

// Thread-safety: not thread-safe.
class SmtpClientConnection {
 public:
  explicit SmtpClientConnection(asio::any_io_executor executor);
  ~SmtpClientConnection();

  asio::awaitable<ConnectResult> Connect(std::string address, std::uint16_t port,
                                         ClientOptions options);
  asio::awaitable<TransactionResult> Send(Transaction transaction);
  // RSET between transactions is not needed after a completed transaction. Quit() says QUIT when
  // the connection is usable, then closes gracefully (half-close, read to EOF, bounded); it is
  // safe on any connection. Close() closes at once.
  asio::awaitable<void> Quit();
  void Close();

  bool usable() const;
  // What the peer offered, as accounting's dlvEsmtpAvailable: "PIPELINING,8BITMIME,SIZE,STARTTLS".
  const std::string& esmtp_available() const;
  const std::string& peer_address() const;
  const std::string& local_address() const;
  bool tls() const;
  int transactions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses one complete reply from `buffer` (lines ending in CRLF). Returns the bytes consumed, or 0
// when the reply is incomplete. Malformed lines give code 0 and consume through the line end.
std::size_t ParseReply(const std::string& buffer, Reply& reply);

}  // namespace outpost::delivery
