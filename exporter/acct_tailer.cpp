#include "exporter/acct_tailer.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace outpost::exporter {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> ExpandGlobs(const std::vector<std::string>& patterns) {
  std::set<std::string> out;
  for (const std::string& p : patterns) {
    glob_t g{};
    if (glob(p.c_str(), 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) out.insert(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  return {out.begin(), out.end()};
}

bool PreadAll(int fd, char* buf, std::size_t len, std::uint64_t off) {
  while (len > 0) {
    ssize_t n = pread(fd, buf, len, static_cast<off_t>(off));
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<std::size_t>(n);
    off += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Offset just past the last line end, so "start at the end" never starts mid-record.
std::uint64_t AlignedEnd(int fd, std::uint64_t size) {
  std::uint64_t back = std::min<std::uint64_t>(size, 1 << 20);
  std::vector<char> tail(back);
  if (back == 0 || !PreadAll(fd, tail.data(), back, size - back)) return 0;
  for (std::uint64_t i = back; i > 0; --i) {
    if (tail[i - 1] == '\n') return size - back + i;
  }
  return 0;
}

}  // namespace

std::uint64_t FingerprintHash(const char* data, std::size_t len) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

AcctTailer::AcctTailer(TailerOptions options, AcctCounts& counts, ProviderResolver& resolver)
    : options_(std::move(options)), counts_(counts), resolver_(resolver), buf_(1 << 20) {}

AcctTailer::~AcctTailer() {
  for (auto& e : entries_) {
    if (e->fd >= 0) close(e->fd);
  }
}

bool AcctTailer::LoadPositions(const nlohmann::json& files, std::string* error) {
  try {
    for (const auto& f : files) {
      auto e = std::make_unique<Entry>();
      e->id = next_id_++;
      e->kind = f.at("state").get<std::string>() == "retired" ? Kind::kRetired : Kind::kRestored;
      e->dev = f.at("dev").get<dev_t>();
      e->ino = f.at("ino").get<ino_t>();
      e->path = f.at("path").get<std::string>();
      e->offset = f.at("offset").get<std::uint64_t>();
      e->fp_len = f.at("fp_len").get<std::uint32_t>();
      e->fp_hash = f.at("fp_hash").get<std::uint64_t>();
      e->header_end = f.at("header_end").get<std::uint64_t>();
      entries_.push_back(std::move(e));
    }
  } catch (const std::exception& ex) {
    if (error) *error = std::string("bad file positions in state: ") + ex.what();
    return false;
  }
  have_state_ = true;
  return true;
}

nlohmann::json AcctTailer::SavePositions() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries_) {
    out.push_back({{"state", e->kind == Kind::kRetired ? "retired" : "open"},
                   {"dev", e->dev},
                   {"ino", e->ino},
                   {"path", e->path},
                   {"offset", e->offset},
                   {"fp_len", e->fp_len},
                   {"fp_hash", e->fp_hash},
                   {"header_end", e->header_end}});
  }
  return out;
}

AcctTailer::Entry* AcctTailer::FindByInode(Kind kind, dev_t dev, ino_t ino) {
  for (auto& e : entries_) {
    if (e->kind == kind && e->dev == dev && e->ino == ino) return e.get();
  }
  return nullptr;
}

AcctTailer::Entry* AcctTailer::FindById(std::uint64_t id) {
  for (auto& e : entries_) {
    if (e->id == id) return e.get();
  }
  return nullptr;
}

bool AcctTailer::PrefixMatches(int fd, std::uint64_t size, std::uint32_t len, std::uint64_t hash) {
  if (size < len) return false;
  char tmp[kFingerprintBytes];
  if (!PreadAll(fd, tmp, len, 0)) return false;
  return FingerprintHash(tmp, len) == hash;
}

// A known file (open, retired or restored) whose fingerprint this other inode carries. Only
// fingerprints that reach past the header count: every file starts with the same header.
AcctTailer::Entry* AcctTailer::FindFingerprintMatch(int fd, std::uint64_t size, dev_t dev,
                                                    ino_t ino) {
  Entry* best = nullptr;
  for (auto& e : entries_) {
    if (e->dev == dev && e->ino == ino) continue;
    if (e->header_end == 0 || e->fp_len < e->header_end + 16) continue;
    if (!PrefixMatches(fd, size, e->fp_len, e->fp_hash)) continue;
    if (best == nullptr || e->offset > best->offset) best = e.get();
  }
  return best;
}

void AcctTailer::ReadHeader(Entry& e) {
  e.parser.ResetToDefaultHeader();
  e.header_end = 0;
  std::uint64_t len = std::min<std::uint64_t>(e.size, 64 * 1024);
  std::vector<char> head(len);
  if (len == 0 || !PreadAll(e.fd, head.data(), len, 0)) return;
  ParsedRecord rec;
  ParseResult r = e.parser.Parse(std::string_view(head.data(), len), rec);
  if (r.kind == LineKind::kHeader) e.header_end = r.consumed;
}

void AcctTailer::Retire(const Entry& e) {
  auto r = std::make_unique<Entry>();
  r->id = next_id_++;
  r->kind = Kind::kRetired;
  r->dev = e.dev;
  r->ino = e.ino;
  r->path = e.path;
  r->offset = e.offset;
  r->fp_len = e.fp_len;
  r->fp_hash = e.fp_hash;
  r->header_end = e.header_end;
  entries_.push_back(std::move(r));  // trimmed to kMaxRetired at the end of Poll()
}

void AcctTailer::OpenNew(const std::string& path, bool first_poll) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return;
  }
  auto e = std::make_unique<Entry>();
  e->id = next_id_++;
  e->kind = Kind::kOpen;
  e->dev = st.st_dev;
  e->ino = st.st_ino;
  e->path = path;
  e->fd = fd;
  e->size = static_cast<std::uint64_t>(st.st_size);
  e->matched = true;
  e->last_change = Clock::now();
  ++counts_.health.files_opened;

  // Same inode as a restored position: resume there if the start of the file is unchanged.
  if (Entry* r = FindByInode(Kind::kRestored, e->dev, e->ino)) {
    if (e->size >= r->offset && PrefixMatches(fd, e->size, r->fp_len, r->fp_hash)) {
      e->offset = r->offset;
      e->fp_len = r->fp_len;
      e->fp_hash = r->fp_hash;
      r->kind = Kind::kRetired;  // claimed; dropped below
      entries_.erase(std::find_if(entries_.begin(), entries_.end(),
                                  [r](const auto& x) { return x.get() == r; }));
      ReadHeader(*e);
      entries_.push_back(std::move(e));
      return;
    }
  }
  if (Entry* m = FindFingerprintMatch(fd, e->size, e->dev, e->ino)) {
    // A copy of a known file: continue where that one stood.
    e->offset = std::min(m->offset, e->size);
    e->fp_len = m->fp_len;
    e->fp_hash = m->fp_hash;
    if (m->kind == Kind::kOpen) {
      m->suspended_by = e->id;
    } else {
      Entry* gone = m;
      entries_.erase(std::find_if(entries_.begin(), entries_.end(),
                                  [gone](const auto& x) { return x.get() == gone; }));
    }
    ReadHeader(*e);
    entries_.push_back(std::move(e));
    return;
  }
  if (first_poll && !have_state_ && !options_.from_start) {
    e->offset = AlignedEnd(fd, e->size);
    if (e->offset > 0) ReadHeader(*e);
  }
  entries_.push_back(std::move(e));
}

