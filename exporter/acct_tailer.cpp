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
      if (f.contains("copy_ino")) {
        e->link_restored = true;
        e->copy_dev = f.at("copy_dev").get<dev_t>();
        e->copy_ino = f.at("copy_ino").get<ino_t>();
        e->copy_offset = f.at("copy_offset").get<std::uint64_t>();
        e->copy_fp_len = f.at("copy_fp_len").get<std::uint32_t>();
        e->copy_fp_hash = f.at("copy_fp_hash").get<std::uint64_t>();
      }
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
    // Pending files have counted nothing; claimed entries are gone.
    if (e->kind == Kind::kDead || e->pending) continue;
    nlohmann::json f = {{"state", e->kind == Kind::kRetired ? "retired" : "open"},
                        {"dev", e->dev},
                        {"ino", e->ino},
                        {"path", e->path},
                        {"offset", e->offset},
                        {"fp_len", e->fp_len},
                        {"fp_hash", e->fp_hash},
                        {"header_end", e->header_end}};
    // A suspended original: keep the link, so a restart does not read the copy's range twice.
    const Entry* copy = e->suspended_by != 0 ? FindById(e->suspended_by) : nullptr;
    if (copy != nullptr && copy->kind == Kind::kOpen) {
      f["copy_dev"] = copy->dev;
      f["copy_ino"] = copy->ino;
      f["copy_offset"] = copy->offset;
      f["copy_fp_len"] = copy->fp_len;
      f["copy_fp_hash"] = copy->fp_hash;
    } else if (e->kind == Kind::kOpen && e->link_restored) {
      f["copy_dev"] = e->copy_dev;
      f["copy_ino"] = e->copy_ino;
      f["copy_offset"] = e->copy_offset;
      f["copy_fp_len"] = e->copy_fp_len;
      f["copy_fp_hash"] = e->copy_fp_hash;
    }
    out.push_back(std::move(f));
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

const AcctTailer::Entry* AcctTailer::FindById(std::uint64_t id) const {
  for (const auto& e : entries_) {
    if (e->id == id) return e.get();
  }
  return nullptr;
}

// A remembered position (restored or retired) of this very inode whose start is unchanged. An
// inode number reused for another file fails the fingerprint; a match whose fingerprint covers
// only the header has its offset at most at the header's end, so resuming there is harmless.
AcctTailer::Entry* AcctTailer::FindSameInodeMatch(const Entry& e) {
  Entry* best = nullptr;
  for (auto& r : entries_) {
    if (r->kind != Kind::kRestored && r->kind != Kind::kRetired) continue;
    if (r->dev != e.dev || r->ino != e.ino || r->fp_len == 0) continue;
    if (e.size < r->offset || !PrefixMatches(e.fd, e.size, r->fp_len, r->fp_hash)) continue;
    if (best == nullptr || r->offset > best->offset) best = r.get();
  }
  return best;
}

// True while `e` is too short to be compared with some known fingerprint: it may be a copy of
// that file whose writing has only begun.
bool AcctTailer::MayBeCopyInProgress(const Entry& e) const {
  for (const auto& k : entries_) {
    if (k.get() == &e || k->kind == Kind::kDead || k->pending) continue;
    if (k->dev == e.dev && k->ino == e.ino) continue;
    if (k->header_end == 0 || k->fp_len < k->header_end + 16) continue;
    if (e.size < k->fp_len) return true;
  }
  return false;
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
    if (e->kind == Kind::kDead || e->pending) continue;
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
  e->pending = true;
  e->start_at_end = first_poll && !have_state_ && !options_.from_start;
  const auto now = Clock::now();
  e->last_change = now;
  ++counts_.health.files_opened;
  Entry& ref = *e;
  entries_.push_back(std::move(e));
  Identify(ref, now);
}

// Decides what a newly opened inode is (steps 1-4 in the header). Leaves it pending when it may
// still be a copy being written.
void AcctTailer::Identify(Entry& e, Clock::time_point now) {
  if (Entry* r = FindSameInodeMatch(e)) {
    e.offset = r->offset;
    e.fp_len = r->fp_len;
    e.fp_hash = r->fp_hash;
    e.link_restored = r->link_restored;
    e.copy_dev = r->copy_dev;
    e.copy_ino = r->copy_ino;
    e.copy_offset = r->copy_offset;
    e.copy_fp_len = r->copy_fp_len;
    e.copy_fp_hash = r->copy_fp_hash;
    r->kind = Kind::kDead;
    e.pending = false;
    ReadHeader(e);
    return;
  }
  if (now - e.last_change < options_.close_grace && e.size < kFingerprintBytes &&
      MayBeCopyInProgress(e)) {
    return;  // still pending
  }
  e.pending = false;
  if (Entry* m = FindFingerprintMatch(e.fd, e.size, e.dev, e.ino)) {
    // A copy of a known file: continue where that one stood, even if the copy is not written
    // that far yet.
    e.offset = m->offset;
    e.filling = e.size < e.offset;
    e.fp_len = m->fp_len;
    e.fp_hash = m->fp_hash;
    if (m->kind == Kind::kOpen) {
      // Two files with one content: read only the one that is ahead (usually the original, which
      // may hold records appended after the copy was made); the other waits (see Poll()).
      if (m->size >= e.size && m->suspended_by == 0) {
        e.suspended_by = m->id;
      } else {
        m->suspended_by = e.id;
      }
    } else {
      m->kind = Kind::kDead;
    }
    ReadHeader(e);
    return;
  }
  // A new file. Fingerprint it now, so that a copy of it found later in this same scan (both
  // new: the exporter saw neither before) is recognised as one and not read a second time.
  ReadHeader(e);
  ExtendFingerprint(e);
  if (e.start_at_end) e.offset = AlignedEnd(e.fd, e.size);
}

