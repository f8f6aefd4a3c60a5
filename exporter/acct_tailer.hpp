// Follows PowerMTA/outpostd accounting files through every kind of rotation and feeds their
// records to AcctCounts.
//
// What it does: each Poll() expands the path globs, opens files it has not seen (by device and
// inode), reads every complete record past each file's offset, and keeps following a file after it
// is renamed, moved to another directory or deleted (the open descriptor still reads it) until it
// has been at its end and out of the globs for `close_grace`. Partial last lines wait for their
// line end, and count as unread (bytes_behind, UnreadTails()) meanwhile. A file whose size drops
// below the offset, or whose first bytes change, was truncated (copytruncate): it is read again
// from 0.
//
// File identity: (device, inode) plus a fingerprint (hash of the first <= 1 KiB, which includes the
// header and the start of the first records). A newly seen inode is identified, in this order:
//  1. a remembered position (restored from the state file, or of a file closed earlier) with the
//     same (device, inode) whose fingerprint still matches: it is that file; resume there. Inode
//     numbers are reused after a delete, which the fingerprint tells apart. This also covers a file
//     that left the globs (or was missed by one glob scan while being renamed) and came back.
//  2. while it is shorter than a known fingerprint and still changing (for up to `close_grace`), it
//     is *pending*: not read, because it may be a copy being written (copytruncate, cp, a move
//     across file systems). Reading a half-written copy from 0 would count its records twice.
//  3. a known file's fingerprint on another inode: a copy; it continues at that file's offset
//     (even past its current size, while the copy is still being written: "filling").
//  4. otherwise a new file: read from 0 (or from its end on a first run without state).
// Two open files with one content (an original and its copy) are never both read: the one that is
// behind (usually the copy) is suspended until the other is truncated, or has been idle at its end
// for `close_grace`; then it continues after what the other one read. The suspension is saved
// with the positions, so a restart in between keeps it. New files are fingerprinted as soon as
// they are found, so this works also when the exporter sees the original and its copy first in
// the same scan.
//
// Invariants: offsets only ever stand at record boundaries (start of a line); a record is counted
// when, and only when, the offset moves past it. Positions (SavePositions) and the counters are
// snapshotted together by the caller, which is what makes restarts exactly-once. Pending files have
// counted nothing and are not saved.
//
// Error policy: I/O errors on one file are skipped (retried next poll); nothing here is fatal.
//
// Limits (XXX): files shorter than their header plus 16 bytes have no usable fingerprint and are
// identified by inode only (a copy of such a file is read from 0); a file deleted or moved outside
// the globs before it was ever opened is not counted; records appended between copytruncate's copy
// and its truncate are lost (logrotate's own race); a new file shorter than 1 KiB is read only
// once it stops changing for `close_grace` or grows past 1 KiB.
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

#include "common/provider_map.hpp"
#include "exporter/acct_counts.hpp"
#include "exporter/acct_line_parser.hpp"

namespace outpost::exporter {

// Bytes of one followed file not read yet: everything, while the file is pending; else the bytes
// past the last complete record, i.e. a last line that has no line end yet.
struct UnreadTail {
  std::string path;
  std::uint64_t bytes = 0;
  bool operator==(const UnreadTail&) const = default;
};

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
  // The followed files with unread bytes, as of the last Poll(); their sum is the health gauge
  // bytes_behind. After a Poll() that consumed nothing and had budget left, what remains is in
  // last lines without a line end (a live tailer waits for it; --oneshot reports it).
  const std::vector<UnreadTail>& UnreadTails() const { return unread_; }

 private:
  // kDead: claimed by a newly opened file, swept at the end of Poll().
  enum class Kind { kOpen, kRetired, kRestored, kDead };
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
    bool pending = false;            // not yet identified (see step 2 above); nothing read
    bool start_at_end = false;       // seen on a first run without state: start at its end
    bool filling = false;            // a copy still shorter than the offset it continues at
    // Suspension restored from the state file: the copy's identity and offset when saved.
    bool link_restored = false;
    dev_t copy_dev = 0;
    ino_t copy_ino = 0;
    std::uint64_t copy_offset = 0;
    std::uint32_t copy_fp_len = 0;
    std::uint64_t copy_fp_hash = 0;
    std::chrono::steady_clock::time_point last_change;
    AcctLineParser parser;
  };

  Entry* FindByInode(Kind kind, dev_t dev, ino_t ino);
  Entry* FindById(std::uint64_t id);
  const Entry* FindById(std::uint64_t id) const;
  Entry* FindSameInodeMatch(const Entry& e);
  Entry* FindFingerprintMatch(int fd, std::uint64_t size, dev_t dev, ino_t ino);
  bool MayBeCopyInProgress(const Entry& e) const;
  void Identify(Entry& e, std::chrono::steady_clock::time_point now);
  void ResolveRestoredLink(Entry& e);
  void ExtendFingerprint(Entry& e);
  void ReleaseSuspended(const Entry& e, std::uint64_t old_offset);
  bool PrefixMatches(int fd, std::uint64_t size, std::uint32_t len, std::uint64_t hash);
  void ReadHeader(Entry& e);
  void Retire(const Entry& e);
  std::size_t ReadAvailable(Entry& e, std::size_t budget);
  void OpenNew(const std::string& path, bool first_poll);
  // The parts of Poll(): which files the globs name now; a file truncated or rewritten in place
  // starts again at 0 (its old identity kept for a copy); dead and surplus retired entries go.
  void MatchGlobs(bool first_poll);
  void RestartTruncated(Entry& e);
  void PruneEntries();

  TailerOptions options_;
  AcctCounts& counts_;
  ProviderResolver& resolver_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<char> buf_;
  std::vector<UnreadTail> unread_;  // as of the last Poll()
  std::uint64_t next_id_ = 1;
  bool first_poll_ = true;
  bool have_state_ = false;
};

// FNV-1a over `data` (the fingerprint hash).
std::uint64_t FingerprintHash(const char* data, std::size_t len);

}  // namespace outpost::exporter
