// Header-driven, zero-copy parsing of accounting records for the exporter's ingest hot path.
//
// What it does: a file's header line (first column `type`) decides which column holds which field;
// Parse() then splits one record at the start of a buffer and keeps only the columns the exporter
// counts (type, timeLogged, timeQueued, rcpt, bounceCat, dlvSourceIp, dlvSize, vmta, queue, and
// PowerMTA's feedbackType of `f` records) as
// string_views into the buffer. Unknown columns (timeImprinted, header_*, anything new) are
// skipped.
//
// Invariants: a record is never reported before its line end is in the buffer (kIncomplete), so a
// partial last line of a file being written is simply retried later. A line whose first field is
// `type` is a header, wherever it appears, and replaces the column map.
//
// Error policy: errors are values. kMalformed consumes the bad record through its line end so the
// caller can count it and go on: a quote inside an unquoted field, a field count different from the
// header's, an unparseable timeLogged/timeQueued/dlvSize, or a record longer than kMaxRecordBytes.
//
// Leniency (deliberate): text after a closing quote is appended to the field, as Python's csv and
// PowerMTA's own tools do: PowerMTA writes quoted local parts unescaped (`"Quoted,
// Sender"@example.com`) and such a record must count. common/csv.hpp's strict splitter calls that
// malformed, which is why records do not go through csv::SplitRecord (it also allocates per field);
// headers do.
//
// Speed: field ends are found 16 bytes at a time (SSE2, scalar elsewhere); the day number of the
// last "YYYY-MM-DD" is cached, so a time costs a few digit checks.
//
// Limits: needed fields that had to be unquoted live in internal scratch strings, valid until the
// next Parse(). Times: "YYYY-MM-DD HH:MM:SS±zzzz" and UNIX seconds take a fast path; any other form
// accepted by timefmt::ParseAcctTime falls back to it.
//
// Thread-safety: not thread-safe (one parser per tailed file, used by the ingest thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/acct_format.hpp"

namespace outpost::exporter {

// The fields the exporter reads, in the order of ParsedRecord's views.
enum class AcctColumn : std::uint8_t {
  kType,
  kTimeLogged,
  kTimeQueued,
  kRcpt,
  kBounceCat,
  kSourceIp,
  kSize,
  kVmta,
  kQueue,
  kFeedbackType,  // PowerMTA's f records ("abuse", ...); Outpost's files have no such column
  kCount,         // number of needed columns; also "column not needed"
};
inline constexpr std::size_t kAcctColumnCount = static_cast<std::size_t>(AcctColumn::kCount);

struct ParsedRecord {
  acct::RecordType type = acct::RecordType::kReceived;
  std::int64_t time_logged = -1;  // UNIX seconds, -1 when the column is absent or empty
  std::int64_t time_queued = -1;
  std::int64_t size = -1;  // dlvSize in bytes, -1 when absent or empty
  std::string_view rcpt, bounce_cat, source_ip, vmta, queue, feedback_type;
};

enum class LineKind { kRecord, kHeader, kMalformed, kUnknownType, kIncomplete };

struct ParseResult {
  LineKind kind = LineKind::kIncomplete;
  std::size_t consumed = 0;  // bytes through the line end; 0 for kIncomplete
};

class AcctLineParser {
 public:
  static constexpr std::size_t kMaxRecordBytes = 1 << 20;

  AcctLineParser();  // starts with PowerMTA's default header

  // Replaces the column map from header names (first must be "type"). False (map unchanged) if not.
  bool SetHeader(const std::vector<std::string>& names);
  void ResetToDefaultHeader();
  std::size_t column_count() const { return column_count_; }

  // Parses the record at the start of `data`. kHeader: the line was a header and is now in effect.
  ParseResult Parse(std::string_view data, ParsedRecord& out);

 private:
  std::vector<AcctColumn> map_;  // column index -> needed column (kCount = skip)
  std::size_t column_count_ = 0;
  bool ParseTime(std::string_view text, std::int64_t& out);

  std::array<std::string, kAcctColumnCount> scratch_;
  std::vector<std::string> header_fields_;
  // Last "YYYY-MM-DD" seen by ParseTime and its day number.
  std::array<char, 10> date_key_{};
  std::int64_t date_days_ = 0;
  bool date_valid_ = false;
};

// Accounting time: "YYYY-MM-DD HH:MM:SS±zzzz" or UNIX seconds fast, else timefmt::ParseAcctTime.
std::optional<std::int64_t> ParseAcctTimeFast(std::string_view text);

// The domain part of an address (after the last '@'), or of a queue name "domain/vmta".
std::string_view RecipientDomain(std::string_view rcpt);
std::string_view QueueDomain(std::string_view queue);

}  // namespace outpost::exporter
