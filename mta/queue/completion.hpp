// The durable completion of finished recipients: the one place that knows the commit order, and
// the DSN commit that is part of it.
//
// Order, fixed: write the transaction's outcomes -> flush the sink once -> ask Durable() -> only
// then Spool::MarkRecipientDone / MarkMessageDone. When the sink is not durable after the flush
// (accounting disk full), the marks are held, not dropped and not applied: a message leaves the
// spool only after its final records are in the accounting file. Held marks are retried once a
// second (ReleaseHeld(): flush, ask again, then mark); a crash before that redelivers the
// recipients after the restart (at-least-once, never lost).
//
// Recipients that failed for good in one attempt (refused with a 5xx, expired, of a domain that
// cannot receive mail) have one more step between the flush and the marks: CommitDsn() builds one
// DSN (RFC 3464, mta/delivery/dsn.hpp; Status and Diagnostic-Code from the real reply, see the
// *Report() helpers) to the sender listing them all and commits it to the spool as a new
// null-sender message; `then` runs on the scheduler's thread (through the poster) once the spool
// answers, and only a committed DSN lets the caller mark them done. A DSN that cannot be committed
// leaves them in the spool (a restart retries them; logged). No DSN for the null sender <>, which
// covers DSNs themselves, so a bounce never loops. So for a failed recipient:
//   Write(b record) -> Flush() -> CommitDsn() -> [spool commit durable] -> Begin() -> Mark().
//
// The scheduler (queue_manager.cpp, queue_outcomes.cpp) owns which recipients are final; this
// class owns the order and what a DSN says. Usage per transaction: Write()..., Flush(), then
// Begin() once and Mark() per recipient (or the whole message); for failed ones CommitDsn() first.
//
// Thread-safety: not thread-safe; the scheduler's thread only (spool commit handlers come back
// through the poster).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/delivery/dsn.hpp"
#include "mta/queue/outcome.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::queue {

// Why a recipient was deferred, as its DSN says it if it expires: Diagnostic-Code ("smtp; 451
// 4.2.0 ...", or "X-Outpost; connect to ...: Connection refused" without a reply) and the
// Remote-MTA's host name. The scheduler keeps one per queue, not per recipient (recipients are
// 16-byte records): a recipient that expires when it comes due, without a new attempt, is
// reported with the last deferral of its queue. XXX: in a queue whose recipients are deferred for
// different reasons (one mailbox full, the others greylisted) that may be another recipient's
// reason; a restart forgets it (the DSN then says only that the message expired).
struct LastDeferral {
  std::string diagnostic;  // "" = none known
  std::string remote_mta;  // host name, or ""
};

// A deferral `reply` (code 0: the connection was lost, `reply.text` says how) from `remote_mta`
// ("host (address)", as ConnectOutcome::remote_mta).
LastDeferral DeferralOf(const delivery::Reply& reply, const std::string& remote_mta);
// A failed connection without a reply: `error` says what failed.
LastDeferral ConnectFailureOf(const std::string& error, const std::string& remote_mta);

// What a DSN says about a recipient refused with `reply` (a 5xx) by `remote_mta`.
delivery::DsnRecipient RefusedReport(const std::string& address, const delivery::Reply& reply,
                                     const std::string& remote_mta);
// ... about a recipient expired after `after` ("3d"), last deferred for `why`.
delivery::DsnRecipient ExpiredReport(const std::string& address, const LastDeferral& why,
                                     const std::string& after);
// ... about a recipient whose domain cannot receive mail (`error`: what DNS said).
delivery::DsnRecipient DomainFailedReport(const std::string& address, const std::string& error);

// A recipient (by index in its envelope) that failed for good in one attempt, with its DSN report.
struct FailedRecipient {
  std::uint32_t rcpt;
  delivery::DsnRecipient report;
};

// How CommitDsn() ended.
enum class DsnCommit {
  kNotNeeded,  // the sender is <>: no DSN; the recipients may be marked done now
  kCommitted,  // durable in the spool (`id`, `envelope`, `size`): mark done, then queue it
  kFailed,     // not committed (logged): leave the recipients in the spool
};
struct DsnCommitResult {
  DsnCommit status = DsnCommit::kNotNeeded;
  spool::SpoolId id;
  spool::Envelope envelope;
  std::uint64_t size = 0;
};

class Completion {
 public:
  static constexpr std::uint32_t kWholeMessage = 0xffffffffu;

  // What Begin() decided for the marks that follow it.
  enum class Marks { kApply, kHold };

  // Runs `task` on the scheduler's thread (QueueManager::Poster).
  using Poster = std::function<void(std::function<void()>)>;

  // `reporting_mta`: this MTA's host name, the DSNs' Reporting-MTA and HELO; `postmaster`: their
  // From: address ("" = MAILER-DAEMON@reporting_mta). The default poster runs the task at once
  // (only valid when the spool answers on the scheduler's thread).
  Completion(OutcomeSink& sink, spool::Spool& spool, const Clock& clock,
             std::string reporting_mta = "localhost", std::string postmaster = "");

  void SetPoster(Poster post) { post_ = std::move(post); }

  // An outcome of a recipient must name it (an empty rcpt would be an unusable record): checked
  // (OUTPOST_INVARIANT); the record is written anyway, so the recipient still has one.
  void Write(const Outcome& outcome);
  void Flush() { sink_.Flush(); }
  bool Durable() const { return sink_.Durable(); }

  // After Flush(): may the finished recipients leave the spool now? kHold when the sink is not
  // durable (logged once per episode, naming `queue`).
  Marks Begin(const std::string& queue);
  // Marks recipient `rcpt` (kWholeMessage: the message) of `id` done, or holds it.
  void Mark(Marks marks, spool::SpoolId id, std::uint32_t rcpt);

  // Applies the held marks once the sink is durable again (checked at most once a second).
  void ReleaseHeld();
  // When ReleaseHeld() wants to run next (nullopt: nothing held).
  std::optional<MonoTime> NextCheck() const;
  std::size_t held() const { return held_.size(); }

  // After their b records are written and flushed: one DSN to `original`'s sender listing
  // `failed`, committed to the spool; `then` runs on the scheduler's thread (at once for
  // kNotNeeded). `queue` names the queue in the log. The original's header section is read back
  // from the spool for the DSN's third part.
  void CommitDsn(const std::string& queue, spool::SpoolId original, const spool::Envelope& env,
                 std::vector<FailedRecipient> failed, std::int64_t now_unix,
                 std::function<void(const DsnCommitResult&)> then);

 private:
  struct HeldMark {
    spool::SpoolId id;
    std::uint32_t rcpt;  // kWholeMessage: MarkMessageDone
  };

  OutcomeSink& sink_;
  spool::Spool& spool_;
  const Clock& clock_;
  std::string reporting_mta_;
  std::string postmaster_;
  Poster post_;
  std::vector<HeldMark> held_;
  MonoTime next_check_{};
};

}  // namespace outpost::queue
