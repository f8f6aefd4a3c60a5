// The durable spool (see spool.hpp for the contract). Implementation notes:
//
// * Commit() frames the entry (payload encoding + crc32) on the caller's thread, so the committer
//   thread only concatenates, writes and syncs. Segments roll over between batches, so a segment
//   may exceed segment_bytes by at most one batch.
// * After Recover() every older segment is read-only; new entries always go to a fresh segment.
//   Damaged regions in the middle of an old segment cannot be cut out, so after copying them to
//   corrupt/ recovery appends a "skip" mark to the segment's .done sidecar and fsyncs it; later
//   recoveries step over the region silently. A torn tail is cut off with ftruncate instead.
// * .done sidecar: fixed 16-byte records, little endian: u8 kind | 3 bytes zero | u32 value |
//   u64 entry offset. kind 1 = recipient `value` done, 2 = whole message done, 3 = skip `value`
//   bytes (damaged region already moved aside). A trailing partial record (torn) is ignored.
//   Marks are buffered in memory per segment and appended by the committer thread in batches
//   (one write per segment, no fsync: at-least-once delivery after a crash).
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

namespace outpost::spool {
namespace {

constexpr std::size_t kMarkSize = 16;
constexpr std::uint8_t kMarkRecipient = 1;
constexpr std::uint8_t kMarkMessage = 2;
constexpr std::uint8_t kMarkSkip = 3;
// Buffered completion marks are written when this many bytes are pending, or on the committer's
// next wake-up (a batch, or at the latest kMarkFlushInterval).
constexpr std::size_t kMarkFlushBytes = 4096;
constexpr auto kMarkFlushInterval = std::chrono::milliseconds(200);

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

struct MessageState {
  std::vector<bool> done;
  std::uint32_t remaining = 0;
};

// One segment file and its sidecar. Thread-compatible: guarded by SpoolImpl::mu_, except the
// descriptors, which are immutable once set and stay open while any shared_ptr holds the object.
struct Segment {
  std::uint32_t number = 0;
  int fd = -1;       // the .seg file, read-write
  int done_fd = -1;  // the .done sidecar, append-only
  std::uint64_t size = 0;
  std::unordered_map<std::uint64_t, MessageState> live;  // by entry offset
  std::string pending_marks;

  ~Segment() {
    if (fd >= 0) ::close(fd);
    if (done_fd >= 0) ::close(done_fd);
  }
};

struct PendingCommit {
  std::string entry;  // framed entry bytes
  std::uint32_t recipients = 0;
  CommitHandler done;
};

// Thread-safe, per spool.hpp.
class SpoolImpl final : public Spool {
 public:
  SpoolImpl(const SpoolOptions& options, int lock_fd, std::uint32_t next_segment)
      : options_(options),
        segments_dir_(options.dir + "/segments"),
        corrupt_dir_(options.dir + "/corrupt"),
        lock_fd_(lock_fd),
        next_segment_(next_segment),
        min_free_bytes_(options.min_free_bytes) {}

