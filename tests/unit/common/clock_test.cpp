#include "common/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace outpost {
namespace {

using std::chrono::seconds;

TEST(ClockTest, SimulatedClockMovesWallAndMonoTogetherOnlyWhenTold) {
  SimulatedClock clock;
  const Instant start = clock.Now();
  EXPECT_EQ(start.unix_seconds(), 1735689600);
  EXPECT_EQ(start.mono_seconds() % 3600, 0);  // bucket-aligned origin
  EXPECT_EQ(clock.Now().mono, start.mono);
  clock.Advance(seconds(90));
  EXPECT_EQ(clock.Now().unix_seconds(), 1735689690);
  EXPECT_EQ(clock.NowMono() - start.mono, seconds(90));
  EXPECT_EQ(clock.MonoSeconds(), start.mono_seconds() + 90);
  clock.Advance(seconds(-5));  // never backwards
  EXPECT_EQ(clock.MonoSeconds(), start.mono_seconds() + 90);
  clock.AdvanceTo(start.mono + seconds(60));  // in the past: no-op
  EXPECT_EQ(clock.MonoSeconds(), start.mono_seconds() + 90);
  clock.AdvanceTo(start.mono + seconds(100));
  EXPECT_EQ(clock.Now().unix_seconds(), 1735689700);
}

TEST(ClockTest, SimulatedClockAdvancesFromManyThreadsWithoutLosingSteps) {
  SimulatedClock clock;
  const MonoTime start = clock.NowMono();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) clock.Advance(std::chrono::milliseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.NowMono() - start, seconds(4));
}

TEST(ClockTest, SystemClockIsTheRealClock) {
  const Instant before = SystemClock::Instance().Now();
  const auto wall = std::chrono::system_clock::now();
  EXPECT_LE(before.wall, wall);
  EXPECT_LE(before.mono, SystemClock::Instance().NowMono());
}

}  // namespace
}  // namespace outpost