std::size_t AcctTailer::ReadAvailable(Entry& e, std::size_t budget) {
  std::size_t total = 0;
  ParsedRecord rec;
  ExporterHealth& h = counts_.health;
  while (e.offset < e.size && total < budget) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), e.size - e.offset));
    ssize_t n = pread(e.fd, buf_.data(), want, static_cast<off_t>(e.offset));
    if (n <= 0) break;
    std::string_view data(buf_.data(), static_cast<std::size_t>(n));
    std::size_t pos = 0;
    while (pos < data.size()) {
      ParseResult r = e.parser.Parse(data.substr(pos), rec);
      if (r.kind == LineKind::kIncomplete) break;
      ++h.lines_read;
      switch (r.kind) {
        case LineKind::kRecord: {
          std::string_view domain = RecipientDomain(rec.rcpt);
          if (domain.empty()) domain = QueueDomain(rec.queue);
          counts_.Add(rec, resolver_.Resolve(domain));
          break;
        }
        case LineKind::kHeader:
          ++h.headers_read;
          if (e.offset + pos == 0) e.header_end = r.consumed;
          break;
        case LineKind::kMalformed:
          ++h.malformed_lines;
          break;
        case LineKind::kUnknownType:
          ++h.unknown_type_records;
          break;
        case LineKind::kIncomplete:
          break;
      }
      pos += r.consumed;
    }
    e.offset += pos;
    total += pos;
    if (pos == 0) {
      // No complete record in a full buffer: grow it (a record is at most kMaxRecordBytes).
      if (static_cast<std::size_t>(n) == buf_.size() &&
          buf_.size() < 2 * AcctLineParser::kMaxRecordBytes) {
        buf_.resize(buf_.size() * 2);
        continue;
      }
      break;  // a partial last line: wait for its end
    }
  }
  return total;
}