void AcctTailer::ExtendFingerprint(Entry& e) {
  if (e.fp_len >= kFingerprintBytes || e.size <= e.fp_len) return;
  std::uint32_t len =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(e.size, kFingerprintBytes));
  char tmp[kFingerprintBytes];
  if (PreadAll(e.fd, tmp, len, 0)) {
    e.fp_len = len;
    e.fp_hash = FingerprintHash(tmp, len);
  }
}

// `e` was truncated: a file suspended while `e` was read in its place shares e's old content up
// to `old_offset`, which is counted; it goes on after that.
void AcctTailer::ReleaseSuspended(const Entry& e, std::uint64_t old_offset) {
  for (auto& x : entries_) {
    if (x->kind != Kind::kOpen || x->suspended_by != e.id) continue;
    x->suspended_by = 0;
    x->offset = std::max(x->offset, old_offset);
    x->filling = x->size < x->offset;
  }
}

// A suspension saved in the state file: find the copy again among the open files.
void AcctTailer::ResolveRestoredLink(Entry& e) {
  e.link_restored = false;
  for (auto& c : entries_) {
    if (c->kind == Kind::kOpen && !c->pending && c->dev == e.copy_dev && c->ino == e.copy_ino &&
        PrefixMatches(c->fd, c->size, e.copy_fp_len, e.copy_fp_hash)) {
      e.suspended_by = c->id;
      return;
    }
  }
  // The other file is gone or was truncated: continue after the part it covered, as an ended
  // suspension does.
  e.offset = std::max(e.offset, e.copy_offset);
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

void AcctTailer::MatchGlobs(bool first_poll) {
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
    OpenNew(path, first_poll);
  }
  if (first_poll) {
    // Positions of files that did not come back keep their fingerprints for copies seen later.
    for (auto& e : entries_) {
      if (e->kind == Kind::kRestored) e->kind = Kind::kRetired;
    }
  }
}

void AcctTailer::RestartTruncated(Entry& e) {
  ++counts_.health.truncations;
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
  e.link_restored = false;
  e.filling = false;
  e.parser.ResetToDefaultHeader();
  ReleaseSuspended(e, old_identity.offset);
  if (old_identity.header_end > 0) Retire(old_identity);
}

void AcctTailer::PruneEntries() {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [](const auto& x) { return x->kind == Kind::kDead; }),
                 entries_.end());
  // Bound the retired list (closing may have added to it).
  std::size_t retired = 0;
  for (auto& x : entries_) retired += x->kind == Kind::kRetired;
  while (retired-- > kMaxRetired) {
    entries_.erase(std::find_if(entries_.begin(), entries_.end(),
                                [](const auto& x) { return x->kind == Kind::kRetired; }));
  }
}

std::size_t AcctTailer::Poll(bool* more) {
  const auto now = Clock::now();
  const bool first = first_poll_;
  first_poll_ = false;
  ExporterHealth& h = counts_.health;

  MatchGlobs(first);

  std::size_t consumed = 0;
  std::uint64_t behind = 0;
  std::uint64_t followed = 0;
  unread_.clear();
  // Counts `bytes` of `e` as not read yet (the gauge and UnreadTails() agree by construction).
  auto count_unread = [&](const Entry& e, std::uint64_t bytes) {
    behind += bytes;
    if (bytes > 0) unread_.push_back(UnreadTail{e.path, bytes});
  };
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
    if (e.pending) {
      Identify(e, now);
      if (e.pending) {
        count_unread(e, size);
        ++followed;
        continue;
      }
    }
    if (e.link_restored && !first) ResolveRestoredLink(e);
    if (e.filling && size >= e.offset) e.filling = false;
    if (!e.matched && !e.gone) {
      ++h.rotations;  // the globs no longer name this file: renamed away, moved or deleted
      e.gone = true;
    }
    // Truncated or rewritten in place: remember the old identity for a copy, restart at 0.
    bool changed = (size < e.offset && !e.filling) ||
                   (e.fp_len > 0 && !PrefixMatches(e.fd, size, e.fp_len, e.fp_hash));
    if (changed) RestartTruncated(e);
    Entry& cur = *entries_[i];  // Retire may have reallocated the vector, not the Entry
    ExtendFingerprint(cur);
    if (cur.suspended_by != 0) {
      Entry* copy = FindById(cur.suspended_by);
      bool copy_done = copy == nullptr || copy->kind != Kind::kOpen ||
                       (!copy->filling && copy->offset >= copy->size &&
                        now - copy->last_change >= options_.close_grace);
      if (!copy_done) continue;
      if (copy != nullptr) cur.offset = std::max(cur.offset, copy->offset);
      cur.suspended_by = 0;
    }
    if (cur.link_restored) continue;  // resolved on the next poll, once every copy is claimed
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
    count_unread(cur, cur.size > cur.offset ? cur.size - cur.offset : 0);
    ++followed;
  }
  PruneEntries();
  h.bytes_behind = behind;
  h.files_followed = followed;
  if (more) *more = budget_hit;
  return consumed;
}

}  // namespace outpost::exporter
