#include "mta/returnpath/suppression_list.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>

#include "common/strings.hpp"

namespace outpost::suppression {

namespace {

constexpr std::uint32_t kEmpty = 0;
constexpr std::uint32_t kTombstone = 1;
constexpr std::uint32_t kRefBase = 2;  // ref = arena offset + kRefBase
constexpr std::uint64_t kCompactSlack = 100'000;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ReadWhole(const std::string& path, std::string& out, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    *error = Errno("cannot open " + path);
    return false;
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = Errno("cannot read " + path);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

void SyncDirectoryOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  ::fsync(dfd);
  ::close(dfd);
}

void AppendAddLine(std::string& out, Kind kind, std::int64_t added, std::string_view address) {
  out += "A ";
  out += KindName(kind);
  out += ' ';
  out += std::to_string(added);
  out += ' ';
  out += address;
  out += '\n';
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!line.empty() && fields.size() <= 4) {
    const std::size_t space = line.find(' ');
    fields.push_back(line.substr(0, space));
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  }
  return fields;
}

std::optional<std::int64_t> ParseUnix(std::string_view text) {
  if (text.empty() || text.size() > 11) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return value;
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kComplaint:
      return "complaint";
    case Kind::kHardBounce:
      return "hard-bounce";
    case Kind::kManual:
      return "manual";
  }
  return "manual";
}

std::optional<Kind> ParseKind(std::string_view text) {
  for (Kind k : {Kind::kComplaint, Kind::kHardBounce, Kind::kManual}) {
    if (text == KindName(k)) return k;
  }
  return std::nullopt;
}

std::optional<std::string> Normalize(std::string_view address) {
  while (!address.empty() && (address.front() == ' ' || address.front() == '\t')) {
    address.remove_prefix(1);
  }
  while (!address.empty() && (address.back() == ' ' || address.back() == '\t')) {
    address.remove_suffix(1);
  }
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  const std::size_t at = address.rfind('@');
  if (address.empty() || address.size() > kMaxAddressLength || at == 0 ||
      at == std::string_view::npos || at + 1 == address.size()) {
    return std::nullopt;
  }
  for (unsigned char c : address) {
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>') return std::nullopt;
  }
  return AsciiLowercase(address);
}

// The open-addressing table: slots index the arena, where each address is a length octet and its
// octets. Linear probing; erased slots become tombstones; Rehash() rebuilds slots and arena from
// the live entries (dropping the tombstones and the erased addresses' octets).
struct SuppressionList::Table {
  struct Slot {
    std::uint32_t ref = kEmpty;
    std::uint32_t added = 0;
    std::uint8_t kind = 0;
  };
  std::vector<Slot> slots = std::vector<Slot>(16);
  std::vector<char> arena;  // a vector: reserve() takes exactly what it is asked for
  std::size_t live = 0;
  std::size_t tombstones = 0;
  std::size_t dead_bytes = 0;

  std::string_view AddressAt(std::uint32_t ref) const {
    const std::size_t offset = ref - kRefBase;
    return std::string_view(arena.data() + offset + 1, static_cast<unsigned char>(arena[offset]));
  }
  bool Live(std::size_t i) const { return slots[i].ref >= kRefBase; }

  // The slot holding `key`, or where it would go (the first tombstone or empty slot on its path).
  std::size_t Probe(std::string_view key, bool* found) const {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = std::hash<std::string_view>{}(key)&mask;
    std::optional<std::size_t> free;
    for (;; i = (i + 1) & mask) {
      const Slot& s = slots[i];
      if (s.ref == kEmpty) break;
      if (s.ref == kTombstone) {
        if (!free) free = i;
      } else if (AddressAt(s.ref) == key) {
        *found = true;
        return i;
      }
    }
    *found = false;
    return free.value_or(i);
  }

  std::optional<std::size_t> Find(std::string_view key) const {
    bool found = false;
    const std::size_t i = Probe(key, &found);
    return found ? std::optional<std::size_t>(i) : std::nullopt;
  }

