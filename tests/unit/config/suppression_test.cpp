// The suppression list's directives (Outpost-only): suppression-list, suppression-max-entries and
// the expiry per entry kind (docs/config.md).
#include <gtest/gtest.h>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

TEST(SuppressionConfig, DefaultsOffWithExpiries) {
  LoadResult r = ParseConfig(std::string(kMinimal), "test.conf");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->suppression_list);
  EXPECT_EQ(r.config->suppression_max_entries, 5'000'000u);
  EXPECT_EQ(r.config->suppression_complaint_expire.count(), 0);
  EXPECT_EQ(r.config->suppression_hard_bounce_expire.count(), 90 * 24 * 3600);
  EXPECT_EQ(r.config->suppression_manual_expire.count(), 0);
}

struct ValueCase {
  const char* label;
  const char* snippet;
  bool on;
  std::uint64_t max_entries;
  long long complaint, hard_bounce, manual;  // seconds
};

class SuppressionValueTest : public ::testing::TestWithParam<ValueCase> {};

TEST_P(SuppressionValueTest, SetsTheConfig) {
  const ValueCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.snippet, "test.conf");
  for (const ConfigError& e : r.errors) ADD_FAILURE() << c.label << ": " << e.ToString();
  ASSERT_TRUE(r.config) << c.label;
  EXPECT_EQ(r.config->suppression_list, c.on) << c.label;
  EXPECT_EQ(r.config->suppression_max_entries, c.max_entries) << c.label;
  EXPECT_EQ(r.config->suppression_complaint_expire.count(), c.complaint) << c.label;
  EXPECT_EQ(r.config->suppression_hard_bounce_expire.count(), c.hard_bounce) << c.label;
  EXPECT_EQ(r.config->suppression_manual_expire.count(), c.manual) << c.label;
}

constexpr long long kHb = 90 * 24 * 3600;

INSTANTIATE_TEST_SUITE_P(
    Table, SuppressionValueTest,
    ::testing::Values(ValueCase{"on", "suppression-list yes\n", true, 5'000'000, 0, kHb, 0},
                      ValueCase{"off", "suppression-list off\n", false, 5'000'000, 0, kHb, 0},
                      ValueCase{"max", "suppression-max-entries 1000\n", false, 1000, 0, kHb, 0},
                      ValueCase{"max_ceiling", "suppression-max-entries 8000000\n", false,
                                8'000'000, 0, kHb, 0},
                      ValueCase{"complaint", "suppression-complaint-expire 365d\n", false,
                                5'000'000, 365 * 24 * 3600, kHb, 0},
                      ValueCase{"hard_bounce_never", "suppression-hard-bounce-expire 0\n", false,
                                5'000'000, 0, 0, 0},
                      ValueCase{"manual", "suppression-manual-expire 12h\n", false, 5'000'000, 0,
                                kHb, 12 * 3600}),
    [](const ::testing::TestParamInfo<ValueCase>& info) { return info.param.label; });

struct ErrorCase {
  const char* label;
  const char* snippet;
  int line;  // in the snippet
  const char* message;
};

class SuppressionErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SuppressionErrorTest, NamesFileLineAndProblem) {
  const ErrorCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.snippet, "test.conf");
  EXPECT_FALSE(r.config) << c.label;
  ASSERT_EQ(r.errors.size(), 1u) << c.label;
  EXPECT_EQ(r.errors[0].file, "test.conf") << c.label;
  EXPECT_EQ(r.errors[0].line, c.line + 2) << c.label << ": " << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos)
      << c.label << ": " << r.errors[0].ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Table, SuppressionErrorTest,
    ::testing::Values(
        ErrorCase{"list_not_bool", "suppression-list sometimes\n", 1, "expected yes/no"},
        ErrorCase{"max_zero", "suppression-max-entries 0\n", 1, "from 1 to 8000000"},
        ErrorCase{"max_too_big", "suppression-max-entries 9000000\n", 1, "from 1 to 8000000"},
        ErrorCase{"expire_not_duration", "suppression-complaint-expire soon\n", 1, "expected"},
        ErrorCase{"hard_bounce_not_duration", "suppression-hard-bounce-expire -1d\n", 1,
                  "expected"},
        ErrorCase{"manual_in_source", "<source 0/0>\nsuppression-manual-expire 1d\n</source>\n", 2,
                  "suppression-manual-expire"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.label; });

}  // namespace
}  // namespace outpost::config
