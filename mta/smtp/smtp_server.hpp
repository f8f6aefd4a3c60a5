// The SMTP injection server: accepts mail from injecting applications on each `smtp-listener`.
//
// Protocol (RFC 5321 + extensions PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS,
// AUTH PLAIN/LOGIN after TLS). The parser is the security boundary: lines end only at CRLF, command
// and text lines have length limits, DATA rejects bare CR / bare LF (5xx after the real end of
// data, session stays in sync) and only CRLF.CRLF ends a message, so smuggling cannot split one
// message in two. Relay policy comes from <source> rules (config::Config::SourcePolicyFor) and,
// after AUTH, the user's named source. Every phase has a timeout (a command's runs from the end of
// the previous one, so a slow-drip client is cut however it spaces its bytes; DATA's covers the
// whole phase); connections are capped (max-smtp-in, per IP); too many errors close the session
// with 421; a failed AUTH is answered only after smtp-in-auth-failure-delay.
//
// A message is answered 250 only after the spool reports it durable. Then an `r` record goes to the
// accounting log and `on_accepted` hands the message to the queue. Spool back-pressure (disk full,
// write errors, queue ceiling) answers 452 4.3.1 and keeps nothing.
//
// Threading: all sessions run on the given io_context (one thread). Spool commit handlers run on
// the spool's thread and are posted back to the io_context. Thread-safety: not thread-safe; call
// everything from the io_context's thread, except SetConfig(), which may be called from any thread.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mta/acct/accounting_writer.hpp"
#include "mta/config/config.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::smtp {

struct ServerStats {
  std::uint64_t connections_current = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t connections_refused = 0;  // over max-smtp-in / per-IP cap / smtp-service no
  std::uint64_t messages_accepted = 0;
  std::uint64_t recipients_accepted = 0;
  std::uint64_t bytes_accepted = 0;
  std::uint64_t messages_rejected = 0;  // after DATA: size, bare LF, spool refusal
  std::uint64_t relay_denied = 0;
  std::uint64_t auth_failures = 0;
  std::uint64_t tls_handshakes = 0;
};

// Says whether new mail may be taken (e.g. the queue's recipient ceiling). Called per RCPT and
// before DATA's 354; false answers 452 4.3.1.
using AdmissionCheck = std::function<bool(std::size_t recipients)>;
// Why a recipient is refused at RCPT (550 5.7.1 with that text), "" to accept it (the suppression
// list). Called on the io_context's thread.
using RecipientCheck = std::function<std::string(const std::string& recipient)>;
// Called on the io_context's thread after the spool commit succeeded and the `r` records were
// written.
using AcceptedHandler =
    std::function<void(spool::SpoolId id, const spool::Envelope& envelope, std::uint64_t size)>;

// A message submitted outside SMTP (HTTP submission, mgmt/submission_api.hpp; a pickup directory,
// pickup_dir.hpp): it goes through the
// same checks, preparation (prepare.hpp), spool commit, accounting and hand-over as one from DATA.
struct Submission {
  std::string mail_from;
  std::vector<std::string> recipients;  // syntactically valid mailboxes
  std::string content;                  // the whole RFC 5322 message, CRLF line ends
  std::string vmta;                     // virtual MTA or pool asked for; "" none
  std::string job_id;                   // "" none
  std::string env_id;                   // "" none
  IpAddress client_ip;
  std::string client_name;  // who submits (the API key's name): Received:'s "from", acct's srcMta
  std::string protocol = "HTTP";  // Received:'s "with"
  const char* src_type = "http";  // the `r` record's srcType and the log's tag
};

// What SMTP would have answered to one RCPT: 250 2.1.5, or a refusal (550 5.7.1 suppressed or an
// address literal, 452 4.5.3 too many recipients or routed through another virtual MTA).
struct RecipientVerdict {
  std::string address;
  int code = 250;
  std::string enhanced = "2.1.5";
  std::string text = "Recipient OK";
  bool accepted() const { return code < 300; }
};

struct SubmitOutcome {
  enum class Status {
    kAccepted,      // durable in the spool, exactly as SMTP's 250 after DATA
    kNoneAccepted,  // every recipient refused; nothing kept
    kRefused,       // the message is refused (`error`: an unknown virtual MTA); nothing kept
    kUnavailable,   // the spool or the queue refuses mail now (SMTP's 452 4.3.1); nothing kept
  };
  Status status = Status::kUnavailable;
  std::string id;  // the queue id, when accepted
  std::vector<RecipientVerdict> recipients;
  std::string error;
};
using SubmitDone = std::function<void(SubmitOutcome)>;

class SmtpServer {
 public:
  SmtpServer(asio::io_context& io, std::shared_ptr<const config::Config> config,
             spool::Spool& spool, acct::AccountingLog* accounting);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  void SetAcceptedHandler(AcceptedHandler handler);
  void SetAdmissionCheck(AdmissionCheck check);
  void SetRecipientCheck(RecipientCheck check);

  // Binds and starts accepting on every smtp-listener of the config. Port 0 binds an ephemeral
  // port; BoundAddresses() tells which. False + error (naming the address) when a bind fails.
  bool Start(std::string* error);
  // The actual "host:port" of each listener, in config order.
  std::vector<std::string> BoundAddresses() const;
  // Stops accepting and closes every session.
  void Stop();

  // Io thread: checks, prepares and commits `submission` like a message ending DATA from a client
  // at submission.client_ip (its <source> policy applies, relaying allowed: the caller has
  // authenticated it); `done` runs on the io thread once the outcome is known.
  void Submit(Submission submission, SubmitDone done);

  // Takes effect for new sessions (reload); TLS context is rebuilt from the new certificate.
  void SetConfig(std::shared_ptr<const config::Config> config);
  ServerStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::smtp
