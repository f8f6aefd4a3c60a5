// Internal to mta/queue: the scheduler's state (QueueManager::Impl) and its compact records,
// shared by the files that implement it. Nothing outside mta/queue includes this header;
// queue_manager.hpp is the contract (and says what the scheduler does).
//
// One owner: every member below belongs to the one Impl and runs on the scheduler's thread; the
// files split its methods by concern, not its state:
// * queue_manager.cpp — scheduling proper: intake, queues and their policy, Pump() (shaping),
//   FormBatch(), expiry sweeps, backoff mode, the active set's fair share, RunDue(), the public
//   API;
// * connection_lifecycle.cpp — a connection from StartConnect() to ForgetConnection(), and a
//   transaction from StartSend() to OnSent() (the replies become outcomes there);
// * queue_outcomes.cpp — final outcomes outside a transaction's replies (expiry, a domain that
//   cannot receive mail, an operator's delete, an unreadable spool entry), Finalize() (forget the
//   recipient, mark it done through Completion) and BounceWithDsn();
// * mx_rollup.cpp (class MxRollup) — which destination a recipient domain uses; parked recipients
//   come back through PlaceParked();
// * completion.cpp (class Completion) — write -> flush -> DSN commit -> durable -> mark done.
// * job_control.cpp — pause, resume and delete by job (the table of jobs and their counters is
//   class JobTable, jobs.hpp).
// * stall_watchdog.cpp — the stall watchdog: queues with due mail and no attempt, no known reason.
//
// Invariants (checked with OUTPOST_INVARIANT where a violation would otherwise be smoothed over):
// a message record's `remaining` counts its recipients without a final outcome (> 0 while any is
// queued, parked or in a transaction); `active` counts the recipients in transactions; a
// connection in state kBusy or kClosing stays in its queue's `connections` until OnSent() or the
// Deliverer's close callback; every recipient index refers to the message's envelope in the spool.
//
// Thread-safety: not thread-safe (see queue_manager.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mta/delivery/reply_classifier.hpp"
#include "mta/queue/cold_split.hpp"
#include "mta/queue/completion.hpp"
#include "mta/queue/connection_caps.hpp"
#include "mta/queue/domain_policy.hpp"
#include "mta/queue/gcra.hpp"
#include "mta/queue/jobs.hpp"
#include "mta/queue/mx_rollup.hpp"
#include "mta/queue/policy_settings.hpp"
#include "mta/queue/queue_manager.hpp"
#include "mta/queue/queue_name.hpp"
#include "mta/queue/reroutes.hpp"

