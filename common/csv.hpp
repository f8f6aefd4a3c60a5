// RFC 4180 CSV: field quoting for writers and an incremental record splitter for readers.
//
// Readers get data in chunks (a file being tailed), so SplitRecord() reports "incomplete" rather
// than guessing when a record's end is not yet in the buffer. Both CRLF and bare LF end a record; a
// quoted field may hold commas, doubled quotes and line breaks.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::csv {

// Appends `value`, quoted when it holds a comma, a quote, CR or LF (quotes doubled).
void AppendField(std::string_view value, std::string& out);

enum class SplitStatus { kRecord, kIncomplete, kMalformed };

struct SplitResult {
  SplitStatus status = SplitStatus::kIncomplete;
  std::size_t consumed = 0;  // bytes of `data` used by this record, line end included
};

// Parses the record at the start of `data` into `fields` (cleared first, unquoted values).
// kIncomplete: no complete record yet (nothing consumed). kMalformed: the record's bytes up to its
// line end are consumed and should be counted and skipped (e.g. text after a closing quote).
SplitResult SplitRecord(std::string_view data, std::vector<std::string>& fields);

}  // namespace outpost::csv
