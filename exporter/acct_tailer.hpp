// Follows PowerMTA/outpostd accounting files through every kind of rotation and feeds their
// records to AcctCounts.
//
// What it does: each Poll() expands the path globs, opens files it has not seen (by device and
// inode), reads every complete record past each file's offset, and keeps following a file after it
// is renamed, moved to another directory or deleted (the open descriptor still reads it) until it
// has been at its end and out of the globs for `close_grace`. Partial last lines wait for their
// line end. A file whose size drops below the offset, or whose first bytes change, was truncated
// (copytruncate): it is read again from 0.
//
// File identity: (device, inode) plus a fingerprint (hash of the first <= 1 KiB, which includes the
// header and the start of the first record). A new inode whose fingerprint equals a known file's
// is a copy of it (copytruncate's copy, a move across file systems, a file moved while the exporter
// was down): it continues at the known file's offset instead of 0, so nothing is counted twice.
// While such a copy is being read, the original is suspended until it is truncated, or until the
// copy has been idle for `close_grace` (then the original continues after the copy's end).
//
// Invariants: offsets only ever stand at record boundaries (start of a line); a record is counted
// when, and only when, the offset moves past it. Positions (SavePositions) and the counters are
// snapshotted together by the caller, which is what makes restarts exactly-once.
//
// Error policy: I/O errors on one file are skipped (retried next poll); nothing here is fatal.
//
// Limits (XXX): files shorter than their header plus a few bytes have no usable fingerprint and are
// identified by inode only; a file deleted or moved outside the globs before it was ever opened is
// not counted; a crash in the instant between a copytruncate copy and its truncate can count the
// copied tail twice (the suspension is not persisted).
//
// Thread-safety: not thread-safe; one ingest thread drives it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/acct_counts.hpp"
#include "exporter/acct_line_parser.hpp"
#include "exporter/provider_map.hpp"

namespace outpost::exporter {

struct TailerOptions {
  std::vector<std::string> patterns;  // paths or globs
  bool from_start = false;  // first run without state: read existing files from 0, not their end
  std::chrono::milliseconds close_grace{5000};
  std::size_t max_bytes_per_poll = 64u << 20;
};

class AcctTailer {
 public:
  static constexpr std::uint32_t kFingerprintBytes = 1024;
  static constexpr std::size_t kMaxRetired = 256;

  AcctTailer(TailerOptions options, AcctCounts& counts, ProviderResolver& resolver);
  ~AcctTailer();
  AcctTailer(const AcctTailer&) = delete;
  AcctTailer& operator=(const AcctTailer&) = delete;

  // Before the first Poll(): positions from a state snapshot. Files not in it are new (read from
  // 0).
  bool LoadPositions(const nlohmann::json& files, std::string* error);
  nlohmann::json SavePositions() const;

  // One pass. Returns bytes consumed; *more is set when the byte budget stopped it early.
  std::size_t Poll(bool* more);

 private:
  enum class Kind { kOpen, kRetired, kRestored };
  struct Entry {
    std::uint64_t id = 0;
    Kind kind = Kind::kOpen;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string path;
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint32_t fp_len = 0;
    std::uint64_t fp_hash = 0;
    std::uint64_t header_end = 0;
    std::uint64_t size = 0;
    bool matched = false;
    bool gone = false;               // rotation already counted for leaving the globs
    std::uint64_t suspended_by = 0;  // id of the copy being read instead
    std::chrono::steady_clock::time_point last_change;
    AcctLineParser parser;
  };

  Entry* FindByInode(Kind kind, dev_t dev, ino_t ino);
  Entry* FindById(std::uint64_t id);
  Entry* FindFingerprintMatch(int fd, std::uint64_t size, dev_t dev, ino_t ino);
  bool PrefixMatches(int fd, std::uint64_t size, std::uint32_t len, std::uint64_t hash);
  void ReadHeader(Entry& e);
  void Retire(const Entry& e);
  std::size_t ReadAvailable(Entry& e, std::size_t budget);
  void OpenNew(const std::string& path, bool first_poll);

  TailerOptions options_;
  AcctCounts& counts_;
  ProviderResolver& resolver_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<char> buf_;
  std::uint64_t next_id_ = 1;
  bool first_poll_ = true;
  bool have_state_ = false;
};

// FNV-1a over `data` (the fingerprint hash).
std::uint64_t FingerprintHash(const char* data, std::size_t len);

}  // namespace outpost::exporter
