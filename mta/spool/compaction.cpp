// Compaction: the live entries of a mostly-finished segment are copied forward into the active
// segment and the old segment is deleted, so that a few long-deferred messages do not pin
// gigabytes of delivered mail (see spool.hpp for the policy and its directives).
//
// One step, on the committer thread (which alone writes the active segment), for a slice of the
// victim's live entries, in this order; the names are the fault-injection steps:
//  1. read each entry from the victim and check its crc; wrap it as a version-2 ("relocated")
//     entry: its root (first location, its identity across copies), the location it is copied
//     from, and the recipients already finished (spool_entry.hpp);
//  2. "flag.write", "flag.sync": the first time a segment receives copies, a kind-4 mark in its
//     sidecar, synced, so recovery knows to look for copies there;
//  3. "copy.write", "copy.sync": append the copies to the active segment, fdatasync it (a new
//     segment's name was already made durable by CreateSegment). A failure truncates them away;
//     the originals are untouched;
//  4. "redirect": in memory, each copied entry now lives at its copy: the owner's handle is
//     forwarded, finished recipients marked since the snapshot in step 1 get marks at the copy,
//     and the original gets a kind-5 "moved" mark. An entry finished while it was being copied
//     gets a "finished" mark at its copy instead;
//  5. "marks.write": those marks are written (write(2): a kill -9 keeps them);
//  6. "marks.sync", "unlink.seg": when nothing live is left in the victim, its sidecar and those
//     of every segment that received its copies are synced, then its .seg file is deleted, then its
//     .done sidecar.
// A crash before 3 completes leaves at most a torn copy (moved aside at recovery) and the intact
// original. A crash after 3 and before 5 completes leaves two valid entries with one root:
// recovery keeps the newest copy, merges the marks at the older locations into it, and marks the
// others moved (recovery.cpp). After 5 the original is dead by its own mark. So a crash at any
// point loses nothing and never yields two live copies of one message.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "mta/spool/spool_entry.hpp"
#include "mta/spool/spool_impl.hpp"

namespace outpost::spool::internal {
namespace {

// Most bytes copied in one step (one write, one fdatasync).
constexpr std::uint64_t kMaxSliceBytes = 4ull << 20;
// A rate-limited step waits until at least this much may be copied, so that compaction adds a few
// large writes per second rather than one small fdatasync per batch of injected mail.
constexpr std::uint64_t kMinSliceBytes = 1ull << 20;
// After a failed attempt a segment is left alone this long.
constexpr std::int64_t kRetryAfterErrorNs = 30'000'000'000;

}  // namespace

std::shared_ptr<Segment> SpoolImpl::PickVictimLocked(std::int64_t now_ns, bool ignore_age) const {
  if (options_.compaction_threshold <= 0) return nullptr;
  const std::int64_t min_age_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.compaction_min_age).count();
  std::shared_ptr<Segment> best;
  double best_fraction = 2;
  for (const auto& [number, segment] : segments_) {
    if (segment == active_ || segment->live.empty() || segment->size == 0) continue;
    if (now_ns < segment->compact_after_ns) continue;
    if (!ignore_age && segment->retired_ns != 0 && now_ns - segment->retired_ns < min_age_ns) {
      continue;
    }
    const double fraction =
        static_cast<double>(segment->live_bytes) / static_cast<double>(segment->size);
    if (fraction < options_.compaction_threshold && fraction < best_fraction) {
      best = segment;
      best_fraction = fraction;
    }
  }
  return best;
}

// A step whose moved marks could not be synced: its victim waits until they are. False while
// they still are not.
bool SpoolImpl::SyncUnsyncedMarks(std::int64_t now) {
  if (unsynced_.empty()) return true;
  if (now < unsynced_retry_ns_) return false;
  WriteMarks(TakeMarks(true));
  bool synced = true;
  for (const auto& segment : unsynced_) synced = DataSync(segment->done_fd, "marks") && synced;
  if (!synced) {
    unsynced_retry_ns_ = now + kRetryAfterErrorNs;
    return false;
  }
  unsynced_.clear();
  return true;
}

// Token bucket: the rate's worth of bytes accrues (up to a quarter second's, at least one minimum
// slice); a step may take what has accrued, and a large entry may overdraw it. While new mail is
// being committed, slices are small: the committer thread writes both.
std::uint64_t SpoolImpl::SliceBudget(std::int64_t now, bool limited, bool busy) {
  const std::uint64_t max_slice = busy ? kMinSliceBytes : kMaxSliceBytes;
  if (!limited) return max_slice;
  const double rate = static_cast<double>(options_.compaction_rate);
  const double burst = std::max(rate / 4, static_cast<double>(kMinSliceBytes));
  if (tokens_at_ns_ != 0) {
    compaction_tokens_ += rate * static_cast<double>(now - tokens_at_ns_) / 1e9;
  }
  compaction_tokens_ = std::min(compaction_tokens_, burst);
  tokens_at_ns_ = now;
  return std::min<std::uint64_t>(max_slice,
                                 static_cast<std::uint64_t>(std::max(0.0, compaction_tokens_)));
}

