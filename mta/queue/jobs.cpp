#include "mta/queue/jobs.hpp"

#include <algorithm>

namespace outpost::queue {

JobTable::JobTable(std::size_t max_finished) : max_finished_(max_finished), slots_(1) {}

std::uint32_t JobTable::Intern(std::string_view id, std::int64_t now_unix) {
  if (id.empty()) return kNoJob;
  if (auto found = Find(id)) return *found;
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    slots_[index] = Slot{};
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  s.live = true;
  s.stats.id = std::string(id);
  s.stats.first_seen_unix = now_unix;
  by_id_.emplace(s.stats.id, index);
  return index;
}

std::optional<std::uint32_t> JobTable::Find(std::string_view id) const {
  if (id.empty()) return std::nullopt;
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

void JobTable::Accepted(std::uint32_t index, std::uint32_t recipients, std::int64_t now_unix) {
  if (index == kNoJob) return;
  Slot& s = slots_[index];
  if (s.finished_seq != 0) {  // back from the finished list
    s.finished_seq = 0;
    --finished_count_;
  }
  s.stats.recipients += recipients;
  s.stats.received += recipients;
  ++s.stats.messages;
  s.stats.last_seen_unix = now_unix;
}

void JobTable::Finished(std::uint32_t index, std::uint32_t recipients, bool message_done) {
  if (index == kNoJob) return;
  JobStats& j = slots_[index].stats;
  j.recipients -= std::min<std::uint64_t>(j.recipients, recipients);
  if (message_done && j.messages > 0) --j.messages;
  MaybeRetire(index);
}

void JobTable::SetPaused(std::uint32_t index, bool paused) {
  if (index == kNoJob) return;
  Slot& s = slots_[index];
  s.stats.paused = paused;
  if (paused && s.finished_seq != 0) {
    s.finished_seq = 0;
    --finished_count_;
  }
  MaybeRetire(index);
}

void JobTable::Count(const Outcome& o) {
  if (o.kind == OutcomeKind::kConnectionFailed) return;
  auto index = Find(o.job_id);
  if (!index) return;
  JobStats& j = slots_[*index].stats;
  switch (o.kind) {
    case OutcomeKind::kDelivered:
      ++j.delivered;
      break;
    case OutcomeKind::kDeferred:
      ++j.deferred;
      break;
    case OutcomeKind::kExpired:
      ++j.expired;
      ++j.bounced;
      break;
    case OutcomeKind::kDeleted:
      ++j.deleted;
      ++j.bounced;
      break;
    case OutcomeKind::kBounced:
    case OutcomeKind::kDomainFailed:
      ++j.bounced;
      break;
    case OutcomeKind::kConnectionFailed:
      break;
  }
}

// A job with nothing queued that is not paused joins the finished list; the oldest finished
// beyond max_finished_ are forgotten.
void JobTable::MaybeRetire(std::uint32_t index) {
  Slot& s = slots_[index];
  if (s.stats.recipients != 0 || s.stats.paused || s.finished_seq != 0) return;
  s.finished_seq = next_seq_++;
  finished_.emplace_back(index, s.finished_seq);
  ++finished_count_;
  while (finished_count_ > max_finished_ && !finished_.empty()) {
    auto [old, seq] = finished_.front();
    finished_.pop_front();
    Slot& o = slots_[old];
    if (!o.live || o.finished_seq != seq) continue;  // revived since: a stale entry
    by_id_.erase(o.stats.id);
    o = Slot{};
    free_.push_back(old);
    --finished_count_;
  }
  // Stale entries (jobs revived since) are dropped once they outnumber the current ones.
  if (finished_.size() > 2 * finished_count_ + 64) {
    std::erase_if(finished_, [this](const auto& e) {
      return !slots_[e.first].live || slots_[e.first].finished_seq != e.second;
    });
  }
}

std::vector<JobStats> JobTable::Snapshot() const {
  std::vector<JobStats> out;
  out.reserve(by_id_.size());
  for (const auto& [id, index] : by_id_) out.push_back(slots_[index].stats);
  return out;
}

}  // namespace outpost::queue
