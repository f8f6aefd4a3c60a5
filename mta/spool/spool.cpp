// The durable spool (see spool.hpp for the contract): commits, completion marks and reads.
// recovery.cpp scans the segments at start-up, compaction.cpp copies live entries forward.
//
// * Commit() frames the entry (payload encoding + crc32) on the caller's thread, so the committer
//   thread only concatenates, writes and syncs. Segments roll over between batches, so a segment
//   may exceed segment_bytes by at most one batch.
// * After Recover() every older segment is read-only; new entries always go to a fresh segment.
// * Completion marks (spool_impl.hpp has the sidecar format) are buffered in memory per segment
//   and appended by the committer thread in batches (one write per segment, no fsync:
//   at-least-once delivery after a crash).
#include "mta/spool/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "mta/spool/spool_entry.hpp"
#include "mta/spool/spool_impl.hpp"

namespace outpost::spool {
namespace internal {
namespace {
// Buffered completion marks are written when this many bytes are pending, or on the committer's
// next wake-up (a batch, or at the latest kMarkFlushInterval).
constexpr std::size_t kMarkFlushBytes = 4096;
constexpr auto kMarkFlushInterval = std::chrono::milliseconds(200);
// While compaction has work left, the committer wakes this often to copy the next slice.
constexpr auto kCompactionPoll = std::chrono::milliseconds(20);
constexpr int kCompactionStepsPerWake = 4;

}  // namespace

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string SegmentFileName(std::uint32_t number, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08u.%s", number, ext);
  return buf;
}

// "00000012.seg" -> 12; false for anything else.
bool ParseSegmentFileName(const std::string& name, const char* ext, std::uint32_t& number) {
  std::string suffix = std::string(".") + ext;
  if (name.size() != 8 + suffix.size() || name.compare(8, suffix.size(), suffix) != 0) {
    return false;
  }
  std::uint32_t n = 0;
  for (int i = 0; i < 8; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<std::uint32_t>(name[i] - '0');
  }
  number = n;
  return true;
}

void AppendMark(std::uint8_t kind, std::uint32_t value, std::uint64_t offset, std::string& out) {
  char b[kMarkSize] = {};
  b[0] = static_cast<char>(kind);
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<char>((value >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<char>((offset >> (8 * i)) & 0xff);
  out.append(b, kMarkSize);
}

bool WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool PreadAll(int fd, char* p, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

bool PwriteAll(int fd, const char* p, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (w == 0) {
      errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return true;
}

bool ReadWholeFile(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    ok = PreadAll(fd, out.data(), out.size(), 0);
  }
  ::close(fd);
  return ok;
}

bool WriteFileSynced(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = WriteAll(fd, bytes.data(), bytes.size()) && ::fsync(fd) == 0;
  if (::close(fd) != 0) ok = false;
  return ok;
}

void FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

Segment::~Segment() {
  if (fd >= 0) ::close(fd);
  if (done_fd >= 0) ::close(done_fd);
}

SpoolImpl::SpoolImpl(const SpoolOptions& options, int lock_fd, std::uint32_t next_segment)
    : options_(options),
      segments_dir_(options.dir + "/segments"),
      corrupt_dir_(options.dir + "/corrupt"),
      lock_fd_(lock_fd),
      next_segment_(next_segment),
      min_free_bytes_(options.min_free_bytes) {}

SpoolImpl::~SpoolImpl() {
  Stop();
  std::vector<PendingCommit> leftover;
  {
    std::lock_guard<std::mutex> lock(mu_);
    leftover.swap(pending_);
  }
  for (auto& c : leftover) c.done(CommitStatus::kShuttingDown, SpoolId{});
  WriteMarks(TakeMarks(true));
  ::close(lock_fd_);  // releases the flock
}

bool SpoolImpl::Step(std::string_view step) const {
  return !options_.fault_injection || options_.fault_injection(step);
}

bool SpoolImpl::DataSync(int fd, std::string_view what) const {
  if (!options_.sync) return true;
  if (::fdatasync(fd) != 0) return false;
  if (options_.on_data_sync) options_.on_data_sync(what);
  return true;
}

bool SpoolImpl::Healthy() const {
  const std::int64_t now = NowNs();
  std::int64_t last = last_probe_ns_.load(std::memory_order_relaxed);
  if (now - last >= std::chrono::nanoseconds(kHealthProbeInterval).count() &&
      last_probe_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    struct statvfs vfs {};
    if (::statvfs(segments_dir_.c_str(), &vfs) == 0) {
      const std::uint64_t free_bytes =
          static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
      // A failed write (EIO) also gets another chance here: the next commit proves it either way,
      // and a failing commit only ever refuses the message it carried.
      healthy_.store(free_bytes >= min_free_bytes_.load());
    }
  }
  return healthy_.load();
}

// ---- committer -------------------------------------------------------------------------------

void SpoolImpl::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  committer_ = std::thread([this] { CommitterLoop(); });
}

void SpoolImpl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void SpoolImpl::Commit(SpoolMessage message, CommitHandler done) {
  PendingCommit c;
  if (!AppendMessageEntry(message.envelope, message.data, c.entry)) {
    done(CommitStatus::kIoError, SpoolId{});  // beyond kMaxPayload; the SMTP layer caps far lower
    return;
  }
  c.recipients = static_cast<std::uint32_t>(message.envelope.recipients.size());
  c.done = std::move(done);
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      c.done(CommitStatus::kShuttingDown, SpoolId{});
      return;
    }
    pending_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void SpoolImpl::CommitterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait_for(lock, compaction_busy_ ? kCompactionPoll : kMarkFlushInterval, [this] {
      return stopping_ || !pending_.empty() || pending_mark_bytes_ >= kMarkFlushBytes ||
             compact_requested_ > compact_completed_;
    });
    // Gather: the committers released by the last batch come back at about the same time. When
    // that batch was large and only a few are back yet, wait (briefly) for the rest, so that the
    // first one does not pay a whole fdatasync alone while the others queue behind it (a convoy
    // of alternating 1- and 19-message batches). A lone committer never waits.
    if (!stopping_ && !pending_.empty() && last_batch_size_ >= kGatherMinBatch &&
        pending_.size() * 2 < last_batch_size_) {
      cv_.wait_for(lock, kGatherWindow,
                   [this] { return stopping_ || pending_.size() * 2 >= last_batch_size_; });
    }
    std::vector<PendingCommit> batch;
    batch.swap(pending_);
    last_batch_size_ = batch.size();
    const bool exiting = stopping_;
    const std::uint64_t compact_ticket = compact_requested_;
    lock.unlock();
    WriteMarks(TakeMarks(true));
    if (!batch.empty()) ProcessBatch(batch);
    // Compaction runs here, between batches, so that it never writes the active segment at the
    // same time as a batch; its slices are bounded by spool-compaction-rate.
    if (!exiting) {
      if (compact_ticket > compact_completed_) {
        while (CompactStep(true) == CompactResult::kProgress) {
          std::lock_guard<std::mutex> guard(mu_);
          if (stopping_) break;  // a stop does not wait for a whole pass
        }
        compaction_busy_ = false;
      } else {
        // Several victims may fit in the tokens accrued; a few steps at most, so that the next
        // batch of new mail does not wait long.
        const bool busy = !batch.empty();
        CompactResult result = CompactResult::kProgress;
        for (int steps = 0;
             steps < (busy ? 1 : kCompactionStepsPerWake) && result == CompactResult::kProgress;
             ++steps) {
          result = CompactStep(false, busy);
        }
        compaction_busy_ = result != CompactResult::kIdle;
      }
    }
    lock.lock();
    if (compact_ticket > compact_completed_) {
      compact_completed_ = compact_ticket;
      compacted_cv_.notify_all();
    }
    if (exiting && pending_.empty()) break;
  }
  compact_completed_ = compact_requested_;
  compacted_cv_.notify_all();
}

void SpoolImpl::CompactNow() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_ || stopping_) return;
  const std::uint64_t ticket = ++compact_requested_;
  cv_.notify_all();
  compacted_cv_.wait(lock, [&] { return compact_completed_ >= ticket; });
}

