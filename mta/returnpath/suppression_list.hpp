// The suppression list: recipient addresses outpostd refuses to send to, because the recipient
// complained (an `f` record), hard-bounced (an `rb` or synchronous `b` record of category
// bad-mailbox, inactive-mailbox or bad-domain) or an operator put them there.
//
// Addresses are kept normalized (ASCII-lowercased, surrounding spaces and <> removed; at most 254
// octets and one '@'). Each entry has a kind (complaint, hard-bounce, manual) and the time it was
// added (or last refreshed); it expires after the expiry of its kind (Expiry; 0 never), judged
// against the clock at each lookup, so a changed expiry applies to every entry at once.
//
// Memory: a compact open-addressing hash table. The addresses live in one arena string (a length
// octet + the address), the table holds 12-octet slots (arena offset, time added, kind) at a load
// of at most 70 %; about 24 + the address's length octets per entry at steady state (measured in
// suppression_list_test, MillionEntriesSizeAndSpeed; docs/powermta.md, "Suppression").
//
// Persistence: an append-only log, one line per change:
//   A KIND ADDED ADDRESS      added or refreshed (KIND complaint|hard-bounce|manual, ADDED unix s)
//   R ADDRESS                 removed
// Add() and Remove() change the table at once and queue their line; Sync() appends the queued
// lines and fdatasyncs them: a change is acknowledged (API answer, report marked done) only after
// Sync() returned true, so kill -9 or a crash of the machine loses no acknowledged entry. Open()
// replays the log: a last line without its newline (a write cut short) is dropped and the file
// truncated there; a line it cannot read is reported (file:line) and skipped, and the whole file
// is first kept beside it as PATH.damaged-UNIXTIME. The log is rewritten from the table (a
// temporary file, fsync, rename, fsync of the directory) at Open() when it holds many more lines
// than entries, and by Sync() once the lines appended since exceed twice the entries + 100000.
//
// Bound: at most `max_entries` entries. At the bound a new address is not added (kFull; counted
// in Stats::refused_full); an address already listed is still refreshed.
//
// Thread-safety: every method may be called from any thread. Lookups share a reader lock; changes
// take it exclusively; Sync() and compaction serialize on a second lock, so file I/O never holds
// up lookups except while a compaction copies the table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"

namespace outpost::suppression {

enum class Kind : std::uint8_t { kComplaint = 0, kHardBounce = 1, kManual = 2 };
inline constexpr int kKinds = 3;
const char* KindName(Kind kind);  // "complaint", "hard-bounce", "manual"
std::optional<Kind> ParseKind(std::string_view text);

// Seconds an entry of each kind stays listed after it was added; 0 means forever.
struct Expiry {
  std::int64_t seconds[kKinds] = {0, 0, 0};
  std::int64_t of(Kind kind) const { return seconds[static_cast<int>(kind)]; }
};

struct Options {
  std::string path;                       // the log file
  std::uint64_t max_entries = 5'000'000;  // at most kMaxEntries
  Expiry expiry;
};
// The arena addresses 32-bit offsets: 8 million entries of the longest addresses fit.
inline constexpr std::uint64_t kMaxEntries = 8'000'000;
inline constexpr std::size_t kMaxAddressLength = 254;

struct Entry {
  std::string address;
  Kind kind = Kind::kManual;
  std::int64_t added = 0;    // unix seconds
  std::int64_t expires = 0;  // unix seconds; 0 never
};

struct Stats {
  std::uint64_t entries = 0;
  std::uint64_t max_entries = 0;
  std::uint64_t added[kKinds] = {};  // new entries since start, by kind
  std::uint64_t refreshed = 0;       // adds of an address already listed
  std::uint64_t removed = 0;         // by an operator
  std::uint64_t expired = 0;         // dropped by Purge() (and at Open())
  std::uint64_t refused_full = 0;    // new addresses not added: the list was at max_entries
  std::uint64_t suppressed = 0;      // recipients refused because listed (Suppresses())
  std::uint64_t write_errors = 0;    // failed Sync()s
  std::uint64_t memory_bytes = 0;    // table + arena
};

struct OpenReport {
  std::uint64_t lines = 0;
  std::uint64_t entries = 0;
  std::uint64_t expired = 0;
  bool torn_tail = false;
  bool compacted = false;
  std::string kept_damaged;           // where the damaged file was kept ("" when none)
  std::vector<std::string> problems;  // "PATH:LINE: ..."
};

enum class AddResult { kAdded, kRefreshed, kFull, kInvalid };

// "User@Example.COM " -> "user@example.com"; nullopt when it is no address the list can hold.
std::optional<std::string> Normalize(std::string_view address);

class SuppressionList {
 public:
  // Opens (creating) the log at options.path and replays it. Null + `error` when the file cannot
  // be read or written.
  static std::unique_ptr<SuppressionList> Open(const Options& options, const Clock& clock,
                                               OpenReport* report, std::string* error);
  ~SuppressionList();
  SuppressionList(const SuppressionList&) = delete;
  SuppressionList& operator=(const SuppressionList&) = delete;

  AddResult Add(std::string_view address, Kind kind);
  bool Remove(std::string_view address);  // false when it was not listed
  // Appends and syncs the changes made since the last Sync(); false (kept for the next one, and
  // counted) when the file could not be written.
  bool Sync();

  std::optional<Entry> Find(std::string_view address) const;  // nullopt: not listed or expired
  // Find(), and counts a hit in Stats::suppressed: for the recipient check.
  std::optional<Entry> Suppresses(std::string_view address);
  // Live entries in table order (stable while the list does not change), from `offset`, at most
  // `limit` (GetStats().entries is how many there are).
  std::vector<Entry> List(std::size_t offset, std::size_t limit) const;

  void SetLimits(std::uint64_t max_entries, const Expiry& expiry);
  std::size_t Purge();  // drops the expired entries from memory (they are not replayed either)
  Stats GetStats() const;

 private:
  struct Table;
  SuppressionList(const Options& options, const Clock& clock);
  bool Replay(std::string& data, OpenReport& report);
  bool Compact(std::string* error);
  Entry EntryAt(std::size_t slot) const;
  bool Expired(std::size_t slot, std::int64_t now) const;

  std::string path_;
  const Clock& clock_;
  int fd_ = -1;

  mutable std::shared_mutex mu_;  // the table, limits, pending lines
  std::unique_ptr<Table> table_;
  std::uint64_t max_entries_;
  Expiry expiry_;
  std::string pending_;
  Stats stats_;
  mutable std::atomic<std::uint64_t> suppressed_{0};

  std::mutex file_mu_;  // the file: Sync() and Compact()
  std::uint64_t file_size_ = 0;
  std::uint64_t lines_since_compaction_ = 0;
};

}  // namespace outpost::suppression