std::size_t AcctTailer::Poll(bool* more) {
  const auto now = Clock::now();
  const bool first = first_poll_;
  first_poll_ = false;
  ExporterHealth& h = counts_.health;

  for (auto& e : entries_) e->matched = false;
  for (const std::string& path : ExpandGlobs(options_.patterns)) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (Entry* e = FindByInode(Kind::kOpen, st.st_dev, st.st_ino)) {
      if (e->matched) continue;  // two globs naming one file
      if (e->path != path) {
        ++h.rotations;  // renamed within the globs
        e->path = path;
      }
      e->matched = true;
      e->gone = false;
      continue;
    }
    OpenNew(path, first);
  }
  if (first) {
    // Positions of files that did not come back keep their fingerprints for copies seen later.
    for (auto& e : entries_) {
      if (e->kind == Kind::kRestored) e->kind = Kind::kRetired;
    }
  }

  std::size_t consumed = 0;
  std::uint64_t behind = 0;
  std::uint64_t followed = 0;
  bool budget_hit = false;
  // Index loop: Retire() appends to entries_.
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = *entries_[i];
    if (e.kind != Kind::kOpen) continue;
    struct stat st {};
    if (fstat(e.fd, &st) != 0) continue;
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (size != e.size) e.last_change = now;
    e.size = size;
    if (!e.matched && !e.gone) {
      ++h.rotations;  // the globs no longer name this file: renamed away, moved or deleted
      e.gone = true;
    }
    // Truncated or rewritten in place: remember the old identity for a copy, restart at 0.
    bool changed =
        size < e.offset || (e.fp_len > 0 && !PrefixMatches(e.fd, size, e.fp_len, e.fp_hash));
    if (changed) {
      ++h.truncations;
      Entry old_identity;
      old_identity.dev = e.dev;
      old_identity.ino = e.ino;
      old_identity.path = e.path;
      old_identity.offset = e.offset;
      old_identity.fp_len = e.fp_len;
      old_identity.fp_hash = e.fp_hash;
      old_identity.header_end = e.header_end;
      e.offset = 0;
      e.fp_len = 0;
      e.fp_hash = 0;
      e.header_end = 0;
      e.suspended_by = 0;
      e.parser.ResetToDefaultHeader();
      if (old_identity.header_end > 0) Retire(old_identity);
    }
    Entry& cur = *entries_[i];  // Retire may have reallocated the vector, not the Entry
    if (cur.fp_len < kFingerprintBytes && cur.size > cur.fp_len) {
      std::uint32_t len =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(cur.size, kFingerprintBytes));
      char tmp[kFingerprintBytes];
      if (PreadAll(cur.fd, tmp, len, 0)) {
        cur.fp_len = len;
        cur.fp_hash = FingerprintHash(tmp, len);
      }
    }
    if (cur.suspended_by != 0) {
      Entry* copy = FindById(cur.suspended_by);
      bool copy_done =
          copy == nullptr || copy->kind != Kind::kOpen ||
          (copy->offset >= copy->size && now - copy->last_change >= options_.close_grace);
      if (!copy_done) continue;
      if (copy != nullptr) cur.offset = std::max(cur.offset, copy->offset);
      cur.suspended_by = 0;
    }
    if (!budget_hit) {
      std::size_t got = ReadAvailable(cur, options_.max_bytes_per_poll - consumed);
      consumed += got;
      if (consumed >= options_.max_bytes_per_poll) budget_hit = true;
    }
    if (!cur.matched && cur.offset >= cur.size && now - cur.last_change >= options_.close_grace) {
      close(cur.fd);
      cur.fd = -1;
      cur.kind = Kind::kRetired;
      continue;
    }
    behind += cur.size > cur.offset ? cur.size - cur.offset : 0;
    ++followed;
  }
  // Bound the retired list (closing may have added to it).
  std::size_t retired = 0;
  for (auto& x : entries_) retired += x->kind == Kind::kRetired;
  while (retired-- > kMaxRetired) {
    entries_.erase(std::find_if(entries_.begin(), entries_.end(),
                                [](const auto& x) { return x->kind == Kind::kRetired; }));
  }
  h.bytes_behind = behind;
  h.files_followed = followed;
  if (more) *more = budget_hit;
  return consumed;
}

}  // namespace outpost::exporter