  // False when the arena cannot address another entry.
  bool Insert(std::string_view key, Kind kind, std::uint32_t added) {
    if (arena.size() + key.size() + 1 + kRefBase > std::numeric_limits<std::uint32_t>::max()) {
      Rehash(slots.size());
      if (arena.size() + key.size() + 1 + kRefBase > std::numeric_limits<std::uint32_t>::max()) {
        return false;
      }
    }
    bool found = false;
    const std::size_t i = Probe(key, &found);
    if (slots[i].ref == kTombstone) --tombstones;
    slots[i] = Slot{static_cast<std::uint32_t>(arena.size() + kRefBase), added,
                    static_cast<std::uint8_t>(kind)};
    // Grows by a quarter (not std::string's doubling): at most 25 % of the arena unused.
    if (arena.size() + key.size() + 1 > arena.capacity()) {
      arena.reserve(arena.capacity() + arena.capacity() / 4 + key.size() + 1);
    }
    Append(arena, key);
    ++live;
    if ((live + tombstones) * 10 > slots.size() * 7) Grow();
    return true;
  }

  // Tombstones slot `i`; `tidy`: rebuilds the arena when mostly erased addresses.
  void Erase(std::size_t i, bool tidy = true) {
    dead_bytes += AddressAt(slots[i].ref).size() + 1;
    slots[i].ref = kTombstone;
    --live;
    ++tombstones;
    if (tidy) Tidy();
  }

  void Tidy() {
    if (dead_bytes > (1u << 20) && dead_bytes * 2 > arena.size()) Rehash(slots.size());
  }

  // Over 70 % used (live + tombstones): room for twice the live entries (at most 50 % full
  // after), or the same size without the tombstones.
  void Grow() {
    std::size_t capacity = 16;
    while (capacity < live * 2) capacity *= 2;
    Rehash(capacity);
  }

  void Rehash(std::size_t capacity) {
    Table fresh;
    fresh.slots.assign(capacity, Slot{});
    fresh.arena.reserve(arena.size() - dead_bytes);
    for (const Slot& s : slots) {
      if (s.ref < kRefBase) continue;
      bool found = false;
      const std::string_view key = AddressAt(s.ref);
      const std::size_t i = fresh.Probe(key, &found);
      fresh.slots[i] =
          Slot{static_cast<std::uint32_t>(fresh.arena.size() + kRefBase), s.added, s.kind};
      Append(fresh.arena, key);
      ++fresh.live;
    }
    *this = std::move(fresh);
  }

  static void Append(std::vector<char>& to, std::string_view key) {
    to.push_back(static_cast<char>(key.size()));
    to.insert(to.end(), key.begin(), key.end());
  }

  std::uint64_t MemoryBytes() const { return slots.capacity() * sizeof(Slot) + arena.capacity(); }
};

SuppressionList::SuppressionList(const Options& options, const Clock& clock)
    : path_(options.path),
      clock_(clock),
      table_(std::make_unique<Table>()),
      max_entries_(std::min(options.max_entries, kMaxEntries)),
      expiry_(options.expiry) {}

