// The accounting writer: PowerMTA-format CSV files (docs/powermta.md, "The accounting file").
//
// Each <acct-file> gets one writer. Every new file starts with the default header line. Records
// are filtered by `records` (e.g. d,b,t,r), buffered in memory and written to the file only as
// whole lines, so a reader never sees a torn record; Flush() writes everything buffered.
//
// Rotation, checked by Tick() and before each write: when the file is older than `move-interval`
// or larger than `max-size`, the writer flushes, renames the file to
// NAME-YYYY-MM-DD-HHMMSS.EXT (a -N suffix if that exists) in `move-to` (default: the same
// directory), and opens a fresh file with a header. Nothing is lost or written twice: rotation
// happens between whole buffered writes. Rotated files older than `delete-after` are deleted.
//
// Clock: the writer never reads the wall clock for rotation decisions. Its "now" is the latest
// time passed to Tick(); the current file's "opened at" is the first Tick() after it was opened
// (so a file appended to after a restart counts its age from then). A size rotation before any
// Tick() names the file by the wall clock. Rotated names use local time; delete-after reads the
// time back from the name, so it also works for files rotated by an earlier run. This keeps
// tests deterministic with a simulated clock.
//
// Errors: a failed write (e.g. the accounting disk is full) keeps the records buffered and retries
// on the next Flush()/Tick(); Stats().healthy is false meanwhile. Write() always accepts (nothing
// is dropped silently); the backlog shows in Stats().buffered_bytes. Durable() is true only when
// every record handed to Write() is in the file (written with write(2): it survives a kill -9 of
// the process, not a power loss — there is no fsync). The scheduler asks Durable() after its
// Flush() and leaves a message in the spool while its final records are not durable, so a full
// accounting disk never loses the record of a message that left the spool (docs/reliability.md).
//
// Thread-safety: all public members are thread-safe (one mutex; Write() only appends to a buffer).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/acct_format.hpp"
#include "mta/config/config.hpp"

namespace outpost::acct {

struct WriterStats {
  std::uint64_t records_written = 0;
  std::uint64_t records_filtered = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t rotations = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t buffered_bytes = 0;
  bool healthy = true;
};

// The columns of `file` and which of them each record type fills (its record-fields lines; the
// default header when it has none).
Layout LayoutFor(const config::AcctFile& file);

// A file `file` was rotated into: NAME-YYYY-MM-DD-HHMMSS[-N].EXT in its move-to directory.
struct RotatedFile {
  std::string path;
  std::chrono::system_clock::time_point stamp;  // the time in its name
  int n = 0;                                    // its -N suffix (0: none)
};
// The rotated files of `file` that are still there, oldest first (by name: time, then N).
std::vector<RotatedFile> RotatedFiles(const config::AcctFile& file);

class AccountingWriter {
 public:
  // Opens (appends to) the file, writing a header if it is new or empty. Null + error on failure.
  static std::unique_ptr<AccountingWriter> Open(const config::AcctFile& file, std::string* error);
  virtual ~AccountingWriter() = default;

  virtual void Write(const Record& record) = 0;
  virtual void Flush() = 0;
  // True when nothing is buffered: every record written so far is in the file.
  virtual bool Durable() const = 0;
  // Time-based work: move-interval rotation, delete-after clean-up, periodic flush.
  virtual void Tick(std::chrono::system_clock::time_point now) = 0;
  virtual WriterStats Stats() const = 0;
};

// All configured accounting files, written as one.
// Thread-safety: as AccountingWriter.
class AccountingLog {
 public:
  // Opens every <acct-file>; on failure returns null and sets `error` (naming the file).
  static std::unique_ptr<AccountingLog> Open(const std::vector<config::AcctFile>& files,
                                             std::string* error);
  void Write(const Record& record);
  void Flush();
  // True when every writer is Durable().
  bool Durable() const;
  void Tick(std::chrono::system_clock::time_point now);
  std::vector<WriterStats> Stats() const;

 private:
  std::vector<std::unique_ptr<AccountingWriter>> writers_;
};

}  // namespace outpost::acct
