#include "mta/acct/acct_feed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/csv.hpp"
#include "mta/acct/accounting_writer.hpp"
#include "mta/log/log.hpp"

namespace outpost::acct {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::uint64_t kLagScanLimit = 16u << 20;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads up to `n` bytes at `offset` (short at end of file).
bool ReadAt(int fd, std::uint64_t offset, std::size_t n, std::string* out) {
  out->resize(n);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out->data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  out->resize(done);
  return true;
}

// A complete record at the start of `data`: SplitRecord's record that ends with LF (a CR alone at
// the end of what was read may be half of a CRLF still being written).
csv::SplitResult NextRecord(std::string_view data, std::vector<std::string>& fields) {
  csv::SplitResult r = csv::SplitRecord(data, fields);
  if (r.status == csv::SplitStatus::kRecord && data[r.consumed - 1] != '\n') {
    return {csv::SplitStatus::kIncomplete, 0};
  }
  return r;
}

// The header record at the start of the file: its fields, its bytes and their length (0: the
// header is not complete yet).
std::size_t ReadHeader(int fd, std::vector<std::string>* fields, std::string* line) {
  std::string head;
  if (!ReadAt(fd, 0, kReadChunk, &head)) return 0;
  csv::SplitResult r = NextRecord(head, *fields);
  if (r.status != csv::SplitStatus::kRecord) return 0;
  *line = head.substr(0, r.consumed);
  return r.consumed;
}

}  // namespace

bool SaveFeedPosition(const std::string& path, const FeedPosition& pos, std::string* error) {
  return ReplaceFileAtomically(path,
                               std::to_string(pos.dev) + " " + std::to_string(pos.ino) + " " +
                                   std::to_string(pos.offset) + "\n",
                               error);
}

std::optional<FeedPosition> LoadFeedPosition(const std::string& path, std::string* error) {
  error->clear();
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT) *error = Errno("cannot read " + path);
    return std::nullopt;
  }
  FeedPosition pos;
  if (!(in >> pos.dev >> pos.ino >> pos.offset)) {
    *error = path + ": malformed feed position (expected DEVICE INODE OFFSET)";
    return std::nullopt;
  }
  return pos;
}

AcctFollower::AcctFollower(config::AcctFile file, bool delete_consumed)
    : file_(std::move(file)), delete_consumed_(delete_consumed) {}

std::vector<AcctFollower::File> AcctFollower::Files() const {
  std::vector<std::string> paths;
  for (const RotatedFile& r : RotatedFiles(file_)) paths.push_back(r.path);
  paths.push_back(file_.path);
  std::vector<File> files;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    files.push_back({path, static_cast<std::uint64_t>(st.st_dev),
                     static_cast<std::uint64_t>(st.st_ino),
                     static_cast<std::uint64_t>(st.st_size)});
  }
  return files;
}

std::size_t AcctFollower::Locate(const std::vector<File>& files,
                                 const std::optional<FeedPosition>& from, FeedPosition* pos,
                                 bool* lost) const {
  if (from) {
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (files[i].dev == from->dev && files[i].ino == from->ino) {
        *pos = *from;
        return i;
      }
    }
    if (lost) *lost = true;
  }
  // No position: a private buffer is read whole; an operator's file from its live part.
  const std::size_t i = from || delete_consumed_ ? 0 : files.size() - 1;
  *pos = {files[i].dev, files[i].ino, 0};
  return i;
}