std::optional<SpoolImpl::CompactResult> SpoolImpl::ChooseSlice(std::int64_t now, bool unlimited,
                                                               bool limited, std::uint64_t budget,
                                                               Slice& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!victim_) {
    victim_ = PickVictimLocked(now, unlimited);
    if (!victim_) return CompactResult::kIdle;
    victim_->compacting = true;
  }
  slice.victim = victim_;
  // A slice waits for a minimum slice's worth of tokens (or the victim's rest, if smaller), so
  // that compaction adds a few large writes, not one small fdatasync per wake-up.
  if (limited &&
      budget < std::min(kMinSliceBytes, std::max<std::uint64_t>(1, victim_->live_bytes))) {
    return CompactResult::kWaiting;
  }
  std::uint64_t total = 0;
  for (const auto& [offset, state] : victim_->live) {
    if (!slice.items.empty() && total + state.bytes > budget) break;
    SliceItem item{
        offset, state.bytes, {{victim_->number, offset}, {victim_->number, offset}}, state.done};
    if (auto c = victim_->copies.find(offset); c != victim_->copies.end()) {
      item.identity = c->second;
    }
    total += state.bytes;
    slice.items.push_back(std::move(item));
  }
  return std::nullopt;
}

// 1. Read and wrap: each item's entry, checked, becomes a relocated entry in the buffer.
void SpoolImpl::ReadSlice(Slice& slice) {
  for (SliceItem& item : slice.items) {
    std::string entry(item.bytes, '\0');
    std::string_view payload;
    std::string_view inner;
    bool relocated = false;
    const std::size_t start = slice.buffer.size();
    if (!PreadAll(slice.victim->fd, entry.data(), entry.size(), item.offset) ||
        CheckEntry(entry.data(), entry.size(), &payload, nullptr) != EntryCheck::kOk ||
        !DecodeRelocation(payload, nullptr, &relocated, &inner) ||
        !AppendRelocatedEntry(
            Relocation{item.identity.root, SpoolId{slice.victim->number, item.offset}, item.done},
            inner, slice.buffer)) {
      slice.failed = true;  // left where it is; the victim is retried later
      continue;
    }
    slice.starts.push_back(start);
    slice.source_bytes += item.bytes;
    slice.copied.push_back(std::move(item));
  }
}

// 2 and 3. Durable copies in the active segment (flagged as holding copies first).
void SpoolImpl::WriteSlice(Slice& slice) {
  if (slice.copied.empty()) return;
  struct statvfs vfs {};
  // Compaction may write below spool-min-free (it is what gives space back), but not into the
  // last few megabytes.
  const bool room = ::statvfs(segments_dir_.c_str(), &vfs) == 0 &&
                    static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize >=
                        2 * slice.buffer.size() + kMinSliceBytes;
  CommitStatus status = CommitStatus::kOk;
  std::shared_ptr<Segment> dest = room ? ActiveSegmentForWrite(status) : nullptr;
  if (dest && !dest->holds_copies) {
    std::string flag;
    AppendMark(kMarkHoldsCopies, 0, 0, flag);
    if (WriteAll(dest->done_fd, flag.data(), flag.size()) && Step("flag.write") &&
        DataSync(dest->done_fd, "flag") && Step("flag.sync")) {
      dest->holds_copies = true;
    } else {
      dest = nullptr;
    }
  }
  if (dest) {
    slice.base = dest->size;  // only this thread changes the active segment's size
    const bool ok = PwriteAll(dest->fd, slice.buffer.data(), slice.buffer.size(), slice.base) &&
                    Step("copy.write") && DataSync(dest->fd, "copy") && Step("copy.sync");
    if (!ok) {
      if (::ftruncate(dest->fd, static_cast<off_t>(slice.base)) != 0) {
        // XXX: the copies stay as a valid tail; recovery then prefers them to the originals,
        // which is still exactly one live location per message.
      }
      dest = nullptr;
    }
  }
  if (!dest) {
    slice.failed = true;
    slice.copied.clear();
  }
  slice.dest = dest;
}