  ~SpoolImpl() override {
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

  RecoveryReport Recover(const std::function<void(RecoveredMessage&&)>& visit) override;
  void Start() override;
  void Stop() override;
  void Commit(SpoolMessage message, CommitHandler done) override;
  bool ReadData(SpoolId id, std::string& data) const override;
  bool ReadEnvelope(SpoolId id, Envelope& envelope) const override;
  void MarkRecipientDone(SpoolId id, std::uint32_t recipient_index) override;
  void MarkMessageDone(SpoolId id) override;
  bool Healthy() const override;
  SpoolStats Stats() const override;
  void SetMinFreeBytes(std::uint64_t bytes) override { min_free_bytes_.store(bytes); }

 private:
  using MarkBatch = std::vector<std::pair<std::shared_ptr<Segment>, std::string>>;

  void CommitterLoop();
  void ProcessBatch(std::vector<PendingCommit>& batch);
  CommitStatus WriteBatch(std::vector<PendingCommit>& batch, std::vector<SpoolId>& ids);
  std::shared_ptr<Segment> ActiveSegmentForWrite(CommitStatus& status);
  std::shared_ptr<Segment> CreateSegment(std::uint32_t number);
  MarkBatch TakeMarks(bool all);
  void WriteMarks(const MarkBatch& marks);
  void AfterMessageDoneLocked(const std::shared_ptr<Segment>& segment, std::uint64_t offset);
  void RemoveSegmentLocked(const std::shared_ptr<Segment>& segment);
  bool ReadEntry(SpoolId id, Envelope& envelope, std::string* data) const;
  void RecoverSegment(std::uint32_t number, bool last,
                      const std::function<void(RecoveredMessage&&)>& visit, RecoveryReport& report);

  const SpoolOptions options_;
  const std::string segments_dir_;
  const std::string corrupt_dir_;
  const int lock_fd_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint32_t, std::shared_ptr<Segment>> segments_;
  std::shared_ptr<Segment> active_;  // replaced only by the committer thread
  std::uint32_t next_segment_;
  std::vector<PendingCommit> pending_;
  static constexpr std::size_t kGatherMinBatch = 4;
  static constexpr std::chrono::microseconds kGatherWindow{1000};
  std::size_t last_batch_size_ = 0;  // committer thread only (under mu_)
  std::size_t pending_mark_bytes_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread committer_;

  std::uint64_t live_entries_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t commit_failures_ = 0;
  std::uint64_t damaged_total_ = 0;

  // Health is re-probed (statvfs) at most every kHealthProbeInterval, in both directions: low
  // space makes the spool unhealthy before a commit fails, and space that returns makes it healthy
  // again without waiting for a commit (no commit is attempted while clients are refused).
  static constexpr std::chrono::milliseconds kHealthProbeInterval{200};
  mutable std::atomic<bool> healthy_{true};
  mutable std::atomic<std::int64_t> last_probe_ns_{0};
  std::atomic<std::uint64_t> min_free_bytes_;
};

bool SpoolImpl::Healthy() const {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
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

// ---- recovery ------------------------------------------------------------------------------

RecoveryReport SpoolImpl::Recover(const std::function<void(RecoveredMessage&&)>& visit) {
  RecoveryReport report;
  std::vector<std::uint32_t> numbers;
  std::vector<std::uint32_t> orphan_done;
  if (DIR* d = ::opendir(segments_dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::uint32_t n;
      if (ParseSegmentFileName(e->d_name, "seg", n)) numbers.push_back(n);
      if (ParseSegmentFileName(e->d_name, "done", n)) orphan_done.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());
  for (std::uint32_t n : orphan_done) {
    if (!std::binary_search(numbers.begin(), numbers.end(), n)) {
      ::unlink((segments_dir_ + "/" + SegmentFileName(n, "done")).c_str());
    }
  }
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    RecoverSegment(numbers[i], i + 1 == numbers.size(), visit, report);
  }
  FsyncPath(corrupt_dir_);
  FsyncPath(segments_dir_);
  std::lock_guard<std::mutex> lock(mu_);
  damaged_total_ += report.damaged + report.torn_tails;
  return report;
}

void SpoolImpl::RecoverSegment(std::uint32_t number, bool last,
                               const std::function<void(RecoveredMessage&&)>& visit,
                               RecoveryReport& report) {
  const std::string seg_path = segments_dir_ + "/" + SegmentFileName(number, "seg");
  const std::string done_path = segments_dir_ + "/" + SegmentFileName(number, "done");

  // Completion marks first, so the scan knows what is finished and what to skip.
  struct Marks {
    bool message_done = false;
    std::vector<std::uint32_t> recipients;
  };
  std::unordered_map<std::uint64_t, Marks> marks;
  std::unordered_map<std::uint64_t, std::uint32_t> skips;
  std::string done_bytes;
  if (ReadWholeFile(done_path, done_bytes)) {
    for (std::size_t p = 0; p + kMarkSize <= done_bytes.size(); p += kMarkSize) {
      const auto* b = reinterpret_cast<const unsigned char*>(done_bytes.data() + p);
      std::uint32_t value = 0;
      std::uint64_t offset = 0;
      for (int i = 3; i >= 0; --i) value = (value << 8) | b[4 + i];
      for (int i = 7; i >= 0; --i) offset = (offset << 8) | b[8 + i];
      if (b[0] == kMarkRecipient) marks[offset].recipients.push_back(value);
      if (b[0] == kMarkMessage) marks[offset].message_done = true;
      if (b[0] == kMarkSkip && value > 0) skips[offset] = value;
    }
  }

  auto segment = std::make_shared<Segment>();
  segment->number = number;
  segment->fd = ::open(seg_path.c_str(), O_RDWR | O_CLOEXEC);
  std::string bytes;
  if (segment->fd < 0 || !ReadWholeFile(seg_path, bytes)) {
    report.problems.push_back(Errno("cannot read segment " + seg_path) +
                              "; left in place, not recovered");
    return;
  }
  std::string new_marks;  // skip marks for regions moved aside now
  // Visited only once the segment is registered, so the visitor may read or mark them.
  std::vector<RecoveredMessage> found;
  std::size_t pos = 0;
  const std::size_t size = bytes.size();
  while (pos < size) {
    if (auto s = skips.find(pos); s != skips.end()) {
      pos += s->second;
      continue;
    }
    std::string_view payload;
    std::size_t entry_size = 0;
    EntryCheck check = CheckEntry(bytes.data() + pos, size - pos, &payload, &entry_size);
    const char* what = EntryCheckName(check);
    std::size_t end = 0;
    if (check == EntryCheck::kOk) {
      RecoveredMessage m;
      if (DecodePayload(payload, m.envelope, nullptr, &m.data_size)) {
        m.id = SpoolId{number, pos};
        std::size_t n = m.envelope.recipients.size();
        m.done_recipients.assign(n, false);
        bool message_done = false;
        if (auto mk = marks.find(pos); mk != marks.end()) {
          message_done = mk->second.message_done;
          for (std::uint32_t r : mk->second.recipients) {
            if (r < n) m.done_recipients[r] = true;
          }
        }
        auto remaining = static_cast<std::uint32_t>(
            std::count(m.done_recipients.begin(), m.done_recipients.end(), false));
        if (!message_done && (remaining > 0 || n == 0)) {
          segment->live.emplace(pos, MessageState{m.done_recipients, remaining});
          report.messages++;
          report.recipients += remaining;
          found.push_back(std::move(m));
        }
        pos += entry_size;
        continue;
      }
      what = "bad payload";  // crc fine but undecodable: a writer bug or a newer version
      end = pos + entry_size;
    } else {
      // Resync: the damaged region ends where the next valid entry starts.
      end = size;
      for (std::size_t q = pos + 1; q + kEntryOverhead <= size; ++q) {
        const void* hit = std::memchr(bytes.data() + q, kEntryMagic[0], size - q);
        if (!hit) break;
        q = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
        if (CheckEntry(bytes.data() + q, size - q, nullptr, nullptr) == EntryCheck::kOk) {
          end = q;
          break;
        }
      }
    }
    const bool torn = last && end == size && check == EntryCheck::kIncomplete;
    char name[64];
    std::snprintf(name, sizeof name, "%08u-%zu.%s", number, pos, torn ? "torn" : "bad");
    const std::string aside = corrupt_dir_ + "/" + name;
    bool saved = WriteFileSynced(aside, std::string_view(bytes).substr(pos, end - pos));
    std::string line = "segment " + SegmentFileName(number, "seg") + " offset " +
                       std::to_string(pos) + ": " + (torn ? "torn tail" : what) + ", " +
                       std::to_string(end - pos) + " bytes " +
                       (saved ? "moved to " + aside : Errno("could not be saved to " + aside));
    report.problems.push_back(line);
    if (torn) {
      report.torn_tails++;
      if (saved && ::ftruncate(segment->fd, static_cast<off_t>(pos)) == 0) {
        ::fsync(segment->fd);
        bytes.resize(pos);
      }
      break;
    }
    report.damaged++;
    if (saved) {
      // XXX: a region over 4 GiB cannot be described by one mark; segments are far smaller.
      AppendMark(kMarkSkip, static_cast<std::uint32_t>(end - pos), pos, new_marks);
    }
    pos = end;
  }
  segment->size = bytes.size();

  if (segment->live.empty()) {
    ::unlink(seg_path.c_str());
    ::unlink(done_path.c_str());
    report.segments_removed++;
    return;
  }
  segment->done_fd = ::open(done_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (segment->done_fd >= 0 && !new_marks.empty()) {
    // Synced so the damage is reported once, not again at every start.
    if (WriteAll(segment->done_fd, new_marks.data(), new_marks.size())) ::fsync(segment->done_fd);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_entries_ += segment->live.size();
    segments_[number] = std::move(segment);
  }
  for (auto& m : found) visit(std::move(m));
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
    cv_.wait_for(lock, kMarkFlushInterval, [this] {
      return stopping_ || !pending_.empty() || pending_mark_bytes_ >= kMarkFlushBytes;
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
    lock.unlock();
    WriteMarks(TakeMarks(true));
    if (!batch.empty()) ProcessBatch(batch);
    lock.lock();
    if (exiting && pending_.empty()) break;
  }
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
  if (old && old->live.empty()) RemoveSegmentLocked(old);
  return segment;
}

CommitStatus SpoolImpl::WriteBatch(std::vector<PendingCommit>& batch, std::vector<SpoolId>& ids) {
  struct statvfs vfs {};
  if (::statvfs(segments_dir_.c_str(), &vfs) != 0) return CommitStatus::kIoError;
  const std::uint64_t free_bytes =
      static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
  if (free_bytes < min_free_bytes_.load()) return CommitStatus::kDiskFull;

  CommitStatus status = CommitStatus::kOk;
  std::shared_ptr<Segment> segment = ActiveSegmentForWrite(status);
  if (!segment) return status;

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
  if (error == 0 && options_.sync && ::fdatasync(segment->fd) != 0) error = errno;
  if (error != 0) {
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
    segment->live.emplace(ids[i].offset, MessageState{std::vector<bool>(n, false), n});
  }
  live_entries_ += batch.size();
  return CommitStatus::kOk;
}

void SpoolImpl::ProcessBatch(std::vector<PendingCommit>& batch) {
  std::vector<SpoolId> ids;
  CommitStatus status = WriteBatch(batch, ids);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status == CommitStatus::kOk) {
      commits_ += batch.size();
      batches_++;
    } else {
      commit_failures_ += batch.size();
    }
  }
  healthy_.store(status == CommitStatus::kOk);
  if (status != CommitStatus::kOk) {
    // A failure holds for at least one probe interval before space is probed again.
    last_probe_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count());
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

void SpoolImpl::MarkRecipientDone(SpoolId id, std::uint32_t recipient_index) {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = segments_.find(id.segment);
  if (s == segments_.end()) return;
  std::shared_ptr<Segment> segment = s->second;
  auto m = segment->live.find(id.offset);
  if (m == segment->live.end()) return;
  MessageState& state = m->second;
  if (recipient_index >= state.done.size() || state.done[recipient_index]) return;
  state.done[recipient_index] = true;
  state.remaining--;
  AppendMark(kMarkRecipient, recipient_index, id.offset, segment->pending_marks);
  pending_mark_bytes_ += kMarkSize;
  if (state.remaining == 0) AfterMessageDoneLocked(segment, id.offset);
  if (pending_mark_bytes_ >= kMarkFlushBytes) cv_.notify_one();
}

void SpoolImpl::MarkMessageDone(SpoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = segments_.find(id.segment);
  if (s == segments_.end()) return;
  std::shared_ptr<Segment> segment = s->second;
  if (segment->live.find(id.offset) == segment->live.end()) return;
  AppendMark(kMarkMessage, 0, id.offset, segment->pending_marks);
  pending_mark_bytes_ += kMarkSize;
  AfterMessageDoneLocked(segment, id.offset);
  if (pending_mark_bytes_ >= kMarkFlushBytes) cv_.notify_one();
}

void SpoolImpl::AfterMessageDoneLocked(const std::shared_ptr<Segment>& segment,
                                       std::uint64_t offset) {
  segment->live.erase(offset);
  live_entries_--;
  if (segment->live.empty() && segment != active_) RemoveSegmentLocked(segment);
}

void SpoolImpl::RemoveSegmentLocked(const std::shared_ptr<Segment>& segment) {
  const std::string base = segments_dir_ + "/";
  ::unlink((base + SegmentFileName(segment->number, "seg")).c_str());
  ::unlink((base + SegmentFileName(segment->number, "done")).c_str());
  pending_mark_bytes_ -= std::min(pending_mark_bytes_, segment->pending_marks.size());
  segment->pending_marks.clear();
  segments_.erase(segment->number);
  // Descriptors close when the last shared_ptr (maybe a reader's) goes.
}

// ---- reading -------------------------------------------------------------------------------

bool SpoolImpl::ReadEntry(SpoolId id, Envelope& envelope, std::string* data) const {
  std::shared_ptr<Segment> segment;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto s = segments_.find(id.segment);
    if (s == segments_.end() || !s->second->live.count(id.offset)) return false;
    segment = s->second;
  }
  char header[kEntryHeaderSize];
  if (!PreadAll(segment->fd, header, sizeof header, id.offset)) return false;
  std::uint32_t len = 0;
  for (int i = 7; i >= 4; --i) len = (len << 8) | static_cast<unsigned char>(header[i]);
  if (len > kMaxPayload) return false;
  std::string entry(kEntryOverhead + len, '\0');
  if (!PreadAll(segment->fd, entry.data(), entry.size(), id.offset)) return false;
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
  std::lock_guard<std::mutex> lock(mu_);
  stats.entries = live_entries_;
  for (const auto& [number, segment] : segments_) stats.bytes += segment->size;
  stats.segments = segments_.size();
  stats.commits = commits_;
  stats.batches = batches_;
  stats.commit_failures = commit_failures_;
  stats.damaged_total = damaged_total_;
  stats.healthy = healthy_.load();
  return stats;
}

bool MakeDir(const std::string& path, std::string* error) {
  if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) return true;
  if (error) *error = Errno("cannot create " + path);
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
    if (error) *error = Errno("cannot open " + lock_path);
    return nullptr;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (error) *error = Errno("spool " + options.dir + " is in use (lock " + lock_path + ")");
    ::close(lock_fd);
    return nullptr;
  }
  // New segments are numbered after every existing one, recovered or not.
  std::uint32_t max_number = 0;
  if (DIR* d = ::opendir((options.dir + "/segments").c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::uint32_t n;
      if (ParseSegmentFileName(e->d_name, "seg", n) || ParseSegmentFileName(e->d_name, "done", n)) {
        max_number = std::max(max_number, n);
      }
    }
    ::closedir(d);
  }
  return std::make_unique<SpoolImpl>(options, lock_fd, max_number + 1);
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
