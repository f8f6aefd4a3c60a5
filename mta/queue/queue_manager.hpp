// The delivery scheduler: queues, shaping, backoff, retry, expiry and outcomes.
//
// Model. A queue per (destination, virtual MTA), named `domain/vmta` (queue_name.hpp). Each queue
// has two tiers, as in KumoMTA: a *fresh* FIFO of new recipients and a *scheduled* tier (a
// min-heap by due time) of recipients waiting for a retry; recipients of one message to several
// domains fan out to several queues. A queue forms transactions (one message, up to
// max-rcpt-per-transaction recipients) only on an idle connection, alternating between its fresh
// and its due-retry recipients, so a retry backlog can never starve fresh mail (nor the reverse).
// The *active set* — recipients in transactions being attempted — is bounded by
// `max_active_recipients`; queues that find it full wait, and freed capacity goes to them by
// weighted fair queuing on queue-priority (0..100, default 50): under contention each queue gets
// recipients in proportion to its priority + 1, so a higher priority is preferred, equal ones
// alternate and priority 0 still gets about 1 in 102 next to a 100 (never starved). A queue that
// was idle joins at the current turn: it cannot claim the share it did not use.
//
// Memory. Recipients are compact values, never std::string: a fresh entry is 8 bytes (message
// index, recipient index), a scheduled one 16 (plus due time and attempt count), and each message
// has one 40-byte record in a slab (spool id, time queued, size, remaining count, flags).
// Addresses and the rest of the envelope are re-read from the spool when a transaction is formed
// (the message bytes must be read then anyway), so memory per queued recipient does not depend on
// address length. Measured with tests/unit/queue/memory_bench.cpp (1,000,000 recipients queued,
// 1000 queues): 50.7 B of RSS per recipient at 1 recipient per message, 58 B at 10 per message
// spread over 10 queues (target: 128 B; PowerMTA about 1.4 KB).
//
// Shaping, per queue, by its policy — the destination's <domain> sections merged with those nested
// in its virtual MTA and the MTA's pools (domain_policy.hpp), so two virtual MTAs sending to one
// domain are shaped apart (mode-dependent: backoff-* while in backoff): max-smtp-out (connections
// opening, open, or closing — a connection counts until the Deliverer reports its socket closed,
// QUIT included, so a successor never overlaps it on our side), max-connect-rate and max-msg-rate
// (GCRA, gcra.hpp; max-msg-rate counts attempted recipients), max-msg-per-connection (then the
// connection is closed), max-rcpt-per-transaction; per source address of the vmta within the queue:
// source-ip-max-smtp-out (counted like max-smtp-out) and source-ip-max-msg-rate. An idle
// connection stays open for idle_connection_timeout even when its queue is empty, so a queue that
// drains for a moment (a relay keeping up with its input) reuses it instead of reconnecting.
//
// Above the queues (connection_caps.hpp): a virtual MTA's own `max-smtp-out` (its connections to
// all destinations) and `total-max-smtp-out` (all of outpostd's); a queue refused a slot by either
// waits, and every close wakes the waiting queues.
//
// mx-rollup. A domain D whose policy says `mx-rollup NAME` shares the queue `NAME/vmta` iff D's MX
// host set (Deliverer::ResolveMxHosts: names, preferences ignored) equals NAME's; when NAME is not
// a mail domain, the first member to resolve defines the set. A mismatch or a DNS failure keeps D
// in `D/vmta` (mail never goes to another domain's MX). D's recipients wait in a per-domain
// "parked" list (not in any queue) until both answers are in; decisions are cached for 1 h (60 s
// after a temporary DNS failure) and dropped on reload. The rolled-up queue uses the policy and
// the MX of the domain defining the set. See docs/config.md, `mx-rollup`.
//
// Backoff. A non-positive reply matching the queue's <smtp-pattern-list> with mode=backoff puts
// the queue in backoff (a mode=normal pattern takes it out); it returns to normal after
// backoff-to-normal-after, or at the first delivery when backoff-to-normal-after-delivery. Every
// change is logged and counted. Pause/Resume stop and restart a queue's deliveries; Delete
// bounces a queue's queued mail without DSNs (see Delete()).
//
// Jobs. A message's job id (X-Job, spool::Envelope::job_id) is interned once (jobs.hpp: a 32-bit
// index in the message record's padding, so no memory per message or recipient); the scheduler
// counts per job the recipients queued and their outcomes, and pauses, resumes and deletes by job
// (job_control.cpp: a paused job's recipients wait in their queue's held list).
//
// Outcomes. Every attempted recipient gets a typed Outcome (outcome.hpp) written to the
// OutcomeSink — accounting turns it into a d (2xx), b (5xx) or t (4xx, lost connection) record; a
// failed connection of a queue with no working connection gets one tq record and holds the queue
// for a retry interval (a permanent DNS failure bounces the recipients of the failing domain only —
// the others of a rolled-up queue stay, and one of their domains becomes the queue's MX lookup
// target; the envelopes are read from the spool to tell them apart). The commit order is fixed
// and lives in one place (completion.hpp): write the transaction's outcomes -> flush once -> only
// when durable Spool::MarkRecipientDone / MarkMessageDone for the final ones. A deferred recipient
// is rescheduled by the retry schedule (retry_schedule.hpp); one past bounce-after is bounced with
// bounceCat message-expired. Bounces send a DSN: the recipients of a message that fail for good in
// one attempt — refused with a 5xx at RCPT or after DATA, expired, or of a domain that does not
// exist — are listed in one DSN (RFC 3464, dsn.hpp; Status and Diagnostic-Code from the real reply)
// to the sender, committed to the spool as a new null-sender message; they are marked done only
// once that DSN is durable (a DSN that cannot be committed leaves them in the spool, so a restart
// retries; it is logged). Never for the null sender <>, hence never for a DSN (no bounce loops),
// nor for an operator's Delete(). Always on: PowerMTA's reference names no directive to turn it
// off. An expired recipient's DSN carries the last deferral's Diagnostic-Code and Remote-MTA: its
// own reply when it was deferred in the attempt that found it expired, else its queue's last
// deferral (kept once per queue, not per 16-byte recipient record; forgotten at a restart).
//
// Stall watchdog (stall_watchdog.cpp). A queue with due mail and no wait the scheduler can
// explain that makes no delivery attempt for queue-stall-warning-after is logged (once per
// episode) and counted (QueueTotals::stalls, stalled_queues; QueueStats::stalled). It observes
// only.
//
// Admission. Admit(n) is false when max-queued-recipients would be exceeded: the SMTP layer then
// answers 452 4.3.1 instead of letting the queue exhaust memory.
//
// Driving. Deliverer callbacks only queue work; RunDue() does it (completions, due timers,
// queue pumps) and NextWake() says when to call it again. Production arms an asio::steady_timer
// (QueueRunner in queue_runner.hpp); tests advance a SimulatedClock and call RunDue().
//
// Thread-safety: not thread-safe; every member runs on one thread (the io_context's). Spool
// commit handlers, which run on the spool's thread, come back through the `post` function.
// Known limits (XXX): mx-rollup decisions ignore DNS TTLs (1 h cache); queue-priority weighs only
// the active set (not connections, rates, or the order within a queue), and finding the next queue
// in line scans the waiting queues (linear in their number); queues are never garbage-collected;
// the spool is read synchronously on the scheduler's thread when a transaction is formed
// (measured: 4 pread(2) per transaction from the page cache, ~25 us; not a bottleneck — the relay
// benchmark's limit is the inbound commit path, bench/RESULTS.md "Relay throughput").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/config/config.hpp"
#include "mta/queue/deliverer.hpp"
#include "mta/queue/jobs.hpp"
#include "mta/queue/outcome.hpp"
#include "mta/queue/retry_schedule.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::queue {

