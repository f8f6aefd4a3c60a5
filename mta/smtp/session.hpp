// The SMTP server's protocol state machine, independent of sockets and time.
//
// Input: the greeting event, one command line at a time (without CRLF), the end of a DATA phase,
// the outcome of a spool commit, TLS established, a timeout. Output: reply bytes appended to a
// buffer (so pipelined replies are flushed in one write by the caller) and an Action telling the
// I/O layer what to do next. The I/O layer (smtp_server.cpp) never interprets SMTP itself.
//
// Policy: the client's EffectiveSourcePolicy decides smtp-service (554 5.7.1 at the greeting),
// require-auth (530 5.7.0 at MAIL), always-allow-relaying (otherwise every RCPT gets 550 5.7.1
// Relaying denied, except a recipient at a relay-domain, which any client may send to: the
// return path's bounce and feedback-loop addresses). Address-literal
// recipients (`user@[192.0.2.1]`) are always refused with 550 5.7.1 (conservative: delivery does
// not route to literals). After AUTH the user's named source (e.g. {auth}) is layered over it.
// STARTTLS is offered when a certificate is configured and the source has allow-starttls (the
// default). AUTH PLAIN/LOGIN is offered and accepted only under TLS (otherwise 538 5.7.11), unless
// the source has allow-unencrypted-plain-auth and not require-starttls-before-auth; failures answer
// 535 5.7.8 after smtp-in-auth-failure-delay (TakeReplyDelay() tells the I/O layer to hold the
// reply and the session's later input that long), and after kMaxAuthFailures the session ends
// with 421 4.7.0. Across sessions, an AuthFailureTracker (SessionOptions::auth_failures_by_ip)
// counts failures per client address: past max-auth-failures-per-ip within auth-failure-window
// (or the source's smtp-max-auth-failure-rate),
// AUTH gets 454 4.7.0 without a password check (other commands are served). Out-of-order commands:
// 503 5.5.1. Every 5xx answer to the client counts as an error; past smtp-in-max-errors the
// session ends with 421 4.7.0. More than max-rcpt-per-message recipients: 452 4.5.3; so is a
// recipient the source's pattern-list would route differently from the transaction's first one
// (pattern_routes.hpp). The virtual MTA of a message: X-Virtual-MTA (with process-x-virtual-mta),
// else the pattern-list's choice, else default-virtual-mta. The spool's
// health and the AdmissionCheck are consulted on each RCPT and before 354 (452 4.3.1). A recipient
// on the suppression list (SessionOptions::refuse_recipient) gets 550 5.7.1 naming why; that
// answer does not count toward smtp-in-max-errors (an injector's list is expected to hold some).
//
// With log-data, the start of each message is logged (LogData). After DATA: bare CR/LF 550 5.6.11,
// too big 552 5.3.4, line over 998 octets 554 5.6.0, unknown X-Virtual-MTA 550 5.7.1; otherwise the
// message (headers processed, see message_headers.hpp) is handed to the I/O layer to commit
// (Action::kCommit) and OnCommitResult() answers 250 or 452 4.3.1.
//
// Thread-safety: not thread-safe (one per connection, used from one thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/cidr.hpp"
#include "mta/config/config.hpp"
#include "mta/smtp/auth_failure_tracker.hpp"
#include "mta/smtp/command_parser.hpp"
#include "mta/smtp/data_reader.hpp"
#include "mta/smtp/pattern_routes.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::smtp {

inline constexpr int kMaxAuthFailures = 3;
inline constexpr std::size_t kMaxAuthLine = 12288;  // RFC 4954 section 4
// log-data: how much of a message is logged.
inline constexpr std::size_t kLogDataLines = 50;
inline constexpr std::size_t kLogDataBytes = 4096;

// Shared counters a server aggregates over its sessions (atomics: read from any thread).
struct SessionCounters {
  std::atomic<std::uint64_t> relay_denied{0};
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> messages_rejected{0};
};

struct SessionOptions {
  std::shared_ptr<const config::Config> config;  // required
  IpAddress client_ip;
  std::string peer;  // "[ip]:port", for log lines
  bool tls_available = false;
  std::function<bool()> spool_healthy;         // null: always healthy
  std::function<bool(std::size_t)> admission;  // null: always admit
  // Why a recipient is refused (550 5.7.1 with this text, not counted as a session error: the
  // suppression list); "" accepts it. Null: every recipient passes.
  std::function<std::string(const std::string&)> refuse_recipient;
  std::function<std::string()> new_queue_id;          // required
  std::function<std::int64_t()> now;                  // UNIX seconds; required
  SessionCounters* counters = nullptr;                // optional
  AuthFailureTracker* auth_failures_by_ip = nullptr;  // optional; shared by the sessions
  std::shared_ptr<const PatternRoutes> routes;        // config's <pattern-list>s; null: built here
};

