// Fuzzes the accounting CSV record splitter (common/csv.hpp SplitRecord), reading a buffer record
// after record as the tools that read accounting files do.
//
// Invariants checked beyond "no crash":
//  * kIncomplete consumes nothing; kRecord/kMalformed consume 1..size bytes, ending at a line end
//    (LF, or a CR not followed by LF);
//  * a record has at least one field, and its field count is one more than the commas outside
//    quotes in its bytes;
//  * the result depends only on the record's bytes (one byte of lookahead for a lone CR): the
//    consumed prefix plus another byte splits the same way;
//  * round trip: the fields written back with AppendField split into the same fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/csv.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using outpost::csv::SplitRecord;
using outpost::csv::SplitResult;
using outpost::csv::SplitStatus;

// Commas outside quotes in a well-formed record's bytes.
std::size_t UnquotedCommas(std::string_view record) {
  std::size_t n = 0;
  bool quoted = false;
  for (char c : record) {
    if (c == '"') quoted = !quoted;  // "" inside quotes toggles twice: no change
    if (c == ',' && !quoted) ++n;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest = outpost::fuzz::AsText(data, size);
  std::vector<std::string> fields;
  while (!rest.empty()) {
    const SplitResult r = SplitRecord(rest, fields);
    if (r.status == SplitStatus::kIncomplete) {
      FUZZ_CHECK(r.consumed == 0, "incomplete consumes nothing");
      break;
    }
    FUZZ_CHECK(r.consumed >= 1 && r.consumed <= rest.size(), "1 <= consumed <= size");
    const std::string_view record = rest.substr(0, r.consumed);
    const char last = record.back();
    FUZZ_CHECK(
        last == '\n' || (last == '\r' && (r.consumed == rest.size() || rest[r.consumed] != '\n')),
        "a record ends at a line end");
    FUZZ_CHECK(last == '\n' || r.consumed < rest.size(), "a lone CR is judged with lookahead");

    // Same outcome from the record's own bytes plus one byte that is not LF.
    std::vector<std::string> again;
    const SplitResult r2 = SplitRecord(std::string(record) + "x", again);
    FUZZ_CHECK(r2.status == r.status && r2.consumed == r.consumed, "prefix: same split");

    if (r.status == SplitStatus::kRecord) {
      FUZZ_CHECK(!fields.empty(), "a record has a field");
      FUZZ_CHECK(again == fields, "prefix: same fields");
      FUZZ_CHECK(fields.size() == UnquotedCommas(record) + 1, "field count == commas + 1");
      std::string written;
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) written += ',';
        outpost::csv::AppendField(fields[i], written);
      }
      written += "\r\n";
      std::vector<std::string> back;
      const SplitResult rt = SplitRecord(written, back);
      FUZZ_CHECK(rt.status == SplitStatus::kRecord && rt.consumed == written.size(),
                 "round trip: one record");
      FUZZ_CHECK(back == fields, "round trip: same fields");
    }
    rest.remove_prefix(r.consumed);
  }
  return 0;
}