struct QueueManagerOptions {
  std::string host_name = "localhost";              // DSN reporting MTA; EHLO of the default vmta
  std::string postmaster;                           // DSN From: ("" = MAILER-DAEMON@host_name)
  std::uint64_t max_queued_recipients = 0;          // admission ceiling; 0 = none
  std::uint64_t max_active_recipients = 100000;     // recipients in transactions at once
  std::chrono::seconds idle_connection_timeout{5};  // an idle connection with nothing to send
  std::string cold_counts_path;  // IP warm-up's per-day counts (cold_split.hpp); "" = memory only
};

struct QueueStats {
  std::string name;
  std::string mode;  // "normal" | "backoff"
  bool paused = false;
  std::uint64_t backoff_seconds = 0;  // in backoff mode: seconds since the queue entered it
  std::uint64_t recipients = 0;       // queued (fresh + scheduled + in transactions)
  std::uint64_t messages = 0;
  std::uint64_t connections = 0;  // open or opening
  std::uint64_t delivered = 0;
  std::uint64_t deferred = 0;
  std::uint64_t bounced = 0;  // includes expired
  std::uint64_t expired = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t mode_changes = 0;
  // Time in queue of its oldest recipient waiting (fresh, for a retry or held; not one in a
  // transaction): now - time queued of its message, 0 when none waits.
  std::uint64_t oldest_age_seconds = 0;
  // The stall watchdog (queue-stall-warning-after): mail due, no attempt, no reason known.
  bool stalled = false;
  std::string last_error;
  // IP warm-up, on a warm virtual MTA's queue: its cold virtual MTA ("" = none), the recipients
  // sent through it to this destination today and the day's cap (max-cold-virtual-mta-msg).
  std::string cold_vmta;
  std::uint64_t cold_today = 0;
  std::uint64_t cold_limit = 0;
};

