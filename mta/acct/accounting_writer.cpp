#include "mta/acct/accounting_writer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>

namespace outpost::acct {
namespace {

using Clock = std::chrono::system_clock;

// Buffered records are written once this much is pending (and on every Tick()/Flush()).
constexpr std::size_t kFlushBytes = 64 * 1024;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "acct.csv" -> {"acct", ".csv"}; "acct" -> {"acct", ""}.
std::pair<std::string, std::string> SplitExtension(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return {name, ""};
  return {name.substr(0, dot), name.substr(dot)};
}

std::string RotationStamp(Clock::time_point when) {
  std::time_t t = Clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Parses "YYYY-MM-DD-HHMMSS" or "YYYY-MM-DD-HHMMSS-N" (local time); *n gets N (0 without one).
std::optional<Clock::time_point> ParseRotationStamp(const std::string& text, int* n) {
  if (text.size() < 17) return std::nullopt;
  for (std::size_t i = 0; i < 17; ++i) {
    bool dash = i == 4 || i == 7 || i == 10;
    if (dash ? text[i] != '-' : (text[i] < '0' || text[i] > '9')) return std::nullopt;
  }
  *n = 0;
  if (text.size() > 17) {
    if (text[17] != '-' || text.size() == 18 || text.size() > 27) return std::nullopt;
    for (std::size_t i = 18; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
    }
    *n = std::stoi(text.substr(18));
  }
  std::tm tm{};
  tm.tm_year = std::stoi(text.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(text.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(text.substr(8, 2));
  tm.tm_hour = std::stoi(text.substr(11, 2));
  tm.tm_min = std::stoi(text.substr(13, 2));
  tm.tm_sec = std::stoi(text.substr(15, 2));
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t);
}

// The file's first line without its line end ("" when it cannot be read).
std::string FirstLine(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  std::string line;
  for (int ch = std::fgetc(f); ch != EOF && ch != '\n' && line.size() < 65536; ch = std::fgetc(f)) {
    line += static_cast<char>(ch);
  }
  std::fclose(f);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Layout LayoutFor(const config::AcctFile& file) {
  Layout layout = Layout::Default();
  if (file.record_fields.empty()) return layout;
  const Layout all = Layout::Default();
  layout.columns.clear();
  auto add_column = [&](Field f) {
    if (std::find(layout.columns.begin(), layout.columns.end(), f) == layout.columns.end()) {
      layout.columns.push_back(f);
    }
  };
  for (std::size_t t = 0; t < kRecordTypeCount; ++t) {
    const auto type = static_cast<RecordType>(t);
    const std::string code(RecordTypeCode(type));
    if (!file.records.empty() &&
        std::find(file.records.begin(), file.records.end(), code) == file.records.end()) {
      continue;  // never written here: its columns do not count
    }
    auto rf = std::find_if(file.record_fields.begin(), file.record_fields.end(),
                           [&](const config::RecordFields& r) { return r.type == code; });
    std::vector<Field> fields;  // no record-fields line, or `*`: the type's default columns
    for (Field f : all.columns) {
      if (all.fills[t][static_cast<std::size_t>(f)]) fields.push_back(f);
    }
    if (rf != file.record_fields.end() && !rf->fields.empty()) {
      fields.clear();
      for (const auto& name : rf->fields) {
        if (auto f = ParseFieldName(name)) fields.push_back(*f);
      }
    }
    layout.fills[t].fill(false);
    for (Field f : fields) {
      layout.fills[t][static_cast<std::size_t>(f)] = true;
      add_column(f);
    }
  }
  return layout;
}

namespace {

// Thread-safe: one mutex around all state.
class WriterImpl final : public AccountingWriter {
 public:
  explicit WriterImpl(const config::AcctFile& file)
      : file_(file), layout_(LayoutFor(file)), header_(layout_.Header()) {
    for (const auto& code : file.records) {
      if (auto type = ParseRecordType(code)) allowed_[static_cast<std::size_t>(*type)] = true;
    }
    filter_ = !file.records.empty();
    auto [stem, ext] = SplitExtension(BaseName(file.path));
    stem_ = stem;
    ext_ = ext;
    rotate_dir_ = file.move_to ? *file.move_to : DirName(file.path);
  }

  ~WriterImpl() override {
    std::lock_guard<std::mutex> lock(mu_);
    FlushLocked();
    if (fd_ >= 0) ::close(fd_);
  }

  bool OpenFile(std::string* error) {
    if (file_.move_to && ::mkdir(file_.move_to->c_str(), 0750) != 0 && errno != EEXIST) {
      if (error) *error = Errno("cannot create move-to directory " + *file_.move_to);
      return false;
    }
    if (!OpenCurrentLocked()) {
      if (error) *error = Errno("cannot open accounting file " + file_.path);
      return false;
    }
    // A file written with other columns (record-fields changed since) is moved aside whole, so
    // that no record lands under a header that does not describe it.
    if (!header_needed_ && FirstLine(file_.path) != header_ && !RotateLocked()) {
      if (error)
        *error = Errno("cannot move aside accounting file " + file_.path +
                       " (its header differs from this configuration's columns)");
      return false;
    }
    if (header_needed_ && !WriteHeaderLocked()) {
      if (error) *error = Errno("cannot write header to accounting file " + file_.path);
      return false;
    }
    return true;
  }

  void Write(const Record& record) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (filter_ && !allowed_[static_cast<std::size_t>(record.type)]) {
      stats_.records_filtered++;
      return;
    }
    std::size_t before = buffer_.size();
    AppendRecordLine(record, layout_, buffer_);
    line_sizes_.push_back(buffer_.size() - before);
    if (buffer_.size() >= kFlushBytes) FlushLocked();
  }

  void Flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    FlushLocked();
  }

  bool Durable() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return line_sizes_.empty();
  }

  void Tick(Clock::time_point now) override {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = now;
    if (!opened_at_) opened_at_ = now;
    size_rotation_failed_ = false;  // try again
    FlushLocked();
    if (file_.move_interval && now - *opened_at_ >= *file_.move_interval) {
      if (file_records_ > 0) {
        RotateLocked();
      } else {
        opened_at_ = now;  // nothing to move; don't pile up header-only files
      }
    }
    if (file_.delete_after) DeleteOldLocked(now);
  }

  WriterStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    WriterStats s = stats_;
    s.buffered_bytes = buffer_.size();
    return s;
  }

 private:
  // Opens (creating) the file at file_.path for appending; notes whether it needs a header.
  bool OpenCurrentLocked() {
    int fd = ::open(file_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return false;
    }
    fd_ = fd;
    file_size_ = static_cast<std::uint64_t>(st.st_size);
    header_needed_ = file_size_ == 0;
    // An existing file longer than a header is assumed to hold records.
    file_records_ = file_size_ > header_.size() + 2 ? 1 : 0;
    return true;
  }

  // Writes bytes whole or not at all (a partial write is cut back off the file).
  bool WriteLocked(const char* p, std::size_t n) {
    if (fd_ < 0 && !OpenCurrentLocked()) {
      stats_.write_errors++;
      stats_.healthy = false;
      return false;
    }
    std::size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(fd_, p + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(file_size_)) != 0) {
          // XXX: a torn line stays in the file; readers skip it as malformed.
        }
        stats_.write_errors++;
        stats_.healthy = false;
        return false;
      }
      done += static_cast<std::size_t>(w);
    }
    file_size_ += n;
    stats_.bytes_written += n;
    return true;
  }

  bool WriteHeaderLocked() {
    std::string header = header_ + "\r\n";
    if (!WriteLocked(header.data(), header.size())) return false;
    header_needed_ = false;
    return true;
  }

  // Writes buffered lines in whole-line chunks, rotating on max-size between chunks.
  void FlushLocked() {
    if (header_needed_ && !WriteHeaderLocked()) return;
    std::size_t written = 0;
    while (!line_sizes_.empty()) {
      const bool limit = file_.max_size && !size_rotation_failed_;
      if (limit && file_records_ > 0 && file_size_ + line_sizes_.front() > *file_.max_size) {
        if (!RotateLocked()) {
          size_rotation_failed_ = true;  // keep writing here rather than hold records back
          continue;
        }
        if (header_needed_) break;  // the new file has no header yet; records wait
        continue;
      }
      // As many whole lines as fit (at least one in an empty file: a line is never split).
      std::size_t chunk = 0, lines = 0;
      for (std::size_t len : line_sizes_) {
        if (limit && (lines > 0 || file_records_ > 0) &&
            file_size_ + chunk + len > *file_.max_size) {
          break;
        }
        chunk += len;
        lines++;
      }
      if (!WriteLocked(buffer_.data() + written, chunk)) break;
      written += chunk;
      line_sizes_.erase(line_sizes_.begin(), line_sizes_.begin() + static_cast<long>(lines));
      file_records_ += lines;
      stats_.records_written += lines;
      stats_.healthy = true;
    }
    buffer_.erase(0, written);
  }

  // Moves the current file aside and starts a new one with a header. Caller flushed what fits.
  bool RotateLocked() {
    const Clock::time_point when = now_ ? *now_ : Clock::now();
    const std::string base = rotate_dir_ + "/" + stem_ + "-" + RotationStamp(when);
    std::string target = base + ext_;
    for (int n = 1; Exists(target); ++n) target = base + "-" + std::to_string(n) + ext_;
    if (::rename(file_.path.c_str(), target.c_str()) != 0) {
      // XXX: move-to on another filesystem (EXDEV) is not supported; keep the current file.
      stats_.write_errors++;
      return false;
    }
    ::close(fd_);
    fd_ = -1;
    stats_.rotations++;
    opened_at_ = now_;
    if (!OpenCurrentLocked()) {
      stats_.write_errors++;
      stats_.healthy = false;
      header_needed_ = true;  // WriteLocked() reopens; the header goes first
      file_size_ = 0;
      file_records_ = 0;
      return true;
    }
    if (header_needed_) WriteHeaderLocked();
    return true;
  }

  // Deletes rotated files older than delete-after.
  void DeleteOldLocked(Clock::time_point now) {
    for (const RotatedFile& f : RotatedFiles(file_)) {
      if (now - f.stamp > *file_.delete_after) ::unlink(f.path.c_str());
    }
  }

  const config::AcctFile file_;
  const Layout layout_;
  const std::string header_;  // layout_'s header line, without the line end
  bool filter_ = false;
  bool allowed_[kRecordTypeCount] = {};
  std::string stem_, ext_, rotate_dir_;

  mutable std::mutex mu_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  std::uint64_t file_records_ = 0;
  bool header_needed_ = false;
  bool size_rotation_failed_ = false;
  std::string buffer_;                          // whole CSV lines not yet written
  std::deque<std::size_t> line_sizes_;          // the length of each line in buffer_
  std::optional<Clock::time_point> now_;        // the latest Tick()
  std::optional<Clock::time_point> opened_at_;  // first Tick() of the current file
  WriterStats stats_;
};

}  // namespace