std::shared_ptr<Segment> SpoolImpl::CreateSegment(std::uint32_t number) {
  const std::string base = segments_dir_ + "/";
  auto segment = std::make_shared<Segment>();
  segment->number = number;
  segment->fd = ::open((base + SegmentFileName(number, "seg")).c_str(),
                       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (segment->fd < 0) return nullptr;
  segment->done_fd = ::open((base + SegmentFileName(number, "done")).c_str(),
                            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (segment->done_fd < 0) {
    int saved = errno;
    ::unlink((base + SegmentFileName(number, "seg")).c_str());
    errno = saved;
    return nullptr;
  }
  // The new names must survive a crash before any entry in them is acknowledged.
  int dir_fd = ::open(segments_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool synced = dir_fd >= 0 && (!options_.sync || ::fsync(dir_fd) == 0);
  int saved = errno;
  if (dir_fd >= 0) ::close(dir_fd);
  errno = saved;
  if (!synced) return nullptr;  // the files stay; empty segments are removed at recovery
  return segment;
}

std::shared_ptr<Segment> SpoolImpl::ActiveSegmentForWrite(CommitStatus& status) {
  std::uint32_t number;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_ && active_->size < options_.segment_bytes) return active_;
    number = next_segment_;
  }
  auto segment = CreateSegment(number);
  if (!segment) {
    status =
        (errno == ENOSPC || errno == EDQUOT) ? CommitStatus::kDiskFull : CommitStatus::kIoError;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mu_);
  next_segment_ = number + 1;
  std::shared_ptr<Segment> old = active_;
  active_ = segment;
  segments_[number] = segment;
  if (old) {
    old->retired_ns = NowNs();
    if (old->live.empty() && !old->compacting) RemoveSegmentLocked(old.get());
  }
  return segment;
}

CommitStatus SpoolImpl::WriteBatch(std::vector<PendingCommit>& batch, std::vector<SpoolId>& ids,
                                   std::string& why) {
  struct statvfs vfs {};
  if (::statvfs(segments_dir_.c_str(), &vfs) != 0) {
    why = Errno("statvfs " + segments_dir_);
    return CommitStatus::kIoError;
  }
  const std::uint64_t free_bytes =
      static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
  if (free_bytes < min_free_bytes_.load()) {
    why = std::to_string(free_bytes) + " bytes free, below spool-min-free (" +
          std::to_string(min_free_bytes_.load()) + " bytes)";
    return CommitStatus::kDiskFull;
  }

  CommitStatus status = CommitStatus::kOk;
  std::shared_ptr<Segment> segment = ActiveSegmentForWrite(status);
  if (!segment) {
    why = Errno("create segment in " + segments_dir_);
    return status;
  }

  const std::uint64_t base = segment->size;  // only this thread changes the active size
  std::size_t total = 0;
  for (const auto& c : batch) total += c.entry.size();
  std::string buffer;
  buffer.reserve(total);
  ids.clear();
  for (const auto& c : batch) {
    ids.push_back(SpoolId{segment->number, base + buffer.size()});
    buffer += c.entry;
  }

  // One write(2) for the whole batch (looping only if the kernel writes it short), one sync.
  const char* p = buffer.data();
  std::size_t left = buffer.size();
  std::uint64_t offset = base;
  int error = 0;
  while (left > 0) {
    ssize_t w = ::pwrite(segment->fd, p, left, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      error = w < 0 ? errno : ENOSPC;
      break;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  if (error == 0 && options_.sync_new_messages && !DataSync(segment->fd, "commit")) error = errno;
  if (error != 0) {
    why = std::string(left > 0 ? "write" : "fdatasync") + " segment " +
          std::to_string(segment->number) + ": " + std::strerror(error);
    // Cut the partial batch away so the segment ends on a whole, acknowledged entry.
    if (::ftruncate(segment->fd, static_cast<off_t>(base)) != 0) {
      // XXX: the tail stays; recovery will treat it as a torn tail or damage, never as accepted.
    }
    return (error == ENOSPC || error == EDQUOT) ? CommitStatus::kDiskFull : CommitStatus::kIoError;
  }

  std::lock_guard<std::mutex> lock(mu_);
  segment->size = base + buffer.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::uint32_t n = batch[i].recipients;
    const auto bytes = static_cast<std::uint32_t>(batch[i].entry.size());
    segment->live.emplace(ids[i].offset, MessageState{std::vector<bool>(n, false), n, bytes});
    segment->live_bytes += bytes;
    live_bytes_ += bytes;
  }
  live_entries_ += batch.size();
  return CommitStatus::kOk;
}

void SpoolImpl::ProcessBatch(std::vector<PendingCommit>& batch) {
  std::vector<SpoolId> ids;
  std::string why;
  CommitStatus status = WriteBatch(batch, ids, why);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status == CommitStatus::kOk) {
      commits_ += batch.size();
      batches_++;
    } else {
      commit_failures_ += batch.size();
      last_commit_error_ = std::move(why);
    }
  }
  healthy_.store(status == CommitStatus::kOk);
  if (status != CommitStatus::kOk) {
    // A failure holds for at least one probe interval before space is probed again.
    last_probe_ns_.store(NowNs());
  }
  // Handlers run only now: after the data is on stable storage (or the batch has failed).
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(status, status == CommitStatus::kOk ? ids[i] : SpoolId{});
  }
}

