// Time stamps as the accounting file writes them: "2025-11-22 08:34:42+0000" (local offset), and
// parsing of that form or plain UNIX seconds (some PowerMTA installations write those).
//
// Thread-safety: all functions are thread-safe (localtime_r / timegm, no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::timefmt {

// `unix_seconds` in the local time zone with its numeric offset: "YYYY-MM-DD HH:MM:SS+zzzz".
std::string FormatAcctTime(std::int64_t unix_seconds);
// The same in UTC ("+0000"); deterministic for tests.
std::string FormatAcctTimeUtc(std::int64_t unix_seconds);
// RFC 5322 date for headers: "Sun, 22 Nov 2026 10:47:00 +0000".
std::string FormatRfc5322Date(std::int64_t unix_seconds);

// Accepts "YYYY-MM-DD HH:MM:SS±zzzz", "YYYY-MM-DD HH:MM:SS" (UTC), or decimal UNIX seconds.
std::optional<std::int64_t> ParseAcctTime(std::string_view text);

}  // namespace outpost::timefmt