// 4. Redirect: each copy becomes the live location (forward_ maps the message's first handle to
// it); the victim gets a "moved" mark per entry, the copy the marks that arrived meanwhile.
void SpoolImpl::RedirectSlice(Slice& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  if (slice.dest) {
    Segment& dest = *slice.dest;
    Segment& victim = *slice.victim;
    dest.size = slice.base + slice.buffer.size();
    for (std::size_t i = 0; i < slice.copied.size(); ++i) {
      const SliceItem& item = slice.copied[i];
      const std::size_t end =
          i + 1 < slice.starts.size() ? slice.starts[i + 1] : slice.buffer.size();
      const SpoolId at{dest.number, slice.base + slice.starts[i]};
      const auto bytes = static_cast<std::uint32_t>(end - slice.starts[i]);
      auto m = victim.live.find(item.offset);
      if (m == victim.live.end()) {
        // Finished while it was being copied: its marks are in the victim's sidecar, which is
        // about to go, so the copy says so itself.
        AppendMark(kMarkMessage, 0, at.offset, dest.pending_marks);
        pending_mark_bytes_ += kMarkSize;
        continue;
      }
      MessageState state = std::move(m->second);
      for (std::size_t r = 0; r < state.done.size(); ++r) {
        if (state.done[r] && !item.done[r]) {
          AppendMark(kMarkRecipient, static_cast<std::uint32_t>(r), at.offset, dest.pending_marks);
          pending_mark_bytes_ += kMarkSize;
        }
      }
      victim.live_bytes -= state.bytes;
      live_bytes_ -= state.bytes;
      victim.live.erase(m);
      victim.copies.erase(item.offset);
      AppendMark(kMarkMoved, 0, item.offset, victim.pending_marks);
      pending_mark_bytes_ += kMarkSize;
      state.bytes = bytes;
      dest.live_bytes += bytes;
      live_bytes_ += bytes;
      dest.live.emplace(at.offset, std::move(state));
      dest.copies.emplace(at.offset, item.identity);
      forward_[item.identity.handle] = at;
    }
    compaction_bytes_copied_ += slice.source_bytes;
  }
  if (slice.failed) compaction_errors_++;
}

SpoolImpl::CompactResult SpoolImpl::CompactStep(bool unlimited, bool busy) {
  const std::int64_t now = NowNs();
  if (!SyncUnsyncedMarks(now)) return CompactResult::kWaiting;
  const bool limited = !unlimited && options_.compaction_rate > 0;
  const std::uint64_t budget = SliceBudget(now, limited, busy);
  Slice slice;
  if (auto result = ChooseSlice(now, unlimited, limited, budget, slice)) return *result;
  if (slice.items.empty()) return FinishVictim(slice.victim);

  ReadSlice(slice);
  WriteSlice(slice);
  RedirectSlice(slice);
  const std::shared_ptr<Segment>& victim = slice.victim;
  if (slice.dest) {
    Step("redirect");
    // 5. The marks that make the move final, written now (a kill -9 keeps what was written);
    // they are synced, with every sidecar that received this victim's copies, in FinishVictim.
    if (std::find(victim_dests_.begin(), victim_dests_.end(), slice.dest) == victim_dests_.end()) {
      victim_dests_.push_back(slice.dest);
    }
    WriteMarks(TakeMarks(true));
    if (!Step("marks.write")) return MarksNotDurable(victim, now);
  }
  if (limited) compaction_tokens_ -= static_cast<double>(slice.source_bytes);
  if (slice.failed) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!victim->live.empty()) {
      victim->compacting = false;
      victim->compact_after_ns = now + kRetryAfterErrorNs;
      victim_ = nullptr;
      victim_dests_.clear();
      return PickVictimLocked(now, unlimited) != nullptr ? CompactResult::kProgress
                                                         : CompactResult::kIdle;
    }
  }
  return FinishVictim(victim);
}

SpoolImpl::CompactResult SpoolImpl::MarksNotDurable(const std::shared_ptr<Segment>& victim,
                                                    std::int64_t now) {
  // The victim (and with it every original) stays until a later step syncs the marks.
  std::lock_guard<std::mutex> lock(mu_);
  compaction_errors_++;
  unsynced_ = victim_dests_;
  unsynced_.push_back(victim);
  unsynced_retry_ns_ = now + kRetryAfterErrorNs;
  return CompactResult::kWaiting;
}

// 6. Deletes the victim once nothing live is left in it.
SpoolImpl::CompactResult SpoolImpl::FinishVictim(const std::shared_ptr<Segment>& victim) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!victim->live.empty()) return CompactResult::kProgress;
  }
  // The moved marks in the victim and the carried marks at the copies, synced before the victim
  // goes (a kill -9 needs only the write; the sync also covers a power loss).
  WriteMarks(TakeMarks(true));
  bool synced = DataSync(victim->done_fd, "marks");
  for (const auto& dest : victim_dests_) synced = DataSync(dest->done_fd, "marks") && synced;
  if (!synced || !Step("marks.sync")) return MarksNotDurable(victim, NowNs());
  victim_dests_.clear();
  // Nothing else deletes or writes a compacting victim, so the files can go outside the lock.
  const std::string base = segments_dir_ + "/";
  ::unlink((base + SegmentFileName(victim->number, "seg")).c_str());
  if (Step("unlink.seg")) ::unlink((base + SegmentFileName(victim->number, "done")).c_str());
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t size = victim->size;
  pending_mark_bytes_ -= std::min(pending_mark_bytes_, victim->pending_marks.size());
  victim->pending_marks.clear();
  segments_.erase(victim->number);
  victim_ = nullptr;
  compactions_++;
  compaction_bytes_reclaimed_ += size;
  return CompactResult::kProgress;
}

}  // namespace outpost::spool::internal
