#include "common/time_format.hpp"

#include <gtest/gtest.h>

namespace outpost::timefmt {
namespace {

TEST(TimeFormat, FormatsUtc) {
  EXPECT_EQ(FormatAcctTimeUtc(1763805602), "2025-11-22 10:00:02+0000");
}

struct ParseCase {
  const char* label;
  const char* text;
  std::optional<std::int64_t> expected;
};

class ParseAcctTimeTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseAcctTimeTest, Parses) {
  EXPECT_EQ(ParseAcctTime(GetParam().text), GetParam().expected) << GetParam().label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseAcctTimeTest,
    ::testing::Values(ParseCase{"utc", "2025-11-22 10:00:02+0000", 1763805602},
                      ParseCase{"positive_offset", "2025-11-22 15:30:02+0530", 1763805602},
                      ParseCase{"negative_offset", "2025-11-22 05:00:02-0500", 1763805602},
                      ParseCase{"no_offset", "2025-11-22 10:00:02", 1763805602},
                      ParseCase{"unix", "1763805602", 1763805602},
                      ParseCase{"garbage", "yesterday", std::nullopt},
                      ParseCase{"bad_month", "2025-13-22 10:00:02+0000", std::nullopt},
                      ParseCase{"bad_offset", "2025-11-22 10:00:02+05", std::nullopt},
                      ParseCase{"empty", "", std::nullopt}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(TimeFormat, LocalRoundTrips) {
  EXPECT_EQ(ParseAcctTime(FormatAcctTime(1763805602)), 1763805602);
}

}  // namespace
}  // namespace outpost::timefmt