namespace outpost::queue {

inline constexpr std::uint32_t kNoMessage = 0xffffffffu;
// A recipient costs a queue of weight w (1..101) kPassScale / w of pass; the scale makes the
// integer division's rounding negligible (under 1 in 10,000 of a step).
inline constexpr std::uint64_t kPassScale = 1'000'000;

// One per message in the slab. 40 bytes.
struct MessageRecord {
  spool::SpoolId id;              // 16 (u32 + padding + u64)
  std::uint32_t time_queued = 0;  // UNIX seconds (good until 2106)
  std::uint32_t size = 0;         // bytes, saturated
  std::uint32_t remaining = 0;    // recipients without a final outcome; 0 = free slot
  std::uint32_t next_free = kNoMessage;
  std::uint8_t flags = 0;
  std::uint32_t job = JobTable::kNoJob;  // interned job id (jobs.hpp); in the padding
};
static_assert(sizeof(MessageRecord) <= 40, "a message record stays 40 bytes");
inline constexpr std::uint8_t kNullSender = 1;
inline constexpr std::uint8_t kSingleQueue = 2;
inline constexpr std::uint8_t kVerp = 4;  // XVERP / verp-default: one recipient per transaction

// A fresh recipient: 8 bytes.
struct FreshEntry {
  std::uint32_t msg;
  std::uint32_t rcpt;
};

// A scheduled recipient: 16 bytes. `due` is in 100 ms ticks since the manager's steady epoch.
struct RetryEntry {
  std::uint32_t due;
  std::uint32_t msg;
  std::uint32_t rcpt;
  std::uint8_t attempts;
};
// std::*_heap build max-heaps; "greater" gives the earliest due (then message order) on top.
struct RetryLater {
  bool operator()(const RetryEntry& a, const RetryEntry& b) const {
    if (a.due != b.due) return a.due > b.due;
    if (a.msg != b.msg) return a.msg > b.msg;
    return a.rcpt > b.rcpt;
  }
};

struct BatchEntry {
  std::uint32_t msg;
  std::uint32_t rcpt;
  std::uint8_t attempts;
};

// kClosing: QUIT/close in progress; still counted against max-smtp-out (and the source's limit)
// until the Deliverer reports the socket closed.
enum class ConnState : std::uint8_t { kConnecting, kIdle, kBusy, kClosing };

struct Connection {
  std::uint64_t serial = 0;  // ours; the Deliverer's id is known only once connected
  std::string domain;        // the MX lookup target it was opened for (a kPermFail names it)
  ConnectionId id = 0;
  std::uint32_t source = 0;  // index into Queue::sources
  ConnState state = ConnState::kConnecting;
  std::uint32_t messages = 0;
  std::uint32_t errors = 0;  // recipients refused on it (max-errors-per-connection)
  MonoTime idle_since{};
  ConnectOutcome info;
};

struct SourceSlot {
  std::string address;
  std::string ehlo;
  int connections = 0;
  Gcra msg_rate;
};

struct Queue {
  std::uint32_t index = 0;
  QueueKey key;
  std::string name;
  std::string mx_domain;      // a recipient domain of the queue, for the MX lookup
  std::string policy_domain;  // whose merged <domain> policy the queue uses (fixed), with the
                              // sections of key.vmta and its pools (domain_policy.hpp)
  EffectiveDomainPolicy policy;
  std::deque<FreshEntry> fresh;
  std::vector<RetryEntry> retry;  // heap (RetryLater)
  // Recipients of paused jobs (job_control.cpp), out of both tiers until their job is resumed.
  std::vector<RetryEntry> held;
  bool prefer_fresh = true;
  bool paused = false;
  QueueMode mode = QueueMode::kNormal;
  MonoTime backoff_since{};
  Gcra connect_rate;
  Gcra msg_rate;
  std::vector<SourceSlot> sources;
  std::uint32_t next_source = 0;
  std::vector<Connection> connections;
  MonoTime hold_until{};
  std::optional<MonoTime> next_wake;
  bool dirty = false;
  bool waiting_for_active = false;
  // Weighted fair share of the active set (see FeedActiveSet): weight = queue-priority + 1, and
  // `pass` grows by kPassScale / weight per recipient the queue puts in a transaction.
  std::uint32_t weight = 51;
  std::uint64_t pass = 0;
  // Bumped by Delete(): a transaction started before it turns a would-be deferral into a
  // "deleted by operator" bounce (its recipients were not in the queue to delete).
  std::uint32_t deletions = 0;
  // The queue's last deferral (a 4xx or a connection failure): what the DSN of a recipient that
  // expires without an attempt of its own says (see LastDeferral, completion.hpp).
  LastDeferral last_deferral;
  // MX addresses that said 421, tried last until the time given (smtp-421-means-mx-unavailable).
  std::vector<std::pair<std::string, MonoTime>> unavailable_mx;
  // The stall watchdog (stall_watchdog.cpp): when a connection or transaction of the queue last
  // started or finished, since when a sweep has seen it owe an attempt, and whether it is in a
  // reported stall.
  MonoTime last_attempt{};
  std::optional<MonoTime> owing_since;
  bool stalled = false;
  QueueStats stats;
};

// A transaction on its way.
struct InFlight {
  std::uint32_t queue = 0;
  std::uint32_t deletions = 0;      // Queue::deletions when it started
  std::uint32_t job_deletions = 0;  // JobTable::Deletions of its message's job when it started
  std::uint64_t connection = 0;
  std::vector<BatchEntry> entries;
  spool::Envelope envelope;
  std::uint64_t size = 0;
};

// What one transaction's replies decided (OnSent), before the flush.
struct AttemptResult {
  std::vector<std::uint32_t> finals;      // delivered (or deleted): done after the flush
  std::vector<FailedRecipient> failed;    // 5xx: done once their DSN is durable
  std::vector<std::uint32_t> expired;     // deferred past bounce-after: in that DSN too
  std::vector<LastDeferral> expired_why;  // why each of `expired` was deferred
  bool delivered = false;
};

// The earliest of the wake-ups a pump asks for.
struct WakeAt {
  std::optional<MonoTime> at;
  void Want(MonoTime t) {
    if (!at || t < *at) at = t;
  }
};

struct QueueManager::Impl {
  Impl(std::shared_ptr<const config::Config> config_in, QueueManagerOptions options_in,
       const Clock& clock_in, spool::Spool& spool_in, OutcomeSink& sink_in,
       Deliverer& deliverer_in);