Batch AcctFollower::Read(const std::optional<FeedPosition>& from, std::size_t max_bytes,
                         bool* lost) {
  Batch batch;
  const std::vector<File> files = Files();
  if (files.empty()) return batch;
  FeedPosition pos;
  std::size_t i = Locate(files, from, &pos, lost);
  batch.end = pos;
  // Finished files are skipped (the caller commits batch.end even without records).
  for (;; ++i) {
    const bool last = i + 1 == files.size();
    Fd f{::open(files[i].path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || st.st_ino != files[i].ino) return batch;  // moved
    const std::size_t header_end = ReadHeader(f.fd, &batch.header, &batch.header_line);
    if (header_end == 0) return batch;  // not even a header yet
    const std::uint64_t start = std::max<std::uint64_t>(pos.offset, header_end);
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (start >= size && !last) {
      pos = {files[i + 1].dev, files[i + 1].ino, 0};
      batch.end = pos;
      continue;
    }
    std::string data;
    std::size_t want = std::max(max_bytes, kReadChunk);
    std::size_t used = 0;
    while (ReadAt(f.fd, start, want, &data)) {
      std::vector<std::string> fields;
      used = 0;
      while (used < data.size()) {
        csv::SplitResult r = NextRecord(std::string_view(data).substr(used), fields);
        if (r.status == csv::SplitStatus::kIncomplete) break;
        if (!batch.records.empty() && batch.data.size() + r.consumed > max_bytes) {
          batch.full = true;
          break;
        }
        if (r.status == csv::SplitStatus::kRecord) {
          batch.data.append(data, used, r.consumed);
          batch.records.push_back(fields);
        }
        used += r.consumed;
      }
      // One record longer than the chunk: read more of it.
      if (used > 0 || batch.full || data.size() < want) break;
      want *= 2;
    }
    batch.end = {files[i].dev, files[i].ino, start + used};
    batch.ends_file = !last && batch.end.offset >= size;
    if (batch.ends_file) batch.end = {files[i + 1].dev, files[i + 1].ino, 0};
    return batch;
  }
}

FeedLag AcctFollower::Lag(const std::optional<FeedPosition>& from, std::uint64_t scan_limit) const {
  FeedLag lag;
  const std::vector<File> files = Files();
  if (files.empty()) return lag;
  FeedPosition pos;
  std::uint64_t scanned = 0, lines = 0;
  const std::size_t first = Locate(files, from, &pos, nullptr);
  for (std::size_t i = first; i < files.size(); ++i) {
    const std::uint64_t start = i == first ? pos.offset : 0;
    if (files[i].size <= start) continue;
    lag.bytes += files[i].size - start;
    Fd f{::open(files[i].path.c_str(), O_RDONLY | O_CLOEXEC)};
    std::string data;
    for (std::uint64_t at = start; f.fd >= 0 && at < files[i].size && scanned < scan_limit;) {
      if (!ReadAt(f.fd, at, kReadChunk, &data) || data.empty()) break;
      lines += static_cast<std::uint64_t>(std::count(data.begin(), data.end(), '\n'));
      scanned += data.size();
      at += data.size();
    }
    if (start == 0 && lines > 0) lines--;  // its header
  }
  lag.records = scanned == 0 ? 0 : lines * lag.bytes / scanned;
  return lag;
}

void AcctFollower::Consumed(const FeedPosition& pos) {
  if (!delete_consumed_) return;
  for (const File& f : Files()) {
    if (f.dev == pos.dev && f.ino == pos.ino) break;
    if (f.path != file_.path) ::unlink(f.path.c_str());
  }
}

AcctFeed::AcctFeed(config::AcctFile file, FeedOptions options, std::unique_ptr<FeedSink> sink,
                   const Clock& clock)
    : options_(std::move(options)),
      follower_(std::move(file), options_.delete_consumed),
      sink_(std::move(sink)),
      clock_(clock) {}

bool AcctFeed::Start(std::string* error) {
  auto loaded = LoadFeedPosition(options_.position_path, error);
  std::lock_guard<std::mutex> lock(mu_);
  position_ = loaded;
  return error->empty();
}

std::chrono::nanoseconds AcctFeed::RunOnce() {
  const MonoTime now = clock_.NowMono();
  if (now < retry_at_) return retry_at_ - now;
  bool lost = false;
  const std::optional<FeedPosition> position = Position();
  Batch batch = follower_.Read(position, options_.batch_bytes, &lost);
  if (lost) {
    OUTPOST_LOG(kWarning, "acct") << options_.name
                                  << ": the file of the saved position is gone (deleted before it "
                                     "was sent); continuing with the oldest file";
    std::lock_guard<std::mutex> lock(mu_);
    stats_.positions_lost++;
  }
  UpdateLag(now);
  if (batch.records.empty()) {
    if (position != batch.end && batch.end.ino != 0 && (position || batch.ends_file)) {
      Sent(batch);  // moved past finished files
      return std::chrono::nanoseconds(0);
    }
    pending_since_.reset();
    std::lock_guard<std::mutex> lock(mu_);
    behind_since_.reset();
    return options_.idle_poll;
  }
  if (!pending_since_) pending_since_ = now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!behind_since_) behind_since_ = now;
  }
  if (!Due(batch, now))
    return std::min(options_.idle_poll, *pending_since_ + options_.batch_interval - now);
  std::string error;
  if (!sink_->Send(batch, &error)) {
    Failed(error, now);
    return retry_at_ - now;
  }
  Sent(batch);
  return std::chrono::nanoseconds(0);
}