// ---- completion marks ----------------------------------------------------------------------

SpoolImpl::MarkBatch SpoolImpl::TakeMarks(bool all) {
  MarkBatch out;
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_mark_bytes_ == 0 || (!all && pending_mark_bytes_ < kMarkFlushBytes)) return out;
  for (auto& [number, segment] : segments_) {
    if (segment->pending_marks.empty()) continue;
    out.emplace_back(segment, std::string());
    out.back().second.swap(segment->pending_marks);
  }
  pending_mark_bytes_ = 0;
  return out;
}

void SpoolImpl::WriteMarks(const MarkBatch& marks) {
  for (const auto& [segment, bytes] : marks) {
    // No fsync: a lost mark means a recipient may be delivered twice after a crash, never lost.
    if (segment->done_fd >= 0) WriteAll(segment->done_fd, bytes.data(), bytes.size());
  }
}

SpoolImpl::Found SpoolImpl::FindLocked(SpoolId handle) const {
  SpoolId at = handle;
  if (!forward_.empty()) {
    if (auto f = forward_.find(handle); f != forward_.end()) at = f->second;
  }
  auto s = segments_.find(at.segment);
  if (s == segments_.end()) return {};
  auto m = s->second->live.find(at.offset);
  if (m == s->second->live.end()) return {};
  return {s->second.get(), at.offset, &m->second};
}