  std::shared_ptr<const config::Config> config;
  QueueManagerOptions options;
  const Clock& clock;
  spool::Spool& spool;
  JobTable jobs;             // job ids, their counters and pauses (jobs.hpp)
  JobCountingSink job_sink;  // counts each outcome under its job, then accounting
  Completion completion;     // write -> flush -> DSN -> durable -> mark done (completion.hpp)
  Deliverer& deliverer;
  std::unique_ptr<delivery::ReplyClassifier> classifier;
  VmtaSelector selector;
  Reroutes reroutes;    // alert-driven (reroutes.hpp)
  MxRollup rollup;      // recipient domain -> queue destination (mx_rollup.hpp)
  ConnectionCaps caps;  // a virtual MTA's max-smtp-out, total-max-smtp-out (connection_caps.hpp)
  ColdSplit cold;       // IP warm-up: warm -> cold virtual MTA, today's counts (cold_split.hpp)
  MonoTime epoch;
  std::function<void()> wake;

  std::vector<MessageRecord> messages;
  std::uint32_t free_messages = kNoMessage;
  std::vector<std::unique_ptr<Queue>> queues;
  std::unordered_map<std::string, std::uint32_t> queue_by_name;
  // (message << 32 | queue) -> recipients pending, for messages spread over several queues.
  std::unordered_map<std::uint64_t, std::uint32_t> pair_counts;

  std::vector<std::pair<MonoTime, std::uint32_t>> wake_heap;  // min-heap via greater
  std::vector<std::uint32_t> dirty;
  std::vector<std::uint32_t> waiting_for_active;  // queues refused a share of the active set
  std::uint64_t virtual_pass = 0;                 // pass of the queue served last (see Served)
  std::vector<std::function<void()>> completions;
  std::uint64_t next_serial = 1;
  bool in_run = false;
  bool stopped = false;

  std::uint64_t queued = 0;
  std::uint64_t live_messages = 0;
  std::uint64_t active = 0;
  std::uint64_t dsns = 0;
  std::uint64_t admission_refusals = 0;
  std::uint64_t stalls = 0;          // stall episodes since start-up
  std::uint64_t stalled_queues = 0;  // queues in a stall now
  MonoTime next_stall_check{};

  // ---- time (queue_manager.cpp) ---------------------------------------------------------------
  // Due times are kept in 100 ms ticks since the epoch: 32 bits last 13 years of uptime, and a
  // 1 s retry-after is kept to within 100 ms (whole seconds could add almost a second).
  static constexpr std::int64_t kTickNs = 100'000'000;
  std::uint32_t DueSeconds(MonoTime t) const;
  std::uint32_t DueCeil(MonoTime t) const;
  MonoTime FromDue(std::uint32_t due) const;

