// Internal to mta/spool: the segment-log spool's implementation, shared by spool.cpp (commits,
// completion marks, reads), recovery.cpp (start-up scan) and compaction.cpp. Nothing outside
// mta/spool includes this header; spool.hpp is the contract.
//
// .done sidecar: fixed 16-byte records, little endian: u8 kind | 3 bytes zero | u32 value | u64
// entry offset. Kinds:
//   1 recipient `value` of the entry is finished;
//   2 the whole entry is finished;
//   3 skip `value` bytes at offset (a damaged region already moved aside to corrupt/);
//   4 this segment may hold compaction copies (value and offset 0; written and synced before the
//     first copy is written into the segment, so recovery knows which segments to pre-scan);
//   5 the entry was moved: a durable copy of it exists in a newer segment (it is not finished).
// A trailing partial record (torn) is ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mta/spool/spool.hpp"

namespace outpost::spool::internal {

inline constexpr std::size_t kMarkSize = 16;
inline constexpr std::uint8_t kMarkRecipient = 1;
inline constexpr std::uint8_t kMarkMessage = 2;
inline constexpr std::uint8_t kMarkSkip = 3;
inline constexpr std::uint8_t kMarkHoldsCopies = 4;
inline constexpr std::uint8_t kMarkMoved = 5;

std::string Errno(const std::string& what);
std::string SegmentFileName(std::uint32_t number, const char* ext);
// "00000012.seg" -> 12; false for anything else.
bool ParseSegmentFileName(const std::string& name, const char* ext, std::uint32_t& number);
void AppendMark(std::uint8_t kind, std::uint32_t value, std::uint64_t offset, std::string& out);
bool WriteAll(int fd, const char* p, std::size_t n);
bool PreadAll(int fd, char* p, std::size_t n, std::uint64_t offset);
// pwrite(2) until done; false with errno set (ENOSPC for a write that made no progress).
bool PwriteAll(int fd, const char* p, std::size_t n, std::uint64_t offset);
bool ReadWholeFile(const std::string& path, std::string& out);
bool WriteFileSynced(const std::string& path, std::string_view bytes);
void FsyncPath(const std::string& path);

struct SpoolIdHash {
  std::size_t operator()(const SpoolId& id) const {
    return std::hash<std::uint64_t>()(id.offset ^ (static_cast<std::uint64_t>(id.segment) << 40));
  }
};

// What is known in memory of one live entry.
struct MessageState {
  std::vector<bool> done;
  std::uint32_t remaining = 0;
  std::uint32_t bytes = 0;  // framed entry size
};

// For a live entry that is a compaction copy: the message's identity.
struct CopyIdentity {
  SpoolId root;    // where it was first written (what recovery groups copies by)
  SpoolId handle;  // the SpoolId its owner (the scheduler) holds for it
};

// One segment file and its sidecar. Thread-compatible: guarded by SpoolImpl::mu_, except the
// descriptors, which are immutable once set and stay open while any shared_ptr holds the object.
struct Segment {
  std::uint32_t number = 0;
  int fd = -1;       // the .seg file, read-write
  int done_fd = -1;  // the .done sidecar, append-only
  std::uint64_t size = 0;
  std::uint64_t live_bytes = 0;                            // sum of live[*].bytes
  std::unordered_map<std::uint64_t, MessageState> live;    // by entry offset
  std::unordered_map<std::uint64_t, CopyIdentity> copies;  // live copies, by entry offset
  std::string pending_marks;
  bool holds_copies = false;          // the kind-4 mark is durable (committer thread only)
  bool compacting = false;            // being emptied by compaction: only it deletes the file
  std::int64_t retired_ns = 0;        // when it stopped being the active segment (0: long ago)
  std::int64_t compact_after_ns = 0;  // not before this (after a failed attempt)

  ~Segment();
};

// Recovery: the newest valid copy of a relocated message, found before the main scan, with the
// completion marks found at its root and previous locations (merged into it).
struct CopyWinner {
  SpoolId at;
  SpoolId previous;
  std::vector<std::uint32_t> done_elsewhere;
  bool finished_elsewhere = false;
};
using Winners = std::unordered_map<SpoolId, CopyWinner, SpoolIdHash>;  // by root

struct PendingCommit {
  std::string entry;  // framed entry bytes
  std::uint32_t recipients = 0;
  CommitHandler done;
};

// Thread-safe, per spool.hpp.
class SpoolImpl final : public Spool {
 public:
  SpoolImpl(const SpoolOptions& options, int lock_fd, std::uint32_t next_segment);
  ~SpoolImpl() override;

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
  void CompactNow() override;
  void SetMinFreeBytes(std::uint64_t bytes) override { min_free_bytes_.store(bytes); }

 private:
  using MarkBatch = std::vector<std::pair<std::shared_ptr<Segment>, std::string>>;
  struct Found {
    Segment* segment = nullptr;
    std::uint64_t offset = 0;
    MessageState* state = nullptr;
  };

  // spool.cpp
  void CommitterLoop();
  void ProcessBatch(std::vector<PendingCommit>& batch);
  // `why` receives the cause of a refusal (committer thread only).
  CommitStatus WriteBatch(std::vector<PendingCommit>& batch, std::vector<SpoolId>& ids,
                          std::string& why);
  std::shared_ptr<Segment> ActiveSegmentForWrite(CommitStatus& status);
  std::shared_ptr<Segment> CreateSegment(std::uint32_t number);
  MarkBatch TakeMarks(bool all);
  void WriteMarks(const MarkBatch& marks);
  Found FindLocked(SpoolId handle) const;
  void AfterMessageDoneLocked(Segment* segment, std::uint64_t offset);
  void RemoveSegmentLocked(Segment* segment);
  bool ReadEntry(SpoolId id, Envelope& envelope, std::string* data) const;
  // True unless the test hook makes `step` fail.
  bool Step(std::string_view step) const;
  // fdatasync(fd) unless options_.sync is off; `what` names it for options_.on_data_sync.
  bool DataSync(int fd, std::string_view what) const;