void SpoolImpl::MarkRecipientDone(SpoolId id, std::uint32_t recipient_index) {
  std::lock_guard<std::mutex> lock(mu_);
  Found f = FindLocked(id);
  if (f.state == nullptr) return;
  MessageState& state = *f.state;
  if (recipient_index >= state.done.size() || state.done[recipient_index]) return;
  state.done[recipient_index] = true;
  state.remaining--;
  AppendMark(kMarkRecipient, recipient_index, f.offset, f.segment->pending_marks);
  pending_mark_bytes_ += kMarkSize;
  if (state.remaining == 0) AfterMessageDoneLocked(f.segment, f.offset);
  if (pending_mark_bytes_ >= kMarkFlushBytes) cv_.notify_one();
}

void SpoolImpl::MarkMessageDone(SpoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  Found f = FindLocked(id);
  if (f.state == nullptr) return;
  AppendMark(kMarkMessage, 0, f.offset, f.segment->pending_marks);
  pending_mark_bytes_ += kMarkSize;
  AfterMessageDoneLocked(f.segment, f.offset);
  if (pending_mark_bytes_ >= kMarkFlushBytes) cv_.notify_one();
}

void SpoolImpl::AfterMessageDoneLocked(Segment* segment, std::uint64_t offset) {
  auto m = segment->live.find(offset);
  segment->live_bytes -= m->second.bytes;
  live_bytes_ -= m->second.bytes;
  segment->live.erase(m);
  if (auto c = segment->copies.find(offset); c != segment->copies.end()) {
    forward_.erase(c->second.handle);
    segment->copies.erase(c);
  }
  live_entries_--;
  // A segment being compacted is deleted by compaction, once its moved marks are durable.
  if (segment->live.empty() && segment != active_.get() && !segment->compacting) {
    RemoveSegmentLocked(segment);
  }
}

void SpoolImpl::RemoveSegmentLocked(Segment* segment) {
  const std::string base = segments_dir_ + "/";
  // The entries first, then their marks: a crash in between leaves an orphan sidecar (removed at
  // recovery), never entries without their marks.
  ::unlink((base + SegmentFileName(segment->number, "seg")).c_str());
  ::unlink((base + SegmentFileName(segment->number, "done")).c_str());
  pending_mark_bytes_ -= std::min(pending_mark_bytes_, segment->pending_marks.size());
  segment->pending_marks.clear();
  segments_.erase(segment->number);  // may destroy *segment
  // Descriptors close when the last shared_ptr (maybe a reader's) goes.
}

// ---- reading -------------------------------------------------------------------------------

