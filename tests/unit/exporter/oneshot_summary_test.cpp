// --oneshot's summary: the JSON line carries the unread bytes per file, and a line for people says
// how many records were read and what was left at the end of which file.
#include "exporter/oneshot_summary.hpp"

#include <gtest/gtest.h>

namespace outpost::exporter {
namespace {

OneshotRun RunWith(std::vector<UnreadTail> unread) {
  OneshotRun run;
  run.records = 1;
  run.records_read = 1;
  run.lines = 2;
  run.bytes = 362;
  run.files = 1;
  run.seconds = 0.5;
  run.unread = std::move(unread);
  return run;
}

TEST(OneshotSummary, EverythingReadSaysNothingMore) {
  OneshotRun run = RunWith({});
  EXPECT_EQ(OneshotUnreadText(run), "");
  nlohmann::json j = OneshotSummaryJson(run);
  EXPECT_EQ(j["unread_bytes"], 0);
  EXPECT_EQ(j["unread_files"], nlohmann::json::array());
  EXPECT_EQ(j["records"], 1);
  EXPECT_EQ(j["bytes"], 362);
  EXPECT_DOUBLE_EQ(j["records_per_second"].get<double>(), 2.0);
}

TEST(OneshotSummary, TornTailIsReportedWithItsFileAndSize) {
  OneshotRun run = RunWith({{"/var/log/outpost/acct.csv", 37}});
  EXPECT_EQ(OneshotUnreadText(run),
            "outpost_exporter: --oneshot read 1 records; 37 bytes unread at the end of "
            "/var/log/outpost/acct.csv (no line end)");
  nlohmann::json j = OneshotSummaryJson(run);
  EXPECT_EQ(j["unread_bytes"], 37);
  EXPECT_EQ(j["unread_files"],
            (nlohmann::json{{{"path", "/var/log/outpost/acct.csv"}, {"bytes", 37}}}));
}

TEST(OneshotSummary, SeveralTornTailsAreEachNamedAndSummed) {
  OneshotRun run = RunWith({{"a.csv", 10}, {"b.csv", 5}});
  EXPECT_EQ(OneshotUnreadText(run),
            "outpost_exporter: --oneshot read 1 records; 10 bytes unread at the end of a.csv (no "
            "line end); 5 bytes unread at the end of b.csv (no line end)");
  EXPECT_EQ(OneshotSummaryJson(run)["unread_bytes"], 15);
}

}  // namespace
}  // namespace outpost::exporter