  // recovery.cpp
  Winners FindCopies(const std::vector<std::uint32_t>& numbers);
  void RecoverSegment(std::uint32_t number, bool last, const Winners& winners,
                      const std::function<void(RecoveredMessage&&)>& visit, RecoveryReport& report,
                      std::vector<std::uint32_t>& empty_segments);

  // compaction.cpp
  enum class CompactResult {
    kIdle,      // nothing to compact
    kProgress,  // a step was taken (or a victim chosen); more may follow at once
    kWaiting,   // work remains but must wait (rate limit, a failed sync to retry)
  };
  // One slice; `busy`: new mail is being committed, so the slice is small.
  CompactResult CompactStep(bool unlimited, bool busy = false);
  // One slice of a victim's live entries on its way to the active segment (compaction.cpp).
  struct SliceItem {
    std::uint64_t offset;
    std::uint32_t bytes;
    CopyIdentity identity;
    std::vector<bool> done;  // snapshot, written into the copy
  };
  struct Slice {
    std::shared_ptr<Segment> victim;
    std::vector<SliceItem> items;     // chosen, in offset order
    std::string buffer;               // the copied items' relocated entries, back to back
    std::vector<std::size_t> starts;  // where each copied item starts in `buffer`
    std::vector<SliceItem> copied;    // the items read and wrapped
    std::uint64_t source_bytes = 0;   // their bytes in the victim
    bool failed = false;              // some item stays where it is; retried later
    std::shared_ptr<Segment> dest;    // where the copies were made durable (null: nowhere)
    std::uint64_t base = 0;           // at which offset of `dest`
  };
  bool SyncUnsyncedMarks(std::int64_t now);
  std::uint64_t SliceBudget(std::int64_t now, bool limited, bool busy);
  // Picks the victim and its slice; a result when there is nothing to copy now.
  std::optional<CompactResult> ChooseSlice(std::int64_t now, bool unlimited, bool limited,
                                           std::uint64_t budget, Slice& slice);
  void ReadSlice(Slice& slice);
  void WriteSlice(Slice& slice);
  void RedirectSlice(Slice& slice);
  CompactResult MarksNotDurable(const std::shared_ptr<Segment>& victim, std::int64_t now);
  std::shared_ptr<Segment> PickVictimLocked(std::int64_t now_ns, bool ignore_age) const;
  CompactResult FinishVictim(const std::shared_ptr<Segment>& victim);

  const SpoolOptions options_;
  // Steady nanoseconds from options_.clock.
  std::int64_t NowNs() const { return options_.clock->NowMono().time_since_epoch().count(); }
  const std::string segments_dir_;
  const std::string corrupt_dir_;
  const int lock_fd_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable compacted_cv_;
  std::map<std::uint32_t, std::shared_ptr<Segment>> segments_;
  std::shared_ptr<Segment> active_;  // replaced only by the committer thread
  std::uint32_t next_segment_;
  std::vector<PendingCommit> pending_;
  // Handles of relocated entries -> where they live now. Only compaction adds to it; an entry
  // that never moved is found at its handle.
  std::unordered_map<SpoolId, SpoolId, SpoolIdHash> forward_;
  static constexpr std::size_t kGatherMinBatch = 4;
  static constexpr std::chrono::microseconds kGatherWindow{1000};
  std::size_t last_batch_size_ = 0;  // committer thread only (under mu_)
  std::size_t pending_mark_bytes_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread committer_;

  std::uint64_t live_entries_ = 0;
  std::uint64_t live_bytes_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t commit_failures_ = 0;
  std::string last_commit_error_;  // guarded by mu_; see SpoolStats::last_commit_error
  std::uint64_t damaged_total_ = 0;
  std::uint64_t compactions_ = 0;
  std::uint64_t compaction_bytes_copied_ = 0;
  std::uint64_t compaction_bytes_reclaimed_ = 0;
  std::uint64_t compaction_errors_ = 0;
  std::uint64_t compact_requested_ = 0;  // CompactNow() tickets (under mu_)
  std::uint64_t compact_completed_ = 0;

  // Compaction state, committer thread only.
  std::shared_ptr<Segment> victim_;
  std::vector<std::shared_ptr<Segment>> victim_dests_;  // received copies from victim_
  double compaction_tokens_ = 0;  // bytes that may be copied now (token bucket)
  std::int64_t tokens_at_ns_ = 0;
  bool compaction_busy_ = false;                    // work remains: poll more often
  std::vector<std::shared_ptr<Segment>> unsynced_;  // sidecars whose moved marks need a sync
  std::int64_t unsynced_retry_ns_ = 0;

  // Health is re-probed (statvfs) at most every kHealthProbeInterval, in both directions: low
  // space makes the spool unhealthy before a commit fails, and space that returns makes it healthy
  // again without waiting for a commit (no commit is attempted while clients are refused).
  static constexpr std::chrono::milliseconds kHealthProbeInterval{200};
  mutable std::atomic<bool> healthy_{true};
  mutable std::atomic<std::int64_t> last_probe_ns_{0};
  std::atomic<std::uint64_t> min_free_bytes_;
};

}  // namespace outpost::spool::internal
