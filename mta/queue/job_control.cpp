// Jobs in the scheduler (QueueManager::Impl methods; the state is in queue_manager_impl.hpp, the
// table in jobs.hpp): pause, resume and delete by job.
//
// Pause. A paused job's queued recipients move out of their queue's fresh and scheduled tiers into
// the queue's `held` list (kept with their due time and attempts), so no connection is opened and
// no transaction formed for them; a recipient of the job that arrives, comes back from a deferral
// or leaves mx-rollup parking while the job is paused goes there too (Hold, AddToQueue). Resume
// puts them back in the scheduled tier, due when they were (at once for fresh ones). Recipients in
// a transaction when the job is paused finish it; a deferral among them is held. Held recipients
// do not expire while held (XXX): bounce-after is applied when they come due after the resume.
//
// Delete. Every queued recipient of the job, in every queue (held included), gets the operator's
// delete record (as `delete --queue`, queue_outcomes.cpp DeleteQueued); one in a transaction keeps
// that transaction's outcome, except that a deferral becomes the delete record
// (JobTable::Deletions, DeletedInFlight).
//
// Thread-safety: the scheduler's thread only (queue_manager.hpp).
#include <algorithm>
#include <utility>

#include "mta/log/log.hpp"
#include "mta/queue/queue_manager_impl.hpp"

namespace outpost::queue {

std::vector<std::pair<std::uint32_t, std::uint32_t>> QueueManager::Impl::TakeQueued(
    Queue& q, std::optional<std::uint32_t> job) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> taken;
  auto take = [&](std::uint32_t m, std::uint32_t rcpt) {
    if (job && messages[m].job != *job) return false;
    taken.emplace_back(m, rcpt);
    return true;
  };
  std::erase_if(q.fresh, [&](const FreshEntry& e) { return take(e.msg, e.rcpt); });
  const std::size_t before = q.retry.size();
  std::erase_if(q.retry, [&](const RetryEntry& e) { return take(e.msg, e.rcpt); });
  if (q.retry.size() != before) std::make_heap(q.retry.begin(), q.retry.end(), RetryLater());
  std::erase_if(q.held, [&](const RetryEntry& e) { return take(e.msg, e.rcpt); });
  return taken;
}

void QueueManager::Impl::Hold(Queue& q, RetryEntry entry) {
  if (jobs.Paused(messages[entry.msg].job)) {
    q.held.push_back(entry);
    return;
  }
  q.retry.push_back(entry);
  std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
}

std::uint64_t QueueManager::Impl::HoldJob(Queue& q, std::uint32_t job, MonoTime now) {
  const std::size_t before = q.held.size();
  const std::uint32_t now_due = DueSeconds(now);
  std::erase_if(q.fresh, [&](const FreshEntry& e) {
    if (messages[e.msg].job != job) return false;
    q.held.push_back(RetryEntry{now_due, e.msg, e.rcpt, 0});
    return true;
  });
  const std::size_t retry_before = q.retry.size();
  std::erase_if(q.retry, [&](const RetryEntry& e) {
    if (messages[e.msg].job != job) return false;
    q.held.push_back(e);
    return true;
  });
  if (q.retry.size() != retry_before) std::make_heap(q.retry.begin(), q.retry.end(), RetryLater());
  return q.held.size() - before;
}

std::uint64_t QueueManager::Impl::ReleaseJob(Queue& q, std::uint32_t job) {
  std::uint64_t released = 0;
  std::erase_if(q.held, [&](const RetryEntry& e) {
    if (messages[e.msg].job != job) return false;
    q.retry.push_back(e);
    std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
    ++released;
    return true;
  });
  if (released > 0) MarkDirty(q);
  return released;
}

bool QueueManager::Impl::DeletedInFlight(const Queue& q, const InFlight& flight,
                                         std::uint32_t m) const {
  return flight.deletions != q.deletions || flight.job_deletions != jobs.Deletions(messages[m].job);
}

// ---- the public API --------------------------------------------------------------------------
std::uint64_t QueueManager::PauseJob(const std::string& job) {
  const std::uint32_t index = impl_->jobs.Intern(job, impl_->clock.Now().unix_seconds());
  if (index == JobTable::kNoJob) return 0;
  if (!impl_->jobs.Paused(index)) {
    OUTPOST_LOG(kInfo, "queue") << "job " << job << " paused";
  }
  impl_->jobs.SetPaused(index, true);
  const MonoTime now = impl_->clock.Now().mono;
  std::uint64_t held = 0;
  for (auto& q : impl_->queues) held += impl_->HoldJob(*q, index, now);
  return held;
}

std::optional<std::uint64_t> QueueManager::ResumeJob(const std::string& job) {
  const auto index = impl_->jobs.Find(job);
  if (!index) return std::nullopt;
  if (impl_->jobs.Paused(*index)) {
    OUTPOST_LOG(kInfo, "queue") << "job " << job << " resumed";
  }
  std::uint64_t released = 0;
  for (auto& q : impl_->queues) released += impl_->ReleaseJob(*q, *index);
  impl_->jobs.SetPaused(*index, false);
  impl_->Notify();
  return released;
}

std::optional<std::uint64_t> QueueManager::DeleteJob(const std::string& job) {
  const auto index = impl_->jobs.Find(job);
  if (!index) return std::nullopt;
  impl_->jobs.CountDeletion(*index);
  const Instant now = impl_->clock.Now();
  std::uint64_t deleted = 0;
  for (std::size_t i = 0; i < impl_->queues.size(); ++i) {
    deleted += impl_->DeleteQueued(*impl_->queues[i], now, *index);
  }
  OUTPOST_LOG(kInfo, "queue") << "job " << job << ": " << deleted
                              << " recipient(s) deleted by operator";
  impl_->Notify();
  return deleted;
}

}  // namespace outpost::queue