SuppressionList::~SuppressionList() {
  Sync();
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<SuppressionList> SuppressionList::Open(const Options& options, const Clock& clock,
                                                       OpenReport* report, std::string* error) {
  std::unique_ptr<SuppressionList> list(new SuppressionList(options, clock));
  OpenReport local;
  OpenReport& r = report != nullptr ? *report : local;
  std::string data;
  if (!ReadWhole(options.path, data, error)) return nullptr;
  const bool damaged = !list->Replay(data, r);
  if (damaged) {
    r.kept_damaged = options.path + ".damaged-" + std::to_string(clock.Now().unix_seconds());
    if (::rename(options.path.c_str(), r.kept_damaged.c_str()) != 0) {
      *error = Errno("cannot keep the damaged " + options.path + " as " + r.kept_damaged);
      return nullptr;
    }
  }
  r.expired = list->Purge();
  r.entries = list->table_->live;
  const bool rewrite = damaged || r.expired > 0 || r.lines > r.entries * 3 / 2 + 1000;
  if (rewrite) {
    if (!list->Compact(error)) return nullptr;
    r.compacted = true;
    return list;
  }
  if (r.torn_tail && ::truncate(options.path.c_str(), static_cast<off_t>(data.size())) != 0) {
    *error = Errno("cannot cut the torn last line of " + options.path);
    return nullptr;
  }
  list->fd_ = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (list->fd_ < 0) {
    *error = Errno("cannot open " + options.path + " for writing");
    return nullptr;
  }
  list->file_size_ = data.size();
  list->lines_since_compaction_ = r.lines;
  return list;
}

// Replays the log into the table; `data` loses a torn last line. False when a line was damaged.
bool SuppressionList::Replay(std::string& data, OpenReport& report) {
  const std::size_t end = data.rfind('\n');
  const std::size_t complete = end == std::string::npos ? 0 : end + 1;
  report.torn_tail = complete != data.size();
  data.resize(complete);
  bool intact = true;
  std::size_t pos = 0;
  for (std::uint64_t line = 1; pos < data.size(); ++line) {
    const std::size_t nl = data.find('\n', pos);
    const std::string_view text = std::string_view(data).substr(pos, nl - pos);
    pos = nl + 1;
    ++report.lines;
    const std::vector<std::string_view> f = Fields(text);
    std::optional<std::string> address = f.empty() ? std::nullopt : Normalize(f.back());
    std::optional<Kind> kind = f.size() == 4 ? ParseKind(f[1]) : std::nullopt;
    std::optional<std::int64_t> added = f.size() == 4 ? ParseUnix(f[2]) : std::nullopt;
    if (address && f.size() == 2 && f[0] == "R") {
      if (auto i = table_->Find(*address)) table_->Erase(*i);
    } else if (address && kind && added && f[0] == "A") {
      if (auto i = table_->Find(*address)) {
        table_->slots[*i].added = static_cast<std::uint32_t>(*added);
        table_->slots[*i].kind = static_cast<std::uint8_t>(*kind);
      } else if (table_->live < max_entries_) {
        table_->Insert(*address, *kind, static_cast<std::uint32_t>(*added));
      } else {
        ++stats_.refused_full;
      }
    } else {
      intact = false;
      report.problems.push_back(path_ + ":" + std::to_string(line) +
                                ": not a suppression entry (expected 'A KIND UNIXTIME ADDRESS' or "
                                "'R ADDRESS'); skipped");
    }
  }
  return intact;
}

// Rewrites the log from the table: a temporary file, fsync, rename, fsync of the directory.
bool SuppressionList::Compact(std::string* error) {
  std::string image;
  std::uint64_t lines = 0;
  {
    std::shared_lock lock(mu_);
    image.reserve(table_->arena.size() + table_->live * 24);
    for (const Table::Slot& s : table_->slots) {
      if (s.ref < kRefBase) continue;
      AppendAddLine(image, static_cast<Kind>(s.kind), s.added, table_->AddressAt(s.ref));
      ++lines;
    }
  }
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = Errno("cannot create " + tmp);
    return false;
  }
  if (!WriteAll(fd, image) || ::fsync(fd) != 0 || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    *error = Errno("cannot rewrite " + path_);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  SyncDirectoryOf(path_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;  // positioned at the end of the new file
  ::fcntl(fd_, F_SETFL, O_APPEND);
  file_size_ = image.size();
  lines_since_compaction_ = lines;
  return true;
}

AddResult SuppressionList::Add(std::string_view address, Kind kind) {
  const std::optional<std::string> key = Normalize(address);
  if (!key) return AddResult::kInvalid;
  const std::int64_t now = clock_.Now().unix_seconds();
  std::unique_lock lock(mu_);
  Table& t = *table_;
  if (auto i = t.Find(*key)) {
    Table::Slot& s = t.slots[*i];
    if (static_cast<Kind>(s.kind) == Kind::kManual) kind = Kind::kManual;  // operators decide
    if (Expired(*i, now)) ++stats_.added[static_cast<int>(kind)];
    s.added = static_cast<std::uint32_t>(now);
    s.kind = static_cast<std::uint8_t>(kind);
    ++stats_.refreshed;
    AppendAddLine(pending_, kind, now, *key);
    return AddResult::kRefreshed;
  }
  if (t.live >= max_entries_ || !t.Insert(*key, kind, static_cast<std::uint32_t>(now))) {
    ++stats_.refused_full;
    return AddResult::kFull;
  }
  ++stats_.added[static_cast<int>(kind)];
  AppendAddLine(pending_, kind, now, *key);
  return AddResult::kAdded;
}

bool SuppressionList::Remove(std::string_view address) {
  const std::optional<std::string> key = Normalize(address);
  if (!key) return false;
  std::unique_lock lock(mu_);
  const std::optional<std::size_t> i = table_->Find(*key);
  if (!i) return false;
  const bool was_live = !Expired(*i, clock_.Now().unix_seconds());
  table_->Erase(*i);
  pending_ += "R " + *key + "\n";
  if (was_live) ++stats_.removed;
  return was_live;
}

bool SuppressionList::Sync() {
  std::lock_guard file_lock(file_mu_);
  std::string lines;
  std::size_t live = 0;
  {
    std::unique_lock lock(mu_);
    lines.swap(pending_);
    live = table_->live;
  }
  if (lines.empty()) return true;
  const bool ok = fd_ >= 0 && WriteAll(fd_, lines) && ::fdatasync(fd_) == 0;
  if (!ok) {
    // Cut what a failed write may have left (the lines stay queued below); a line cut short
    // that stays is dropped by the next Open().
    const bool cut = fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(file_size_)) == 0;
    (void)cut;
    std::unique_lock lock(mu_);
    pending_.insert(0, lines);
    ++stats_.write_errors;
    return false;
  }
  file_size_ += lines.size();
  lines_since_compaction_ +=
      static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
  if (lines_since_compaction_ > live * 2 + kCompactSlack) {
    std::string error;
    if (!Compact(&error)) {
      std::unique_lock lock(mu_);
      ++stats_.write_errors;
    }
  }
  return true;
}

bool SuppressionList::Expired(std::size_t slot, std::int64_t now) const {
  const Table::Slot& s = table_->slots[slot];
  const std::int64_t ttl = expiry_.of(static_cast<Kind>(s.kind));
  return ttl > 0 && static_cast<std::int64_t>(s.added) + ttl <= now;
}

Entry SuppressionList::EntryAt(std::size_t slot) const {
  const Table::Slot& s = table_->slots[slot];
  Entry e;
  e.address = std::string(table_->AddressAt(s.ref));
  e.kind = static_cast<Kind>(s.kind);
  e.added = s.added;
  const std::int64_t ttl = expiry_.of(e.kind);
  e.expires = ttl > 0 ? e.added + ttl : 0;
  return e;
}

std::optional<Entry> SuppressionList::Find(std::string_view address) const {
  const std::optional<std::string> key = Normalize(address);
  if (!key) return std::nullopt;
  const std::int64_t now = clock_.Now().unix_seconds();
  std::shared_lock lock(mu_);
  const std::optional<std::size_t> i = table_->Find(*key);
  if (!i || Expired(*i, now)) return std::nullopt;
  return EntryAt(*i);
}

std::optional<Entry> SuppressionList::Suppresses(std::string_view address) {
  std::optional<Entry> entry = Find(address);
  if (entry) suppressed_.fetch_add(1, std::memory_order_relaxed);
  return entry;
}

std::vector<Entry> SuppressionList::List(std::size_t offset, std::size_t limit) const {
  const std::int64_t now = clock_.Now().unix_seconds();
  std::vector<Entry> out;
  std::shared_lock lock(mu_);
  for (std::size_t i = 0; i < table_->slots.size() && out.size() < limit; ++i) {
    if (!table_->Live(i) || Expired(i, now)) continue;
    if (offset > 0) {
      --offset;
      continue;
    }
    out.push_back(EntryAt(i));
  }
  return out;
}

void SuppressionList::SetLimits(std::uint64_t max_entries, const Expiry& expiry) {
  std::unique_lock lock(mu_);
  max_entries_ = std::min(max_entries, kMaxEntries);
  expiry_ = expiry;
}

std::size_t SuppressionList::Purge() {
  const std::int64_t now = clock_.Now().unix_seconds();
  std::unique_lock lock(mu_);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < table_->slots.size(); ++i) {
    if (!table_->Live(i) || !Expired(i, now)) continue;
    table_->Erase(i, /*tidy=*/false);
    ++dropped;
  }
  table_->Tidy();
  stats_.expired += dropped;
  return dropped;
}

Stats SuppressionList::GetStats() const {
  std::shared_lock lock(mu_);
  Stats s = stats_;
  s.entries = table_->live;
  s.max_entries = max_entries_;
  s.suppressed = suppressed_.load(std::memory_order_relaxed);
  s.memory_bytes = table_->MemoryBytes();
  return s;
}

}  // namespace outpost::suppression
