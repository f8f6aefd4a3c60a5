// Accounting feeds: the records of one <acct-file> handed on to a consumer (the accounting webhook,
// or the program of <acct-file |PROGRAM>), at least once, without ever holding them only in memory.
//
// What it does. The AccountingWriter puts every record in its file first (whole lines, rotated as
// configured). A feed follows that file and its rotated predecessors (RotatedFiles(), oldest first,
// then the live file) from a persisted position — (device, inode, byte offset) of the next unsent
// record — reads a batch of whole records from one file, hands it to its Sink, and only after the
// sink accepted it writes the new position (FeedPosition: temp file, fsync, rename). So a restart,
// a kill -9 or a consumer outage loses nothing: what was not acknowledged is read again from disk,
// and at most the one batch in flight when the process died is sent twice.
//
// Rotation. A rotated file keeps its inode, so the position finds it in the rotated set; it is
// finished before the next file is started. The file list is taken before reading, so reaching the
// end of a file that is no longer the newest means its writer has moved on: that end is final.
// Each file starts with its header line, which names the columns of its records (Batch::header);
// the header is never sent as a record. With `delete_consumed` (the pipe's private buffer) rotated
// files wholly sent are deleted.
//
// Batching and retries (AcctFeed::RunOnce, driven by a Clock so tests simulate time): a batch is
// sent when it holds `batch_bytes`, when the records it would hold have waited `batch_interval`
// (counted from when the feed first saw them), or when it ends a rotated file. A failed send is
// retried after a backoff that starts at `initial_backoff` and doubles up to `max_backoff`.
//
// Position lost. When the position's file is gone (deleted by delete-after before it was sent),
// the feed starts at the oldest file still there and counts it (Stats().positions_lost). Without
// any position (first start) it starts at the beginning of the live file (with `delete_consumed`,
// a private buffer, at its oldest file).
//
// Limits (XXX): a deleted file's inode reused by a new rotated file of the same accounting file
// would be taken for it (the feed resumes inside it); records behind is counted from at most
// 16 MiB of unread data and extrapolated beyond.
//
// Thread-safety: AcctFeed::RunOnce() runs on one thread; Stats() may be read from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/config/config.hpp"

namespace outpost::acct {

// Where a feed stands: the next unsent record is at `offset` in the file (dev, ino).
struct FeedPosition {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t offset = 0;
  bool operator==(const FeedPosition&) const = default;
};

// Atomically replaces `path` with the position; false + *error on failure.
bool SaveFeedPosition(const std::string& path, const FeedPosition& pos, std::string* error);
// nullopt + empty *error: no file yet. nullopt + *error: unreadable or malformed.
std::optional<FeedPosition> LoadFeedPosition(const std::string& path, std::string* error);

// Whole records of one file, in order.
struct Batch {
  std::string header_line;                        // the file's header line, line end included
  std::vector<std::string> header;                // its field names
  std::string data;                               // the records' bytes as in the file
  std::vector<std::vector<std::string>> records;  // each record's fields
  FeedPosition end;                               // the position after the last record
  bool ends_file = false;  // the file was rotated and this is its last record
  bool full = false;       // stopped at max_bytes: more records follow
};

// How far behind the live end a feed is.
struct FeedLag {
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
};

// Reads an accounting file and its rotated files from a position.
class AcctFollower {
 public:
  AcctFollower(config::AcctFile file, bool delete_consumed);
  // The batch after `from` (nullopt: the start of the live file), at most `max_bytes` of records
  // (at least one record when one is complete). Empty when nothing complete is unread.
  // *lost is set when `from` names a file that no longer exists.
  Batch Read(const std::optional<FeedPosition>& from, std::size_t max_bytes, bool* lost);
  // Counts records in at most `scan_limit` unread bytes (extrapolated beyond; 0: bytes only).
  FeedLag Lag(const std::optional<FeedPosition>& from, std::uint64_t scan_limit) const;
  // After `pos` was committed: deletes rotated files before its file (delete_consumed only).
  void Consumed(const FeedPosition& pos);

 private:
  struct File {
    std::string path;
    std::uint64_t dev = 0, ino = 0, size = 0;
  };
  std::vector<File> Files() const;
  // Index of the file `from` is in; adjusts *pos to a valid start when it is not found.
  std::size_t Locate(const std::vector<File>& files, const std::optional<FeedPosition>& from,
                     FeedPosition* pos, bool* lost) const;

  config::AcctFile file_;
  bool delete_consumed_;
};

// The consumer of a feed.
class FeedSink {
 public:
  virtual ~FeedSink() = default;
  // True when the consumer took the whole batch; else *error says why (it is sent again).
  virtual bool Send(const Batch& batch, std::string* error) = 0;
  // Stops any work in progress (shutdown); Send() then fails promptly.
  virtual void Stop() {}
  // Times the consumer was started again after it went away (the pipe's program).
  virtual std::uint64_t restarts() const { return 0; }
};

struct FeedOptions {
  std::string name;           // for the log: the webhook URL or the program
  std::string feed;           // the `feed` label: the <acct-file>'s path, or |PROGRAM for a pipe
  std::string position_path;  // where the position is kept
  std::chrono::nanoseconds batch_interval = std::chrono::seconds(1);
  std::size_t batch_bytes = 1024 * 1024;
  std::chrono::nanoseconds initial_backoff = std::chrono::seconds(1);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(60);
  std::chrono::nanoseconds idle_poll = std::chrono::milliseconds(200);
  bool delete_consumed = false;
};

struct FeedStats {
  std::uint64_t records_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t batches_sent = 0;
  std::uint64_t failures = 0;         // failed sends (each retried)
  std::uint64_t position_errors = 0;  // failed position writes
  std::uint64_t positions_lost = 0;   // the position's file was gone
  std::uint64_t restarts = 0;         // FeedSink::restarts()
  std::uint64_t bytes_behind = 0;
  std::uint64_t records_behind = 0;
  std::int64_t oldest_unsent_seconds = 0;  // since the feed was last caught up; 0 when it is
  bool failing = false;                    // the latest send failed
  std::string last_error;
};

class AcctFeed {
 public:
  AcctFeed(config::AcctFile file, FeedOptions options, std::unique_ptr<FeedSink> sink,
           const Clock& clock);
  // Reads the persisted position; false + *error when it is unreadable.
  bool Start(std::string* error);
  // Does what is due now (read, send, commit, back off); returns how long until it is next due.
  std::chrono::nanoseconds RunOnce();
  FeedStats Stats() const;
  FeedSink& sink() { return *sink_; }
  const FeedOptions& options() const { return options_; }

 private:
  bool Due(const Batch& batch, MonoTime now) const;
  void Sent(const Batch& batch);
  void Failed(const std::string& error, MonoTime now);
  void UpdateLag(MonoTime now);
  std::optional<FeedPosition> Position() const;

  FeedOptions options_;
  AcctFollower follower_;
  std::unique_ptr<FeedSink> sink_;
  const Clock& clock_;
  std::optional<MonoTime> pending_since_;  // unsent records first seen
  MonoTime retry_at_{};
  int consecutive_failures_ = 0;
  MonoTime lag_checked_{};
  mutable std::mutex mu_;  // guards the three below
  std::optional<FeedPosition> position_;
  std::optional<MonoTime> behind_since_;  // last caught up (for oldest_unsent_seconds)
  FeedStats stats_;
};

}  // namespace outpost::acct