struct QueueTotals {
  std::uint64_t queues = 0;
  std::uint64_t recipients = 0;
  std::uint64_t messages = 0;
  std::uint64_t active_recipients = 0;
  std::uint64_t connections = 0;
  std::uint64_t delivered = 0;
  std::uint64_t deferred = 0;
  std::uint64_t bounced = 0;
  std::uint64_t expired = 0;
  std::uint64_t dsns = 0;
  std::uint64_t recipients_in_backoff = 0;
  std::uint64_t queues_in_backoff = 0;
  std::uint64_t mode_changes = 0;
  std::uint64_t admission_refusals = 0;
  // Finished recipients kept in the spool until their final records are in the accounting file
  // (accounting disk full; see OutcomeSink::Durable).
  std::uint64_t held_completions = 0;
  std::uint64_t oldest_age_seconds = 0;  // the largest of the queues' oldest_age_seconds
  std::uint64_t stalls = 0;              // stall episodes since start-up (the stall watchdog)
  std::uint64_t stalled_queues = 0;      // queues stalled now
};

struct QueueSnapshot {
  QueueTotals totals;
  std::vector<QueueStats> queues;
  std::vector<JobStats> jobs;  // every job known (jobs.hpp: queued or recently finished)
};

// Thread-safety: not thread-safe (see the header comment).
class QueueManager {
 public:
  // Runs `task` on the scheduler's thread (production: asio::post + RunDue). Default: queues it
  // for the next RunDue() round (only valid when the spool calls back on the same thread, as fakes
  // do).
  using Poster = std::function<void(std::function<void()>)>;

  QueueManager(std::shared_ptr<const config::Config> config, QueueManagerOptions options,
               const Clock& clock, spool::Spool& spool, OutcomeSink& outcomes,
               Deliverer& deliverer);
  ~QueueManager();
  QueueManager(const QueueManager&) = delete;
  QueueManager& operator=(const QueueManager&) = delete;

  void SetPoster(Poster post);
  // Called (possibly from inside a Deliverer callback) when RunDue() has work now.
  void SetWakeHook(std::function<void()> wake);

  // New mail (the SMTP server's AcceptedHandler).
  void Enqueue(spool::SpoolId id, const spool::Envelope& envelope, std::uint64_t size);
  // A message found at recovery: its pending recipients go to the scheduled tier, due now.
  void Recover(const spool::RecoveredMessage& message);
  // The admission check: may `recipients` more be queued?
  bool Admit(std::size_t recipients);

  // Does everything due at the clock's now.
  void RunDue();
  // When RunDue() should next be called (nullopt: nothing scheduled).
  std::optional<MonoTime> NextWake() const;

  // Management. `name` is "domain/vmta", "domain" for all of its queues, or "*/vmta" for all
  // of a virtual MTA's queues. Return the number of queues affected.
  int Pause(const std::string& name);
  int Resume(const std::string& name);
  int SetMode(const std::string& name, QueueMode mode);
  // Alert-driven reroutes (reroutes.hpp): new mail for `target` (a provider name or a domain
  // list) goes through `pool` until ClearReroute(name). An error for an unknown provider.
  std::optional<std::string> SetReroute(const std::string& name, const std::string& target,
                                        const std::string& pool);
  bool ClearReroute(const std::string& name);
  // Deletes the queued mail of the matching queues (PowerMTA's `delete --queue`): every queued
  // recipient (fresh or scheduled) gets a b record (dsnAction failed, dsnStatus 5.0.0,
  // bounceCat other, dsnDiag "deleted by operator"), no DSN; the accounting log is flushed, then
  // the recipients are marked done in the spool. A recipient in a transaction at that moment is
  // not counted: it keeps that transaction's outcome (d or b), except that a deferral becomes the
  // same "deleted by operator" b record instead of a retry — one record per recipient either way.
  // Recipients still waiting for an mx-rollup decision are in no queue and stay (XXX). Returns
  // the recipients deleted, or -1 with `error` set when no queue matches.
  int Delete(const std::string& name, std::string* error = nullptr);

  // Jobs (job_control.cpp; PowerMTA's `pause job`, `resume job`, `delete --jobId`). PauseJob
  // holds the job's queued recipients and those that arrive later (a job not seen yet is created
  // paused); returns the recipients held now. ResumeJob puts them back in their queues (nullopt:
  // no such job). DeleteJob deletes the job's queued recipients in every queue as Delete() does a
  // queue's (nullopt: no such job).
  std::uint64_t PauseJob(const std::string& job);
  std::optional<std::uint64_t> ResumeJob(const std::string& job);
  std::optional<std::uint64_t> DeleteJob(const std::string& job);

  // Reload: policies, patterns and pools are re-read; queued recipients stay in their queues.
  void SetConfig(std::shared_ptr<const config::Config> config);
  // Closes idle connections and stops starting work.
  void Stop();

  QueueSnapshot Snapshot() const;
  std::uint64_t queued_recipients() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::queue
