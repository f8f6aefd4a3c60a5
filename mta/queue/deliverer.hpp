// The seam between the scheduler and the network: "open a connection for this queue" and "run
// this transaction on that connection". The scheduler (queue_manager.hpp) decides when and how
// much; a Deliverer only does what it is told and reports outcomes as values.
//
// Production: delivery::SmtpDeliverer (mta/delivery/smtp_deliverer.hpp) — DNS (MX in preference
// order, then addresses; the next MX/address on connection failure; `route` skips DNS) and
// SmtpClientConnection. Tests: a fake that records requests and answers them when the test says so.
// ResolveMxHosts() serves mx-rollup (queue_name.hpp): the scheduler compares MX host sets before it
// picks a recipient's queue. The default answers kTempFail ("no resolver"), which makes every
// domain use its own queue.
//
// Callbacks may be invoked synchronously from inside Connect()/Send() or later; the scheduler
// only queues them and processes them in QueueManager::RunDue(), so either is safe.
// Every Connect() is answered exactly once; every Send() is answered exactly once, also when the
// connection breaks (TransactionResult::connection_lost); every Close() is answered exactly once,
// by `closed`, when the socket is closed (after QUIT and its reply, or at once for a broken
// connection) — the scheduler counts the connection against max-smtp-out until then, so the
// receiver never sees more connections than the limit. Close() of a connection being used is not
// allowed.
//
// Thread-safety: implementations are used from one thread (the queue manager's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "mta/delivery/smtp_client.hpp"

namespace outpost::queue {

using ConnectionId = std::uint64_t;

struct ConnectRequest {
  std::string queue;                           // "domain/vmta", for logs
  std::string domain;                          // a recipient domain of the queue: MX lookup target
  std::optional<config::ListenAddress> route;  // skip DNS, connect here
  std::vector<config::SmtpHost> smtp_hosts;    // else these hosts (in order), when not empty
  int max_addresses = 0;                       // mx-connection-attempts (0: every address)
  bool discard = false;        // type discard: no network; every recipient "delivered" (250)
  std::uint16_t port = 25;     // default-smtp-port for MX hosts
  std::string source_address;  // vmta's smtp-source-host address ("" = any)
  std::string ehlo_name;       // vmta's smtp-source-host name
  bool use_starttls = true;
  bool require_starttls = false;
  delivery::ClientTimeouts timeouts;     // the domain's connect/greeting/command/data timeouts
  bool bounce_upon_no_mx = false;        // no MX record: kPermFail (not the implicit MX)
  bool bounce_upon_5xx_greeting = true;  // a 5xx greeting/EHLO/HELO: kPermFail at once
  bool ignore_8bitmime = false;
  // MX addresses tried only after all others (they said 421; smtp-421-means-mx-unavailable).
  std::vector<std::string> avoid_addresses;
};

enum class ConnectStatus {
  kOk,
  kTempFail,  // every MX/address failed, DNS temporary failure: a tq record, retry later
  kPermFail,  // the domain cannot receive mail (NXDOMAIN, null MX, a 5xx greeting): bounce
};

struct ConnectOutcome {
  ConnectStatus status = ConnectStatus::kTempFail;
  ConnectionId id = 0;          // valid when kOk
  delivery::Reply reply;        // the failing greeting/EHLO reply, when there was one
  std::string error;            // human-readable reason for failures
  std::string remote_mta;       // dsnMta: "mx.example.net (192.0.2.35)"
  std::string remote_address;   // dlvDestinationIp
  std::string local_address;    // dlvSourceIp
  std::string esmtp_available;  // dlvEsmtpAvailable
};

// A domain's MX host names for mx-rollup matching: lower case, no trailing dot, sorted, unique;
// preferences are ignored. An implicit MX (no MX record) is the domain itself.
struct MxHostsAnswer {
  ConnectStatus status = ConnectStatus::kTempFail;  // kPermFail: NXDOMAIN or null MX
  std::vector<std::string> hosts;                   // valid when kOk
  std::string error;
};

struct BatchRequest {
  std::string mail_from;
  std::vector<std::string> recipients;
  std::shared_ptr<const std::string> data;  // CRLF, not dot-stuffed
  bool body_8bit = false;
  std::string env_id;
};

struct BatchOutcome {
  delivery::TransactionResult result;  // OutcomeFor(i) per recipient
  bool connection_usable = true;       // false: the scheduler closes and forgets the connection
};

// Thread-safety: see the header comment.
class Deliverer {
 public:
  virtual ~Deliverer() = default;
  virtual void Connect(const ConnectRequest& request, std::function<void(ConnectOutcome)> done) = 0;
  virtual void Send(ConnectionId connection, BatchRequest batch,
                    std::function<void(BatchOutcome)> done) = 0;
  // `closed` runs once the connection's socket is closed (also for an unknown id).
  virtual void Close(ConnectionId connection, std::function<void()> closed) = 0;
  // Answered exactly once, synchronously or later (like Connect()).
  virtual void ResolveMxHosts(const std::string& domain, std::function<void(MxHostsAnswer)> done) {
    MxHostsAnswer answer;
    answer.error = "no resolver for " + domain;
    done(std::move(answer));
  }
};

}  // namespace outpost::queue