bool AcctFeed::Due(const Batch& batch, MonoTime now) const {
  return batch.full || batch.ends_file || now - *pending_since_ >= options_.batch_interval;
}

void AcctFeed::Sent(const Batch& batch) {
  std::string error;
  const bool saved = SaveFeedPosition(options_.position_path, batch.end, &error);
  if (!saved) {
    OUTPOST_LOG(kError, "acct") << options_.name << ": " << error;
  }
  follower_.Consumed(batch.end);
  pending_since_.reset();
  if (consecutive_failures_ > 0) {
    OUTPOST_LOG(kInfo, "acct") << options_.name << ": sending again after " << consecutive_failures_
                               << " failed attempt(s)";
  }
  consecutive_failures_ = 0;
  std::lock_guard<std::mutex> lock(mu_);
  position_ = batch.end;
  if (!saved) stats_.position_errors++;
  if (!batch.records.empty()) stats_.batches_sent++;
  stats_.records_sent += batch.records.size();
  stats_.bytes_sent += batch.data.size();
  stats_.failing = false;
}

void AcctFeed::Failed(const std::string& error, MonoTime now) {
  consecutive_failures_++;
  auto backoff = options_.initial_backoff;
  for (int i = 1; i < consecutive_failures_ && backoff < options_.max_backoff; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.max_backoff);
  retry_at_ = now + backoff;
  OUTPOST_LOG(kWarning, "acct")
      << options_.name << ": send failed (" << error << "); retry in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count() << " ms";
  std::lock_guard<std::mutex> lock(mu_);
  stats_.failures++;
  stats_.failing = true;
  stats_.last_error = error;
}

void AcctFeed::UpdateLag(MonoTime now) {
  if (now - lag_checked_ < std::chrono::seconds(1)) return;
  lag_checked_ = now;
  const FeedLag lag = follower_.Lag(Position(), kLagScanLimit);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.records_behind = lag.records;
}

std::optional<FeedPosition> AcctFeed::Position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return position_;
}

// Bytes behind and the age are read fresh (a few stat calls), also while the feed thread waits
// for a slow consumer; records behind comes from the feed thread's last count, or is estimated
// from the bytes by the average size of the records sent.
FeedStats AcctFeed::Stats() const {
  const FeedLag lag = follower_.Lag(Position(), 0);
  const MonoTime now = clock_.NowMono();
  std::lock_guard<std::mutex> lock(mu_);
  FeedStats s = stats_;
  s.restarts = sink_->restarts();
  s.bytes_behind = lag.bytes;
  if (s.records_sent > 0 && s.bytes_sent > 0) {
    s.records_behind = std::max(s.records_behind, lag.bytes * s.records_sent / s.bytes_sent);
  }
  if (lag.bytes == 0) s.records_behind = 0;
  s.oldest_unsent_seconds =
      behind_since_ ? std::chrono::duration_cast<std::chrono::seconds>(now - *behind_since_).count()
                    : 0;
  return s;
}

}  // namespace outpost::acct
