// The durable spool: the source of truth for every accepted message.
//
// Layout: DIR/segments/NNNNNNNN.seg are append-only segment files; each holds self-validating
// message entries. DIR/segments/NNNNNNNN.done is the segment's sidecar of completion marks (a
// recipient or a whole message is finished). DIR/corrupt/ receives damaged entries at recovery.
//
// Entry format (little endian): magic "OPS1" | u32 payload length | u32 crc32 of payload | payload
// | trailer "OPSE" | u32 payload length. A torn or damaged entry fails the check and is moved
// aside.
//
// Durability (the fixed commit order, written once in the committer thread): serialize the batch
// -> write(2) it whole -> fdatasync the segment (and fsync the directory when a segment was
// created) -> only then run the commit handlers. With sync_new_messages off (sync-msg-create no)
// the fdatasync of the batch is skipped: a crash of the machine may lose mail already answered. A
// handler reporting success is what lets the SMTP layer answer 250. Concurrent commits share one
// fdatasync (group commit).
//
// Back-pressure: when free space on the spool's filesystem is below `min_free_bytes`, or a write
// fails (ENOSPC, EIO), the batch fails with kDiskFull / kIoError, the partial write is truncated
// away so nothing already accepted is harmed, and Healthy() is false until a later commit succeeds.
//
// Completion: a message leaves the spool only when MarkMessageDone() (or every recipient's
// MarkRecipientDone()) has been called; callers must have written the final accounting record
// first. Completion marks are written without fsync: after a crash a finished recipient may be
// delivered again (at-least-once), never lost. A segment file is deleted when it is not the active
// one and every entry in it is done.
//
// Compaction: a few long-deferred messages would otherwise pin whole segments of delivered mail.
// A segment other than the active one, older than compaction_min_age, whose live bytes fell below
// compaction_threshold of its size, has its live entries copied into the active segment (on the
// committer thread, between batches, at most compaction_rate bytes a second) and is then deleted.
// So the spool holds at most live / threshold bytes plus the active segment (2x live at the
// default 50 %). SpoolIds stay valid: the spool forwards the id its owner holds to the entry's
// current location (an in-memory map with one slot per moved message), so the scheduler is never
// told about a move. After a restart the recovered ids are the current locations. A copy carries
// the message's root (first location) and its finished recipients; the written order of a move,
// and why a crash at any point leaves exactly one live copy of each message, are in
// compaction.cpp and recovery.cpp.
//
// Thread-safety: all public members are thread-safe. Commit handlers run on the committer thread.
// Known limits (XXX): compaction needs free space for the copies (it runs below min_free_bytes,
// but not in the last few megabytes); the marks of a move are written at once and synced before
// the old segment is deleted, other marks keep the at-least-once bound above.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"

