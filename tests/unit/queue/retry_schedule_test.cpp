// The retry schedule, computed whole.
#include "mta/queue/retry_schedule.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::queue {
namespace {

using std::chrono::seconds;

struct ScheduleCase {
  std::string label;
  std::vector<seconds> retry_after;
  seconds backoff_retry_after;
  QueueMode mode;
  std::vector<seconds> expected;  // delays after attempts 1, 2, 3, ...
};

class RetryScheduleTest : public ::testing::TestWithParam<ScheduleCase> {};

TEST_P(RetryScheduleTest, WholeSchedule) {
  const ScheduleCase& c = GetParam();
  EffectiveDomainPolicy policy;
  policy.retry_after = c.retry_after;
  policy.backoff_retry_after = {c.backoff_retry_after};
  std::vector<seconds> got;
  for (std::uint32_t attempt = 1; attempt <= c.expected.size(); ++attempt) {
    got.push_back(RetryDelay(attempt, policy, c.mode));
  }
  EXPECT_EQ(got, c.expected) << c.label;
}

const seconds m10(600), m20(1200), h1(3600), m30(1800);

INSTANTIATE_TEST_SUITE_P(
    Schedules, RetryScheduleTest,
    ::testing::Values(
        ScheduleCase{
            "default_single_interval", {m10}, h1, QueueMode::kNormal, {m10, m10, m10, m10}},
        ScheduleCase{"list_last_repeats",
                     {m10, m20, h1},
                     h1,
                     QueueMode::kNormal,
                     {m10, m20, h1, h1, h1, h1}},
        ScheduleCase{"backoff_uses_backoff_retry_after",
                     {m10, m20, h1},
                     m30,
                     QueueMode::kBackoff,
                     {m30, m30, m30, m30}},
        ScheduleCase{"empty_list_falls_back_to_default", {}, h1, QueueMode::kNormal, {m10, m10}}),
    [](const ::testing::TestParamInfo<ScheduleCase>& info) { return info.param.label; });

// backoff-retry-after takes a list as retry-after does: successive waits, the last repeating.
TEST(RetryScheduleTest, BackoffListLastRepeats) {
  EffectiveDomainPolicy policy;
  policy.backoff_retry_after = {seconds(60), seconds(300)};
  std::vector<seconds> got;
  for (std::uint32_t attempt = 1; attempt <= 3; ++attempt) {
    got.push_back(RetryDelay(attempt, policy, QueueMode::kBackoff));
  }
  EXPECT_EQ(got, (std::vector<seconds>{seconds(60), seconds(300), seconds(300)}));
}

TEST(RetryScheduleTest, AttemptZeroIsTreatedAsFirst) {
  EffectiveDomainPolicy policy;
  policy.retry_after = {seconds(60), seconds(120)};
  EXPECT_EQ(RetryDelay(0, policy, QueueMode::kNormal), seconds(60));
}

TEST(RetryScheduleTest, ExpiryCountsFromTimeQueued) {
  EffectiveDomainPolicy policy;
  EXPECT_EQ(ExpiresAt(1000, policy), 1000 + 4 * 86400 + 12 * 3600);  // default 4d12h
  policy.bounce_after = seconds(3600);
  EXPECT_EQ(ExpiresAt(1000, policy), 4600);
}

}  // namespace
}  // namespace outpost::queue