  // ---- messages, queues, intake (queue_manager.cpp) -------------------------------------------
  std::uint32_t AllocMessage();
  void FreeMessage(std::uint32_t index);
  void ApplyPolicy(Queue& q);
  // `mx_domain`: the MX lookup target, whose policy the queue also uses.
  Queue& FindOrCreateQueue(const QueueKey& key, const std::string& mx_domain);
  // The virtual MTA a recipient through `vmta` to `dest` is queued for: its cold virtual MTA while
  // today's max-cold-virtual-mta-msg allows (counted), else `vmta` itself.
  std::string WarmUpVmta(const std::string& vmta, const Destination& dest);
  void AddToQueue(Queue& q, std::uint32_t m, std::uint32_t rcpt, bool as_retry, MonoTime now);
  void MarkDirty(Queue& q);
  void ScheduleWake(Queue& q, MonoTime t);
  void Notify();
  // Runs `task` on the next RunDue() round (a Deliverer callback's work).
  void Defer(std::function<void()> task);
  void Intake(spool::SpoolId id, const spool::Envelope& env, std::uint64_t size,
              const std::vector<bool>* done, bool as_retry);
  // MxRollup's decision for recipients that waited for it.
  void PlaceParked(const Destination& dest, std::vector<ParkedRecipient> parked);
  std::vector<Queue*> Match(const std::string& name);

  // ---- pumping (queue_manager.cpp) ------------------------------------------------------------
  bool RetryDue(const Queue& q, std::uint32_t now_due) const;
  bool HasReadyWork(const Queue& q, std::uint32_t now_due) const;
  bool Expired(const Queue& q, std::uint32_t m, std::int64_t now_unix) const;
  int MaxSmtpOut(const Queue& q) const;
  int MaxMsgPerConnection(const Queue& q) const;
  void ChangeMode(Queue& q, QueueMode mode, MonoTime now, const std::string& why);
  void Pump(Queue& q);
  void LeaveBackoffWhenDue(Queue& q, MonoTime now, WakeAt& wake_at);
  // One step of filling the queue's connections; false when the queue can do no more now.
  bool PumpStep(Queue& q, const Instant& now, WakeAt& wake_at);
  bool WaitForActiveSet(Queue& q);
  bool SendOnIdle(Queue& q, Connection& idle, const Instant& now, WakeAt& wake_at);
  bool OpenConnection(Queue& q, const Instant& now, WakeAt& wake_at);
  void CloseIdleConnections(Queue& q, const Instant& now, bool work, WakeAt& wake_at);
  void ReleaseIdleSlots(const Queue& waiting, const Instant& now);
  std::vector<BatchEntry> FormBatch(Queue& q, const Instant& now, std::uint32_t limit);
  void SweepExpired(Queue& q, const Instant& now);
  // The earliest time queued (UNIX seconds) of the queue's waiting recipients; 0: none waits.
  // Scans the queue (once per snapshot: 1,000,000 waiting recipients take about a millisecond).
  std::uint32_t OldestQueued(const Queue& q) const;

  // ---- the active set's fair share (queue_manager.cpp) ----------------------------------------
  void Served(Queue& q, std::size_t n);
  std::uint64_t EffectivePass(const Queue& q) const;
  bool Before(const Queue& a, const Queue& b) const;
  bool YieldsActiveSet(const Queue& q) const;
  void LeaveWaiting(Queue& q);
  void FeedActiveSet();
  void LeaveActiveSet(std::size_t n);

  // ---- driving (queue_manager.cpp) ------------------------------------------------------------
  void RunDue();
  void RunWakeUps(MonoTime now);

  // ---- connections and transactions (connection_lifecycle.cpp) -------------------------------
  void StartConnect(Queue& q, std::uint32_t source);
  void OnConnected(Queue& q, std::uint64_t serial, ConnectOutcome outcome);
  void OnConnectFailed(Queue& q, const std::string& failed_domain, const ConnectOutcome& outcome,
                       const Instant& now);
  void CheckPatterns(Queue& q, const std::vector<delivery::Reply>& replies, MonoTime now);
  void StartSend(Queue& q, Connection& c, std::vector<BatchEntry> batch);
  void OnSent(InFlight& flight, BatchOutcome outcome);
  AttemptResult RecordReplies(Queue& q, const InFlight& flight,
                              const std::vector<delivery::Reply>& replies,
                              const delivery::TransactionResult& result, const ConnectOutcome& info,
                              const Instant& now);
  // smtp-421-means-mx-unavailable: true when a reply of the transaction was a 421 and the
  // queue's policy says so; the connection's MX address is then tried last for a retry interval.
  bool MxSaid421(Queue& q, const delivery::TransactionResult& result, const ConnectOutcome& info,
                 MonoTime now);
  std::vector<std::string> AvoidedMx(Queue& q, MonoTime now);
  void Reschedule(Queue& q, std::uint32_t m, std::uint32_t rcpt, std::uint8_t attempts,
                  const Instant& now, bool at_once = false);
  void FinishAttempt(Queue& q, const InFlight& flight, AttemptResult result, const Instant& now);
  void ReleaseConnection(Queue& q, std::size_t index, const BatchOutcome& outcome, MonoTime now);
  void CloseConnection(Queue& q, std::size_t i);
  void ForgetConnection(Queue& q, std::size_t i);
  Connection* FindConnection(Queue& q, std::uint64_t serial, std::size_t* index = nullptr);

