// The stall watchdog: notices a queue that owes a delivery attempt and makes none.
//
// A queue *owes* an attempt when it has recipients due (fresh, or a retry whose time has come)
// and none of the waits the scheduler can explain holds it: paused, backoff mode, the hold after
// a failed connection (a retry interval), waiting for a connection slot (connection_caps.hpp) or
// for its share of the active set, or a rate limit (max-connect-rate, max-msg-rate,
// source-ip-max-msg-rate) whose next allowed time is still to come. Such a queue normally
// connects or sends within the same RunDue() round; one that has owed an attempt for
// queue-stall-warning-after with no connection or transaction started or finished meanwhile is
// *stalled* (a lost wake-up, a Deliverer callback that never came, a connection hanging past its
// timeouts): logged once per episode (a warning naming the queue), counted
// (QueueTotals::stalls), and shown (QueueStats::stalled, QueueTotals::stalled_queues) until it
// attempts again or stops owing (then one info line). The watchdog only observes: it does not
// kick the queue, so what it reports is what the scheduler did.
//
// Cost: a sweep of every queue once per check interval (a quarter of the threshold, between 1 s
// and 60 s), only while recipients are queued; each queue's check is O(its sources). A stall is
// reported between the threshold and the threshold plus one interval after it began.
//
// Thread-safety: the scheduler's thread only (queue_manager.hpp).
#include <algorithm>

#include "mta/log/log.hpp"
#include "mta/queue/queue_manager_impl.hpp"

namespace outpost::queue {

namespace {

bool RateWaits(const Gcra& rate, MonoTime now) { return rate.NextAllowed(now) > now; }

}  // namespace

std::chrono::seconds QueueManager::Impl::StallThreshold() const {
  return config->queue_stall_warning_after;
}

std::chrono::seconds QueueManager::Impl::StallCheckInterval() const {
  return std::clamp(StallThreshold() / 4, std::chrono::seconds(1), std::chrono::seconds(60));
}

void QueueManager::Impl::NoteAttempt(Queue& q, MonoTime now) {
  q.last_attempt = now;
  q.owing_since.reset();
  EndStall(q);
}

bool QueueManager::Impl::RateLimited(const Queue& q, MonoTime now) const {
  if (RateWaits(q.msg_rate, now) || RateWaits(q.connect_rate, now)) return true;
  return std::any_of(q.sources.begin(), q.sources.end(),
                     [&](const SourceSlot& s) { return RateWaits(s.msg_rate, now); });
}

bool QueueManager::Impl::OwesAttempt(const Queue& q, MonoTime now) const {
  if (q.paused || q.mode == QueueMode::kBackoff || now < q.hold_until) return false;
  if (!HasReadyWork(q, DueSeconds(now))) return false;
  if (q.waiting_for_active || caps.IsWaiting(q.index)) return false;
  return !RateLimited(q, now);
}

void QueueManager::Impl::CheckStall(Queue& q, MonoTime now, std::chrono::seconds threshold) {
  if (!OwesAttempt(q, now)) {
    q.owing_since.reset();
    EndStall(q);
    return;
  }
  if (!q.owing_since) q.owing_since = now;
  const MonoTime quiet_since = std::max(*q.owing_since, q.last_attempt);
  if (q.stalled || now - quiet_since < threshold) return;
  q.stalled = true;
  q.stats.stalled = true;
  ++stalls;
  ++stalled_queues;
  OUTPOST_LOG(kWarning, "queue") << q.name << " stalled: mail due but no delivery attempt for "
                                 << FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(
                                        now - quiet_since))
                                 << " (queue-stall-warning-after " << FormatDuration(threshold)
                                 << ")";
}

void QueueManager::Impl::EndStall(Queue& q) {
  if (!q.stalled) return;
  q.stalled = false;
  q.stats.stalled = false;
  --stalled_queues;
  OUTPOST_LOG(kInfo, "queue") << q.name << " no longer stalled";
}

void QueueManager::Impl::CheckStallsWhenDue(MonoTime now) {
  if (stopped) return;
  const std::chrono::seconds threshold = StallThreshold();
  if (threshold.count() == 0) {  // turned off: no episode stays open
    for (auto& q : queues) EndStall(*q);
    return;
  }
  if (now < next_stall_check) return;
  next_stall_check = now + StallCheckInterval();
  for (auto& q : queues) CheckStall(*q, now, threshold);
}

std::optional<MonoTime> QueueManager::Impl::NextStallCheck() const {
  if (stopped || StallThreshold().count() == 0 || queued == 0) return std::nullopt;
  return next_stall_check;
}

}  // namespace outpost::queue
