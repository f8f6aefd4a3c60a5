// A recipient's outcome as a typed value: what the scheduler decided about one delivery attempt
// (or one failed connection of a queue), before anyone turns it into text.
//
// The scheduler (queue_manager.hpp) emits one Outcome per attempted recipient — delivered,
// bounced, deferred, expired, deleted by the operator, or bounced because its domain cannot
// receive mail — and one kConnectionFailed per failed connection of a queue without a working
// one, to an OutcomeSink. Consumers read the fields; none re-parses text:
// * accounting (mta/acct/outcome_record.hpp) formats it as a PowerMTA CSV record (d, b, t, tq);
// * the metrics bus (mta/mgmt/bus_accounting_sink.hpp) counts it.
//
// Invariants: `recipient`, `mail_from`, `time_queued`, `size` and the inbound facts are empty/0
// for kConnectionFailed (a queue's failure, not a recipient's). `reply.code` is 0 when there was
// no reply (a lost connection: `reply.text` says how; a connection or DNS failure: `error` says
// what failed).
//
// Thread-safety: a plain value. OutcomeSink implementations say.
#pragma once

#include <cstdint>
#include <string>

#include "mta/delivery/bounce_category.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::queue {

enum class OutcomeKind : std::uint8_t {
  kDelivered,         // a 2xx: d record
  kBounced,           // a 5xx: b record, and the recipient is in the attempt's DSN
  kDeferred,          // a 4xx or a lost connection: t record, retried later
  kExpired,           // deferred past bounce-after: b record, message-expired, in the DSN
  kDeleted,           // the operator deleted its queue: b record, no DSN
  kDomainFailed,      // its domain cannot receive mail (NXDOMAIN, null MX): b record, in the DSN
  kConnectionFailed,  // the queue could not connect (temporary): tq record, no recipient
};

struct Outcome {
  OutcomeKind kind = OutcomeKind::kDeferred;
  std::int64_t time_logged = 0;  // UNIX seconds

  // Where: the queue ("domain/vmta", queue_name.hpp), its vmta, and the pool the message named
  // ("" when it named a vmta or nothing).
  std::string queue;
  std::string vmta;
  std::string vmta_pool;

  // Which recipient of which message.
  spool::SpoolId spool_id;
  std::string queue_id;  // the message's spool queue id (envelope id)
  std::string mail_from;
  std::string recipient;
  std::int64_t time_queued = 0;  // UNIX seconds
  std::uint64_t size = 0;        // message bytes
  std::uint32_t attempts = 0;    // delivery attempts so far, this one included (0: none made)
  std::string job_id;
  std::string env_id;       // the original ENVID
  std::string source_ip;    // the injecting client
  std::string source_helo;  // its HELO name

  // What happened.
  delivery::Reply reply;      // the remote reply (code 0: none)
  std::string error;          // kDomainFailed, kConnectionFailed: what failed
  std::string expired_after;  // kExpired: the bounce-after it exceeded ("3d")
  delivery::BounceCategory category = delivery::BounceCategory::kOther;

  // The connection it was attempted on ("" when none).
  std::string remote_mta;       // "mx.example.net (192.0.2.35)"
  std::string remote_address;   // destination IP
  std::string local_address;    // source IP
  std::string esmtp_available;  // the extensions the server announced
};

// Where outcomes go. Thread-safety: used from the scheduler's thread only.
class OutcomeSink {
 public:
  virtual ~OutcomeSink() = default;
  virtual void Write(const Outcome& outcome) = 0;
  virtual void Flush() = 0;
  // True when every outcome written so far is recorded durably. After Flush(), a false here
  // (e.g. accounting disk full) keeps the finished recipients in the spool: a message leaves the
  // spool only after its final records are durable (completion.hpp).
  virtual bool Durable() const { return true; }
};

}  // namespace outpost::queue