  // ---- final outcomes outside a transaction (queue_outcomes.cpp) -----------------------------
  // Forgets recipients that have their final record (and, if mark_spool, marks them done in the
  // spool; the accounting log must have been flushed before).
  void Finalize(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts,
                bool mark_spool);
  Outcome BaseOutcome(OutcomeKind kind, const Queue& q, const spool::Envelope& env,
                      const std::string& rcpt, std::int64_t now_unix, std::uint64_t size) const;
  static void FillConnection(Outcome& o, const ConnectOutcome& info);
  // Removes from `rcpts` the indices `env` does not have (an impossible state: counted, and those
  // recipients are left in the spool for recovery); false when none is left.
  bool KeepKnownRecipients(Queue& q, std::uint32_t m, const spool::Envelope& env,
                           std::vector<std::uint32_t>& rcpts);
  void WriteExpired(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts,
                    const spool::Envelope& env, std::int64_t now_unix,
                    std::vector<FailedRecipient>& failed,
                    const std::vector<LastDeferral>* why = nullptr);
  void Expire(Queue& q, std::uint32_t m, std::vector<std::uint32_t> rcpts, std::int64_t now_unix);
  void BounceWithDsn(Queue& q, std::uint32_t m, std::vector<FailedRecipient> failed,
                     const spool::Envelope& env, std::int64_t now_unix);
  // Deletes the queue's queued recipients (fresh, scheduled, held), or only those of `job`.
  std::uint64_t DeleteQueued(Queue& q, const Instant& now,
                             std::optional<std::uint32_t> job = std::nullopt);
  void DropUnreadable(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts);
  void BounceDomain(Queue& q, const std::string& domain, const ConnectOutcome& outcome,
                    const Instant& now);

  // ---- the stall watchdog (stall_watchdog.cpp) -----------------------------------------------
  std::chrono::seconds StallThreshold() const;  // 0: off
  std::chrono::seconds StallCheckInterval() const;
  // A connection or transaction of the queue started or finished.
  void NoteAttempt(Queue& q, MonoTime now);
  bool RateLimited(const Queue& q, MonoTime now) const;
  // Due recipients and no wait the scheduler can explain (see stall_watchdog.cpp).
  bool OwesAttempt(const Queue& q, MonoTime now) const;
  void CheckStall(Queue& q, MonoTime now, std::chrono::seconds threshold);
  void EndStall(Queue& q);
  // Sweeps the queues when the check interval has passed (end of a RunDue() round).
  void CheckStallsWhenDue(MonoTime now);
  std::optional<MonoTime> NextStallCheck() const;

  // ---- jobs (job_control.cpp) ----------------------------------------------------------------
  // Takes the queue's recipients (of `job`, or all) out of its tiers and the held list.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> TakeQueued(Queue& q,
                                                                  std::optional<std::uint32_t> job);
  // Where a recipient waits now: the held list when its job is paused, else the scheduled tier.
  void Hold(Queue& q, RetryEntry entry);
  std::uint64_t HoldJob(Queue& q, std::uint32_t job, MonoTime now);
  std::uint64_t ReleaseJob(Queue& q, std::uint32_t job);
  bool DeletedInFlight(const Queue& q, const InFlight& flight, std::uint32_t m) const;
};

}  // namespace outpost::queue