std::vector<RotatedFile> RotatedFiles(const config::AcctFile& file) {
  auto [stem, ext] = SplitExtension(BaseName(file.path));
  const std::string dir = file.move_to ? *file.move_to : DirName(file.path);
  const std::string prefix = stem + "-";
  std::vector<RotatedFile> found;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() + ext.size() || name.compare(0, prefix.size(), prefix) ||
        name.compare(name.size() - ext.size(), ext.size(), ext)) {
      continue;
    }
    int n = 0;
    auto stamp = ParseRotationStamp(
        name.substr(prefix.size(), name.size() - prefix.size() - ext.size()), &n);
    if (stamp) found.push_back({dir + "/" + name, *stamp, n});
  }
  ::closedir(d);
  std::sort(found.begin(), found.end(), [](const RotatedFile& a, const RotatedFile& b) {
    return a.stamp != b.stamp ? a.stamp < b.stamp : a.n < b.n;
  });
  return found;
}

std::unique_ptr<AccountingWriter> AccountingWriter::Open(const config::AcctFile& file,
                                                         std::string* error) {
  auto writer = std::make_unique<WriterImpl>(file);
  if (!writer->OpenFile(error)) return nullptr;
  return writer;
}

std::unique_ptr<AccountingLog> AccountingLog::Open(const std::vector<config::AcctFile>& files,
                                                   std::string* error) {
  auto log = std::make_unique<AccountingLog>();
  for (const auto& file : files) {
    auto writer = AccountingWriter::Open(file, error);
    if (!writer) return nullptr;
    log->writers_.push_back(std::move(writer));
  }
  return log;
}

void AccountingLog::Write(const Record& record) {
  for (auto& w : writers_) w->Write(record);
}

void AccountingLog::Flush() {
  for (auto& w : writers_) w->Flush();
}

bool AccountingLog::Durable() const {
  for (const auto& w : writers_) {
    if (!w->Durable()) return false;
  }
  return true;
}

void AccountingLog::Tick(std::chrono::system_clock::time_point now) {
  for (auto& w : writers_) w->Tick(now);
}

std::vector<WriterStats> AccountingLog::Stats() const {
  std::vector<WriterStats> out;
  for (const auto& w : writers_) out.push_back(w->Stats());
  return out;
}

}  // namespace outpost::acct
