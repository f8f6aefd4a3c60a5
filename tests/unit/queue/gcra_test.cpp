// GCRA: exact N per period, burst semantics, batches, rate changes. Driven by a simulated clock.
#include "mta/queue/gcra.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace outpost::queue {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

config::Rate R(std::uint64_t count, seconds per) { return config::Rate{count, per}; }

// The most events in any half-open window [e, e + per) starting at an event.
std::size_t MaxInWindow(const std::vector<MonoTime>& events, nanoseconds per) {
  std::size_t best = 0;
  for (std::size_t i = 0, j = 0; i < events.size(); ++i) {
    while (j < events.size() && events[j] < events[i] + per) ++j;
    best = std::max(best, j - i);
  }
  return best;
}

struct RateCase {
  std::string label;
  std::uint64_t count;
  seconds per;
  std::uint32_t burst;
  int periods;
};

class GcraGreedyTest : public ::testing::TestWithParam<RateCase> {};

// A caller that takes an event as soon as one is allowed, for several periods.
TEST_P(GcraGreedyTest, ExactCountPerPeriodAndBurstBound) {
  const RateCase& c = GetParam();
  Gcra gcra(R(c.count, c.per), c.burst);
  const MonoTime start(std::chrono::hours(10));
  const MonoTime end = start + c.per * c.periods;
  std::vector<MonoTime> events;
  MonoTime t = start;
  while (true) {
    t = gcra.NextAllowed(t);
    if (t >= end) break;
    ASSERT_TRUE(gcra.TryTake(t)) << c.label;
    events.push_back(t);
  }
  // B at the start, then one per emission interval: count*periods + B - 1 in [start, end).
  EXPECT_EQ(events.size(), c.count * c.periods + c.burst - 1) << c.label;
  EXPECT_LE(MaxInWindow(events, c.per), c.count + c.burst - 1) << c.label;
  // With burst 1, every window of one period after the first holds exactly `count`.
  if (c.burst == 1) {
    for (int p = 0; p < c.periods; ++p) {
      std::size_t n = 0;
      for (MonoTime e : events) n += e >= start + c.per * p && e < start + c.per * (p + 1);
      EXPECT_EQ(n, c.count) << c.label << " period " << p;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rates, GcraGreedyTest,
    ::testing::Values(RateCase{"2_per_second", 2, seconds(1), 1, 20},
                      RateCase{"3_per_second_non_integer_interval", 3, seconds(1), 1, 50},
                      RateCase{"800_per_hour", 800, seconds(3600), 1, 3},
                      RateCase{"7_per_10s", 7, seconds(10), 1, 30},
                      RateCase{"1_per_day", 1, seconds(86400), 1, 5},
                      RateCase{"burst_5_of_10_per_second", 10, seconds(1), 5, 10},
                      RateCase{"burst_3_of_100_per_minute", 100, seconds(60), 3, 4}),
    [](const ::testing::TestParamInfo<RateCase>& info) { return info.param.label; });

// A caller polling every millisecond, not at the exact allowed instants, never gets more.
TEST(GcraTest, PollingCallerNeverExceedsRate) {
  Gcra gcra(R(3, seconds(1)));
  std::vector<MonoTime> events;
  const MonoTime start(seconds(5));
  for (MonoTime t = start; t < start + seconds(10); t += milliseconds(1)) {
    if (gcra.TryTake(t)) events.push_back(t);
  }
  EXPECT_EQ(events.size(), 30u);
  EXPECT_LE(MaxInWindow(events, seconds(1)), 3u);
}

TEST(GcraTest, UnlimitedAllowsEverything) {
  Gcra gcra(R(0, seconds(1)));
  EXPECT_TRUE(gcra.unlimited());
  EXPECT_EQ(gcra.Available(MonoTime(seconds(1)), 12345), 12345u);
  gcra.Take(MonoTime(seconds(1)), 12345);
  EXPECT_EQ(gcra.NextAllowed(MonoTime(seconds(1))), MonoTime(seconds(1)));
}

struct BatchCase {
  std::string label;
  std::uint32_t burst;
  nanoseconds idle;  // time since the last take
  std::uint64_t want;
  std::uint64_t expected;
};

class GcraBatchTest : public ::testing::TestWithParam<BatchCase> {};

TEST_P(GcraBatchTest, AvailableCountsWhatTheBurstAllows) {
  const BatchCase& c = GetParam();
  Gcra gcra(R(10, seconds(1)), c.burst);  // T = 100 ms
  const MonoTime t0(seconds(100));
  gcra.Take(t0, 1);
  EXPECT_EQ(gcra.Available(t0 + c.idle, c.want), c.expected) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Batches, GcraBatchTest,
    ::testing::Values(BatchCase{"burst1_too_early", 1, milliseconds(99), 5, 0},
                      BatchCase{"burst1_on_time", 1, milliseconds(100), 5, 1},
                      BatchCase{"burst1_long_idle_still_one", 1, seconds(60), 5, 1},
                      BatchCase{"burst4_right_after", 4, milliseconds(0), 10, 3},
                      BatchCase{"burst4_long_idle", 4, seconds(60), 10, 4},
                      BatchCase{"burst4_capped_by_want", 4, seconds(60), 2, 2},
                      BatchCase{"burst4_partly_refilled", 4, milliseconds(150), 10, 4}),
    [](const ::testing::TestParamInfo<BatchCase>& info) { return info.param.label; });

TEST(GcraTest, NextAllowedIsTheFirstAllowedInstant) {
  Gcra gcra(R(3, seconds(1)));
  const MonoTime t0(seconds(7));
  ASSERT_TRUE(gcra.TryTake(t0));
  MonoTime next = gcra.NextAllowed(t0);
  EXPECT_EQ(next - t0, nanoseconds(333333334));  // ceil(1e9 / 3)
  EXPECT_EQ(gcra.Available(next - nanoseconds(1), 1), 0u);
  EXPECT_EQ(gcra.Available(next, 1), 1u);
}

TEST(GcraTest, SetRateKeepsEventsAlreadyTaken) {
  Gcra gcra(R(60, seconds(60)));  // 1 per second
  const MonoTime t0(seconds(10));
  ASSERT_TRUE(gcra.TryTake(t0));
  gcra.SetRate(R(6, seconds(60)));  // backoff: 1 per 10 s; the TAT stays at t0 + 1 s
  EXPECT_EQ(gcra.Available(t0 + milliseconds(999), 1), 0u);
  EXPECT_TRUE(gcra.TryTake(t0 + seconds(1)));
  EXPECT_EQ(gcra.NextAllowed(t0 + seconds(1)), t0 + seconds(11));
}

}  // namespace
}  // namespace outpost::queue
