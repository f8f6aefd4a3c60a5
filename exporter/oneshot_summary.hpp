// What `outpost_exporter --oneshot` reports when it is done: one JSON line (stdout, read by
// bench/exporter/run.sh) and, when it left bytes unread, one line for people (stderr).
//
// Unread bytes: a one-shot run reads until every followed file is at its last complete record.
// Bytes after that are a last line without a line end (a record still being written, or a file
// cut short); a live tailer waits for the line end, a one-shot run says how many bytes it left and
// where, so "1 of 2 records" is never silent.
//
// Thread-safety: pure functions (thread-safe).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/acct_tailer.hpp"

namespace outpost::exporter {

struct OneshotRun {
  std::uint64_t records = 0;  // total, including counts restored from the state file
  std::uint64_t records_read = 0;
  std::uint64_t lines = 0;
  std::uint64_t malformed_lines = 0;
  std::uint64_t bytes = 0;  // read by this run
  std::uint64_t files = 0;
  double seconds = 0;
  long max_rss_kib = 0;
  std::vector<UnreadTail> unread;  // AcctTailer::UnreadTails() after the last poll
};

// {"records":..., ..., "unread_bytes": N, "unread_files": [{"path": P, "bytes": N}, ...]}.
nlohmann::json OneshotSummaryJson(const OneshotRun& run);

// "outpost_exporter: --oneshot read 1 records; 37 bytes unread at the end of FILE (no line end)"
// (one "N bytes unread at the end of FILE" per file, joined by "; "), or "" when nothing was left.
std::string OneshotUnreadText(const OneshotRun& run);

}  // namespace outpost::exporter
