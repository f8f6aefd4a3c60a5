// Fuzzes the return path's report readers (mta/returnpath/report.hpp): one input = a message sent
// to a processor address, read both as a bounce and as a feedback-loop report.
//
// Invariants checked beyond "no crash" (hostile MIME: deep nesting, broken boundaries, huge
// headers): a report is understood exactly when it names a recipient; an understood bounce has
// only non-empty, lower-case recipients with an '@'; a status, when present, is an enhanced code
// of class 2, 4 or 5; a reply text stays within its bound; a not-understood report says why.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/returnpath/report.hpp"

namespace {

bool Lower(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(outpost::fuzz::AsText(data, size));
  const std::string envelope = "bounces+ann=example.com@bounce.example";
  const outpost::returnpath::Report bounce = outpost::returnpath::ParseBounce(text, envelope);
  FUZZ_CHECK(bounce.understood == !bounce.failed.empty(), "understood == names a recipient");
  FUZZ_CHECK(bounce.understood || !bounce.problem.empty(), "a refusal says why");
  for (const auto& f : bounce.failed) {
    FUZZ_CHECK(f.recipient.find('@') != std::string::npos && Lower(f.recipient), "recipient");
    FUZZ_CHECK(f.status.empty() || f.status[0] == '2' || f.status[0] == '4' || f.status[0] == '5',
               "status class");
    FUZZ_CHECK(f.reply_text.size() <= 500, "reply text bounded");
  }
  const outpost::returnpath::Report fbl = outpost::returnpath::ParseFeedback(text, envelope);
  FUZZ_CHECK(!fbl.understood || fbl.complainer.find('@') != std::string::npos, "complainer");
  FUZZ_CHECK(fbl.understood || !fbl.problem.empty(), "a refusal says why");
  return 0;
}
