#include "tools/isp-sim/ratio_schedule.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace outpost::isp_sim {
namespace {

TEST(RatioScheduleTest, ParsePpm) {
  struct Case {
    const char* label;
    const char* text;
    std::optional<std::uint32_t> want;
  };
  const Case cases[] = {
      {"zero", "0", 0u},
      {"one", "1", 1'000'000u},
      {"one point zero", "1.0", 1'000'000u},
      {"three tenths exact", "0.3", 300'000u},
      {"leading dot", ".05", 50'000u},
      {"per million", "0.000001", 1u},
      {"percent", "30%", 300'000u},
      {"percent fraction", "2.5%", 25'000u},
      {"above one", "1.5", std::nullopt},
      {"above hundred percent", "101%", std::nullopt},
      {"negative", "-0.1", std::nullopt},
      {"word", "half", std::nullopt},
      {"empty", "", std::nullopt},
      {"lone dot", ".", std::nullopt},
      {"trailing junk", "0.3x", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RatioSchedule::ParsePpm(c.text), c.want) << c.label;
  }
}

TEST(RatioScheduleTest, PicksExactCountsEvenlySpread) {
  struct Case {
    const char* label;
    std::uint32_t ppm;
    std::uint64_t events;
    std::uint64_t want_picks;
    std::vector<std::uint64_t> first_picks;
  };
  const Case cases[] = {
      {"never", 0, 1000, 0, {}},
      {"always", 1'000'000, 10, 10, {1, 2, 3}},
      {"quarter", 250'000, 100, 25, {4, 8, 12}},
      {"three tenths", 300'000, 100, 30, {4, 7, 10, 14}},
      {"three tenths, 20 events", 300'000, 20, 6, {4, 7, 10}},
      {"five percent", 50'000, 1000, 50, {20, 40}},
      {"one in three", 333'334, 3000, 1000, {3, 6}},
  };
  for (const auto& c : cases) {
    RatioSchedule schedule(c.ppm);
    std::vector<std::uint64_t> picks;
    for (std::uint64_t n = 1; n <= c.events; ++n) {
      if (schedule.Next()) picks.push_back(n);
    }
    EXPECT_EQ(picks.size(), c.want_picks) << c.label;
    EXPECT_EQ(schedule.ExpectedPicks(c.events), c.want_picks) << c.label;
    for (std::size_t i = 0; i < c.first_picks.size(); ++i) {
      ASSERT_LT(i, picks.size()) << c.label;
      EXPECT_EQ(picks[i], c.first_picks[i]) << c.label << " pick " << i;
    }
  }
}

TEST(RatioScheduleTest, ExpectedPicksMatchesCountingAtEveryPrefix) {
  RatioSchedule schedule(123'457);
  std::uint64_t picked = 0;
  for (std::uint64_t n = 1; n <= 20'000; ++n) {
    if (schedule.Next()) ++picked;
    ASSERT_EQ(picked, schedule.ExpectedPicks(n)) << "after " << n << " events";
  }
}

TEST(RatioScheduleTest, NoOverflowForHugeCounts) {
  RatioSchedule schedule(500'000);
  EXPECT_EQ(schedule.ExpectedPicks(40'000'000'000'000ull), 20'000'000'000'000ull);
}

}  // namespace
}  // namespace outpost::isp_sim