bool SpoolImpl::ReadEntry(SpoolId id, Envelope& envelope, std::string* data) const {
  std::shared_ptr<Segment> segment;
  std::uint64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Found f = FindLocked(id);
    if (f.state == nullptr) return false;
    segment = segments_.at(f.segment->number);
    offset = f.offset;
  }
  char header[kEntryHeaderSize];
  if (!PreadAll(segment->fd, header, sizeof header, offset)) return false;
  std::uint32_t len = 0;
  for (int i = 7; i >= 4; --i) len = (len << 8) | static_cast<unsigned char>(header[i]);
  if (len > kMaxPayload) return false;
  std::string entry(kEntryOverhead + len, '\0');
  if (!PreadAll(segment->fd, entry.data(), entry.size(), offset)) return false;
  std::string_view payload;
  if (CheckEntry(entry.data(), entry.size(), &payload, nullptr) != EntryCheck::kOk) return false;
  return DecodePayload(payload, envelope, data, nullptr);
}

bool SpoolImpl::ReadData(SpoolId id, std::string& data) const {
  Envelope envelope;
  return ReadEntry(id, envelope, &data);
}

bool SpoolImpl::ReadEnvelope(SpoolId id, Envelope& envelope) const {
  // XXX: reads the whole entry to verify its crc; fine for typical sizes, wasteful for huge ones.
  return ReadEntry(id, envelope, nullptr);
}

SpoolStats SpoolImpl::Stats() const {
  SpoolStats stats;
  // Probed (at most every kHealthProbeInterval), not only what the last commit left: /ready and
  // spool_healthy see a disk below spool-min-free before any mail is refused.
  stats.healthy = Healthy();
  std::lock_guard<std::mutex> lock(mu_);
  stats.entries = live_entries_;
  stats.live_bytes = live_bytes_;
  for (const auto& [number, segment] : segments_) stats.bytes += segment->size;
  stats.segments = segments_.size();
  stats.commits = commits_;
  stats.batches = batches_;
  stats.commit_failures = commit_failures_;
  stats.last_commit_error = last_commit_error_;
  stats.damaged_total = damaged_total_;
  stats.compactions = compactions_;
  stats.compaction_bytes_copied = compaction_bytes_copied_;
  stats.compaction_bytes_reclaimed = compaction_bytes_reclaimed_;
  stats.compaction_errors = compaction_errors_;
  return stats;
}

}  // namespace internal

namespace {

bool MakeDir(const std::string& path, std::string* error) {
  if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) return true;
  if (error) *error = internal::Errno("cannot create " + path);
  return false;
}

}  // namespace

const char* CommitStatusName(CommitStatus status) {
  switch (status) {
    case CommitStatus::kOk:
      return "ok";
    case CommitStatus::kDiskFull:
      return "disk full";
    case CommitStatus::kIoError:
      return "i/o error";
    case CommitStatus::kShuttingDown:
      return "shutting down";
  }
  return "?";
}

std::unique_ptr<Spool> Spool::Open(const SpoolOptions& options, std::string* error) {
  if (options.dir.empty()) {
    if (error) *error = "spool directory not set";
    return nullptr;
  }
  // mkdir -p for the spool directory itself.
  for (std::size_t p = 1; p <= options.dir.size(); ++p) {
    if (p == options.dir.size() || options.dir[p] == '/') {
      if (!MakeDir(options.dir.substr(0, p), error)) return nullptr;
    }
  }
  if (!MakeDir(options.dir + "/segments", error) || !MakeDir(options.dir + "/corrupt", error)) {
    return nullptr;
  }
  const std::string lock_path = options.dir + "/lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd < 0) {
    if (error) *error = internal::Errno("cannot open " + lock_path);
    return nullptr;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (error)
      *error = internal::Errno("spool " + options.dir + " is in use (lock " + lock_path + ")");
    ::close(lock_fd);
    return nullptr;
  }
  // New segments are numbered after every existing one, recovered or not.
  std::uint32_t max_number = 0;
  if (DIR* d = ::opendir((options.dir + "/segments").c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::uint32_t n;
      if (internal::ParseSegmentFileName(e->d_name, "seg", n) ||
          internal::ParseSegmentFileName(e->d_name, "done", n)) {
        max_number = std::max(max_number, n);
      }
    }
    ::closedir(d);
  }
  return std::make_unique<internal::SpoolImpl>(options, lock_fd, max_number + 1);
}

std::string NewQueueId() {
  // High 32 bits: UNIX seconds; low 32 bits: a counter started at a random point, so ids stay
  // unique within a run and (barring a 1-in-2^32 overlap within one second) across restarts.
  static std::atomic<std::uint32_t> counter{static_cast<std::uint32_t>(std::random_device{}())};
  std::uint64_t seconds = static_cast<std::uint64_t>(std::time(nullptr)) & 0xffffffffu;
  std::uint64_t value = (seconds << 32) | counter.fetch_add(1);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace outpost::spool
