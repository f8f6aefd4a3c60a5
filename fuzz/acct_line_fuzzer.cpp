// Fuzzes the exporter's accounting-line parser (exporter/acct_line_parser.hpp), reading a buffer
// record after record as the tailer does (header lines included: a line starting `type,`
// replaces the column map).
//
// Invariants checked beyond "no crash":
//  * kIncomplete consumes nothing; every other kind consumes 1..size bytes, ending at a line end
//    (or, for a runaway line with no end, the whole buffer beyond kMaxRecordBytes);
//  * views of a record lie inside the record's bytes (or in the parser's scratch strings);
//  * the parser's per-instance date cache is invisible: a fresh parser with the same header parses
//    each record the same way (kind, consumed, every value);
//  * ParseAcctTimeFast never disagrees with timefmt::ParseAcctTime on a time both accept, and
//    accepts nothing the slow path refuses.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/time_format.hpp"
#include "exporter/acct_line_parser.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using outpost::exporter::AcctLineParser;
using outpost::exporter::LineKind;
using outpost::exporter::ParsedRecord;
using outpost::exporter::ParseResult;

bool Within(std::string_view v, std::string_view record) {
  return v.data() >= record.data() && v.data() + v.size() <= record.data() + record.size();
}

bool SameRecord(const ParsedRecord& a, const ParsedRecord& b) {
  return a.type == b.type && a.time_logged == b.time_logged && a.time_queued == b.time_queued &&
         a.size == b.size && a.rcpt == b.rcpt && a.bounce_cat == b.bounce_cat &&
         a.source_ip == b.source_ip && a.vmta == b.vmta && a.queue == b.queue;
}

void CheckTimes(std::string_view text) {
  const std::optional<std::int64_t> fast = outpost::exporter::ParseAcctTimeFast(text);
  if (!fast) return;
  const std::optional<std::int64_t> slow = outpost::timefmt::ParseAcctTime(text);
  FUZZ_CHECK(slow.has_value(), "fast path accepts a time the slow path refuses");
  FUZZ_CHECK(*fast == *slow, "fast and slow time parsers disagree");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = outpost::fuzz::AsText(data, size);
  CheckTimes(input.substr(0, input.find_first_of("\r\n,")));

  AcctLineParser parser;
  std::string header;  // the bytes of the last header line in effect
  std::string_view rest = input;
  while (!rest.empty()) {
    ParsedRecord rec;
    const ParseResult r = parser.Parse(rest, rec);
    if (r.kind == LineKind::kIncomplete) {
      FUZZ_CHECK(r.consumed == 0, "incomplete consumes nothing");
      break;
    }
    FUZZ_CHECK(r.consumed >= 1 && r.consumed <= rest.size(), "1 <= consumed <= size");
    const std::string_view record = rest.substr(0, r.consumed);
    const char last = record.back();
    FUZZ_CHECK(last == '\n' || last == '\r' ||
                   (r.kind == LineKind::kMalformed && r.consumed == rest.size() &&
                    r.consumed > AcctLineParser::kMaxRecordBytes),
               "a record ends at a line end");

    if (r.kind == LineKind::kRecord) {
      for (std::string_view v : {rec.rcpt, rec.bounce_cat, rec.source_ip, rec.vmta, rec.queue}) {
        // Unquoted values point into the record; rebuilt ones into scratch (not the rest).
        FUZZ_CHECK(Within(v, record) || !Within(v, input) || v.empty(), "view outside record");
      }
    }

    // A fresh parser (empty date cache) with the same header agrees on this record.
    AcctLineParser fresh;
    if (!header.empty()) {
      ParsedRecord ignored;
      // + "\n": a header ended by a lone CR needs its lookahead byte again.
      FUZZ_CHECK(fresh.Parse(header + "\n", ignored).kind == LineKind::kHeader, "header replays");
    }
    ParsedRecord rec2;
    const ParseResult r2 = fresh.Parse(rest, rec2);
    FUZZ_CHECK(r2.kind == r.kind && r2.consumed == r.consumed, "fresh parser: same split");
    if (r.kind == LineKind::kRecord) {
      FUZZ_CHECK(SameRecord(rec, rec2), "fresh parser: same values (date cache)");
    }
    if (r.kind == LineKind::kHeader) header = std::string(record);
    rest.remove_prefix(r.consumed);
  }
  return 0;
}