enum class Action {
  kContinue,  // keep reading commands
  kReadData,  // feed the following bytes to data_reader() until done(), then call OnDataEnd()
  kCommit,    // commit TakeMessage() to the spool, then call OnCommitResult()
  kStartTls,  // flush replies, discard buffered input, handshake, then OnTlsEstablished()
  kClose,     // flush replies and close
};

class Session {
 public:
  explicit Session(SessionOptions options);

  Action Greet(std::string& out);
  Action OnLine(std::string_view line, std::string& out);
  Action OnLineTooLong(std::string& out);
  // Valid between kReadData and OnDataEnd().
  DataReader& data_reader() { return *data_reader_; }
  Action OnDataEnd(std::string& out);
  // After kCommit: the message to commit (the session keeps a copy of the envelope).
  spool::SpoolMessage TakeMessage();
  Action OnCommitResult(spool::CommitStatus status, std::string& out);
  void OnTlsEstablished(std::string_view protocol_and_cipher);
  Action OnTimeout(std::string& out);

  // How long the caller must wait before flushing the replies produced so far and reading on
  // (a failed AUTH's penalty); zero normally. Resets to zero.
  std::chrono::seconds TakeReplyDelay() {
    return std::exchange(reply_delay_, std::chrono::seconds(0));
  }

  // Longest line the caller should buffer right now (commands 512, AUTH responses longer).
  std::size_t max_line() const;

  // The envelope and size of the message last handed out by TakeMessage().
  const spool::Envelope& committed_envelope() const { return committed_envelope_; }
  std::uint64_t committed_size() const { return committed_size_; }

  const std::string& helo() const { return helo_; }
  const std::string& auth_user() const { return auth_user_; }
  bool tls() const { return tls_; }
  int errors() const { return errors_; }
  const config::EffectiveSourcePolicy& policy() const { return policy_; }
  std::uint64_t max_message_size() const;

 private:
  enum class AuthStep { kNone, kPlain, kLoginUser, kLoginPassword };

  Action HandleCommand(const Command& cmd, std::string& out);
  Action Ehlo(const Command& cmd, std::string& out);
  Action Mail(const Command& cmd, std::string& out);
  Action Rcpt(const Command& cmd, std::string& out);
  Action Data(std::string& out);
  Action StartTls(std::string& out);
  Action Auth(const Command& cmd, std::string& out);
  Action AuthResponse(std::string_view line, std::string& out);
  Action FinishAuth(std::string_view user, std::string_view password, std::string& out);
  // Appends an error reply; counts it (5xx) and ends the session past the limits.
  Action Fail(std::string& out, int code, std::string_view enhanced, std::string_view text);
  bool CanAccept(std::size_t recipients) const;
  bool IsForRelayDomain(const std::string& address) const;
  void ResetTransaction();
  std::string ClientLiteral() const;
  std::string Protocol() const;
  void SetPolicy(config::EffectiveSourcePolicy policy);
  struct AuthFailureCap {
    int max_failures;     // 0: no cap
    std::int64_t window;  // seconds
  };
  AuthFailureCap AuthFailureCapFor() const;
  void LogData() const;

  SessionOptions options_;
  config::EffectiveSourcePolicy base_policy_;
  config::EffectiveSourcePolicy policy_;
  const RouteList* route_list_ = nullptr;  // the policy's pattern-list, if any
  std::string client_ip_text_;
  std::string helo_;
  bool esmtp_ = false;
  bool tls_ = false;
  std::string auth_user_;
  AuthStep auth_step_ = AuthStep::kNone;
  std::string login_user_;
  int auth_failures_ = 0;
  std::chrono::seconds reply_delay_{0};
  int errors_ = 0;

  // The transaction.
  bool in_mail_ = false;
  std::string mail_from_;
  std::string env_id_;
  bool body_8bit_ = false;
  std::string verp_delimiters_;  // "" = no VERP (common/verp.hpp)
  std::vector<std::string> recipients_;
  std::size_t route_signature_ = RouteList::kNoMatch;  // the recipients' (pattern_routes.hpp)
  std::string data_;
  std::optional<DataReader> data_reader_;
  spool::SpoolMessage pending_;
  spool::Envelope committed_envelope_;
  std::uint64_t committed_size_ = 0;
};

}  // namespace outpost::smtp