namespace outpost::spool {

// Where an entry lives; stable for the entry's life, also across restarts.
struct SpoolId {
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;
  bool operator==(const SpoolId&) const = default;
};

// What the SMTP layer accepted, besides the message bytes.
struct Envelope {
  std::string id;                // queue id assigned at acceptance, unique (used in logs and acct)
  std::int64_t time_queued = 0;  // UNIX seconds
  std::string mail_from;         // "" for the null sender <>
  std::vector<std::string> recipients;
  std::string env_id;           // MAIL FROM ENVID=, if any
  std::string vmta;             // chosen virtual MTA or pool ("" = default)
  std::string job_id;           // X-Job, if the source allows it
  std::string source_ip;        // injecting client's address
  std::string source_helo;      // its EHLO/HELO name
  std::string auth_user;        // AUTH identity, if any
  bool body_8bit = false;       // BODY=8BITMIME
  std::string verp_delimiters;  // XVERP / verp-default: "+=" or "-=" ("" = no VERP)
};

struct SpoolMessage {
  Envelope envelope;
  std::string data;  // the message as delivered: headers and body, CRLF line ends, not dot-stuffed
};

enum class CommitStatus { kOk, kDiskFull, kIoError, kShuttingDown };
const char* CommitStatusName(CommitStatus status);

// Called once per Commit(), on the committer thread.
using CommitHandler = std::function<void(CommitStatus status, SpoolId id)>;

// A message found at recovery. `done_recipients[i]` is true when recipient i was finished.
struct RecoveredMessage {
  SpoolId id;
  Envelope envelope;
  std::uint64_t data_size = 0;
  std::vector<bool> done_recipients;
};

struct RecoveryReport {
  std::uint64_t messages = 0;          // live messages handed to the visitor
  std::uint64_t recipients = 0;        // their not-yet-done recipients
  std::uint64_t damaged = 0;           // entries moved to corrupt/
  std::uint64_t torn_tails = 0;        // incomplete last writes (never acknowledged), moved aside
  std::uint64_t segments_removed = 0;  // segments with nothing live left
  std::vector<std::string> problems;   // one line per damaged entry, for the log
};

struct SpoolStats {
  std::uint64_t entries = 0;     // live messages
  std::uint64_t bytes = 0;       // bytes of segment files on disk
  std::uint64_t live_bytes = 0;  // bytes of live entries (what a perfectly compacted spool holds)
  std::uint64_t segments = 0;
  std::uint64_t commits = 0;  // messages committed since start
  std::uint64_t batches = 0;  // group commits (one fdatasync each unless sync_new_messages is off)
  std::uint64_t commit_failures = 0;
  // Why the most recent refused batch was refused ("" if none since start): the free space
  // against spool-min-free, or the failing call and its errno text.
  std::string last_commit_error;
  std::uint64_t damaged_total = 0;  // entries moved aside since start
  // Compaction, since start: segments emptied by copying their live entries forward and deleted,
  // bytes of live entries copied, bytes of segment files deleted that way, and failed attempts.
  std::uint64_t compactions = 0;
  std::uint64_t compaction_bytes_copied = 0;
  std::uint64_t compaction_bytes_reclaimed = 0;
  std::uint64_t compaction_errors = 0;
  bool healthy = true;
};

struct SpoolOptions {
  std::string dir;
  std::uint64_t segment_bytes = 64ull << 20;   // start a new segment past this size
  std::uint64_t min_free_bytes = 64ull << 20;  // refuse commits below this much free space
  bool sync = true;  // false only for benchmarks that measure without durability (never default)
  // Directive sync-msg-create: fdatasync a batch of new messages before their commit handlers run
  // (before the 250). False skips only that sync: a new segment's name, compaction's copies and
  // the marks of a move are still synced, so compaction stays crash-safe.
  bool sync_new_messages = true;
  // Compaction: a segment other than the active one whose live bytes fell below this fraction of
  // its size is compacted (directive spool-compaction-threshold). 0 turns compaction off.
  double compaction_threshold = 0.5;
  // Most bytes of live entries copied per second (directive spool-compaction-rate); 0 = no limit.
  std::uint64_t compaction_rate = 16ull << 20;
  // A segment is compacted only once it has not been the active one for this long (directive
  // spool-compaction-min-age), so mail about to be delivered is not copied needlessly. Segments
  // found at recovery count as old.
  std::chrono::milliseconds compaction_min_age{std::chrono::seconds(30)};
  // Steady time for the compaction age, its rate limit and the disk-space probe; must outlive the
  // spool. Tests pass a SimulatedClock.
  const Clock* clock = &SystemClock::Instance();
  // Tests only: called after each step of the compaction protocol, by name (see spool.cpp,
  // "Compaction"). Returning false makes that step fail as if its system call had failed; a test
  // may also end the process there to simulate a crash.
  std::function<bool(std::string_view step)> fault_injection;
  // Tests only: called after each successful fdatasync of a segment or sidecar, with what it made
  // durable: "commit" (new messages), "flag", "copy" or "marks" (compaction).
  std::function<void(std::string_view what)> on_data_sync;
};

class Spool {
 public:
  // Creates DIR (and its subfolders) if needed and takes an exclusive lock on DIR/lock (a second
  // outpostd on the same spool fails here). Returns null and sets `error` on failure.
  static std::unique_ptr<Spool> Open(const SpoolOptions& options, std::string* error);
  virtual ~Spool() = default;

  // Scans every segment once, before Start(): calls `visit` for each live message, moves damaged
  // entries aside, deletes segments with nothing live left.
  virtual RecoveryReport Recover(const std::function<void(RecoveredMessage&&)>& visit) = 0;
  // Starts the committer thread. Commit() before Start() is a programming error.
  virtual void Start() = 0;
  // Flushes pending work, stops the committer thread; later commits fail with kShuttingDown.
  virtual void Stop() = 0;

  // Queues `message` for the next group commit; `done` reports the outcome.
  virtual void Commit(SpoolMessage message, CommitHandler done) = 0;

  // Reads an entry's message bytes (for delivery). False if the entry is gone or damaged.
  virtual bool ReadData(SpoolId id, std::string& data) const = 0;
  // Reads an entry's envelope. False if the entry is gone or damaged.
  virtual bool ReadEnvelope(SpoolId id, Envelope& envelope) const = 0;

  virtual void MarkRecipientDone(SpoolId id, std::uint32_t recipient_index) = 0;
  virtual void MarkMessageDone(SpoolId id) = 0;

  // False while commits are being refused (low disk, write errors).
  virtual bool Healthy() const = 0;
  virtual SpoolStats Stats() const = 0;
  // Runs compaction now, without its rate limit or minimum age, until no segment is below the
  // threshold, and returns when done (or at once when the committer thread is not running).
  virtual void CompactNow() {}
  // Changes the free-space floor at run time (e.g. after an operator freed space, or in tests).
  // Not pure so that test doubles of Spool need not implement it.
  virtual void SetMinFreeBytes(std::uint64_t bytes) { (void)bytes; }
};

// A new queue id: 16 hex digits from time and a counter, unique within this host.
std::string NewQueueId();

}  // namespace outpost::spool
