#include "mta/bus/bus.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "mta/bus/stats.hpp"

namespace outpost::bus {
namespace {

constexpr std::array<Descriptor, 4> kTestMetrics{{
    {"events_total", "Events.", MetricType::kWindowed, "events", ""},
    {"plain_total", "Plain counter.", MetricType::kCounter, "events", ""},
    {"depth", "Depth per queue.", MetricType::kGauge, "recipients", "queue"},
    {"outcomes_total", "Outcomes per domain.", MetricType::kWindowed, "recipients", "domain"},
}};

// Windows: each case adds events at given offsets (seconds after the start) and reads the windows
// at a final offset.
struct WindowCase {
  const char* label;
  std::vector<std::pair<std::int64_t, std::int64_t>> adds;  // (offset, n)
  std::int64_t read_at;
  WindowCounts want;
};

TEST(BusWindows, CountsAreExactToTheBucket) {
  const std::vector<WindowCase> cases = {
      {"nothing", {}, 0, {0, 0, 0}},
      {"one event now", {{0, 1}}, 0, {1, 1, 1}},
      {"same bucket sums", {{0, 2}, {5, 3}}, 9, {5, 5, 5}},
      {"leaves 1m after 6 buckets", {{0, 4}}, 60, {0, 4, 4}},
      {"still in 1m 50s later", {{0, 4}}, 50, {4, 4, 4}},
      {"leaves 5m", {{0, 4}}, 300, {0, 0, 4}},
      {"leaves 1h", {{0, 4}}, 3600, {0, 0, 0}},
      {"mixed ages", {{0, 1}, {200, 10}, {3000, 100}}, 3010, {100, 100, 111}},
      {"bucket reused an hour later resets", {{0, 7}, {3600, 1}}, 3600, {1, 1, 1}},
      {"idle gap longer than a ring", {{0, 7}, {7200, 2}}, 7205, {2, 2, 2}},
  };
  for (const auto& c : cases) {
    SimulatedClock time;  // bucket-aligned start
    Registry registry(time);
    auto metrics = registry.Register(kTestMetrics);
    Series& s = metrics[0]->series();
    std::int64_t at = 0;
    std::int64_t total = 0;
    for (const auto& [offset, n] : c.adds) {
      time.Advance(std::chrono::seconds(offset - at));
      at = offset;
      s.Add(n);
      total += n;
    }
    time.Advance(std::chrono::seconds(c.read_at - at));
    WindowCounts got = s.Windows();
    EXPECT_EQ(got.last_1m, c.want.last_1m) << c.label;
    EXPECT_EQ(got.last_5m, c.want.last_5m) << c.label;
    EXPECT_EQ(got.last_1h, c.want.last_1h) << c.label;
    EXPECT_EQ(s.value(), total) << c.label << ": the total never expires";
  }
}

TEST(BusWindows, PlainCountersHaveNoWindows) {
  SimulatedClock time;
  Registry registry(time);
  auto metrics = registry.Register(kTestMetrics);
  metrics[1]->series().Add(5);
  EXPECT_EQ(metrics[1]->series().value(), 5);
  EXPECT_EQ(metrics[1]->series().Windows().last_1m, 0);
}

TEST(BusFamilies, SeriesAreCreatedOnFirstUseAndStable) {
  SimulatedClock time;
  Registry registry(time);
  auto metrics = registry.Register(kTestMetrics);
  auto a = metrics[2]->With("gmail.com/vmta1");
  auto b = metrics[2]->With("gmail.com/vmta1");
  EXPECT_EQ(a.get(), b.get());
  a->Set(12);
  metrics[2]->Set("yahoo.com/vmta1", 3);
  BusSnapshot snap = registry.Snapshot();
  EXPECT_EQ(snap.Value("depth", "gmail.com/vmta1"), 12);
  EXPECT_EQ(snap.Value("depth", "yahoo.com/vmta1"), 3);
  EXPECT_EQ(snap.Value("depth", "absent"), 0);
  ASSERT_NE(snap.Find("depth"), nullptr);
  ASSERT_EQ(snap.Find("depth")->series.size(), 2u);
  EXPECT_EQ(snap.Find("depth")->series[0].label, "gmail.com/vmta1") << "sorted by label";
}

TEST(BusFamilies, RegisteringTheSameListTwiceSharesMetrics) {
  SimulatedClock time;
  Registry registry(time);
  auto first = registry.Register(kTestMetrics);
  auto second = registry.Register(kTestMetrics);
  EXPECT_EQ(first[0], second[0]);
  EXPECT_EQ(registry.Snapshot().metrics.size(), kTestMetrics.size());
}

struct ExpiryCase {
  const char* label;
  int metric;  // index into kTestMetrics
  std::int64_t gauge_value;
  std::int64_t idle_for;
  bool expired;
};

TEST(BusExpiry, IdleSeriesGoAway) {
  const std::vector<ExpiryCase> cases = {
      {"zero gauge idle long enough", 2, 0, 600, true},
      {"zero gauge not idle long enough", 2, 0, 599, false},
      {"non-zero gauge never expires", 2, 5, 100000, false},
      {"windowed counter idle long enough", 3, 1, 600, true},
      {"windowed counter recently updated", 3, 1, 10, false},
  };
  for (const auto& c : cases) {
    SimulatedClock time;
    Registry registry(time, /*idle_seconds=*/600);
    auto metrics = registry.Register(kTestMetrics);
    Metric& m = *metrics[static_cast<std::size_t>(c.metric)];
    if (m.descriptor().type == MetricType::kGauge) {
      m.Set("q", c.gauge_value);
    } else {
      m.Add("q", c.gauge_value);
    }
    time.Advance(std::chrono::seconds(c.idle_for));
    std::size_t removed = registry.ExpireIdle();
    EXPECT_EQ(removed, c.expired ? 1u : 0u) << c.label;
    EXPECT_EQ(m.series_count(), c.expired ? 0u : 1u) << c.label;
  }
}

TEST(BusExpiry, KeptPointerSurvivesExpiry) {
  SimulatedClock time;
  Registry registry(time, 60);
  auto metrics = registry.Register(kTestMetrics);
  auto kept = metrics[3]->With("example.com");
  kept->Add(1);
  time.Advance(std::chrono::seconds(120));
  EXPECT_EQ(registry.ExpireIdle(), 1u);
  kept->Add(1);  // detached, but valid memory (ASan checks this)
  EXPECT_EQ(metrics[3]->With("example.com")->value(), 0) << "a fresh series after expiry";
}

TEST(BusExpiry, UnlabelledMetricsNeverExpire) {
  SimulatedClock time;
  Registry registry(time, 60);
  auto metrics = registry.Register(kTestMetrics);
  metrics[1]->series().Add(3);
  time.Advance(std::chrono::seconds(100000));
  registry.ExpireIdle();
  EXPECT_EQ(registry.Snapshot().Value("plain_total"), 3);
}

// Writers on several threads; a reader snapshots meanwhile. Every snapshot must see monotonic
// counters and families without torn series; after the join, every event is counted exactly once
// in both the total and the windows.
TEST(BusSnapshot, ConcurrentWritersAreCountedExactly) {
  SimulatedClock time;
  Registry registry(time);
  auto metrics = registry.Register(kTestMetrics);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics[0]->series().Add(1);
        metrics[3]->Add(i % 2 == 0 ? "a.example" : "b.example", 1);
        if (t == 0 && i % 5000 == 0) time.Advance(std::chrono::seconds(1));
      }
    });
  }
  std::int64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    BusSnapshot snap = registry.Snapshot();
    std::int64_t now = snap.Value("events_total");
    EXPECT_GE(now, last);
    last = now;
    for (const auto& s : snap.Find("outcomes_total")->series) {
      EXPECT_TRUE(s.label == "a.example" || s.label == "b.example") << s.label;
    }
  }
  for (auto& w : writers) w.join();
  BusSnapshot snap = registry.Snapshot();
  EXPECT_EQ(snap.Value("events_total"), kThreads * kPerThread);
  EXPECT_EQ(snap.Windows("events_total").last_1m, kThreads * kPerThread);
  EXPECT_EQ(snap.Value("outcomes_total", "a.example") + snap.Value("outcomes_total", "b.example"),
            kThreads * kPerThread);
  EXPECT_EQ(snap.Windows("outcomes_total", "a.example").last_5m, kThreads * kPerThread / 2);
}

// Counters fed from a producer's own running total: AdvanceTo adds the difference (windows
// included) and never goes down; Mirror is Set on a gauge and AdvanceTo on a counter.
struct AdvanceCase {
  const char* label;
  std::vector<std::int64_t> totals;
  std::int64_t want_value;
  std::int64_t want_last_1m;  // for the windowed metric
};

TEST(BusCounters, AdvanceToAddsTheDifferenceAndNeverGoesDown) {
  const std::vector<AdvanceCase> cases = {
      {"first reading counts whole", {5}, 5, 5},
      {"increments", {5, 7, 12}, 12, 12},
      {"same total adds nothing", {4, 4, 4}, 4, 4},
      {"a lower total is ignored", {9, 3, 10}, 10, 10},
      {"zero and negative do nothing", {0, -2}, 0, 0},
  };
  for (const auto& c : cases) {
    SimulatedClock time;
    Registry registry(time);
    auto metrics = registry.Register(kTestMetrics);
    for (std::int64_t t : c.totals) {
      metrics[0]->series().AdvanceTo(t);
      metrics[1]->series().Mirror(t);
    }
    EXPECT_EQ(metrics[0]->series().value(), c.want_value) << c.label;
    EXPECT_EQ(metrics[0]->series().Windows().last_1m, c.want_last_1m) << c.label;
    EXPECT_EQ(metrics[1]->series().value(), c.want_value) << c.label;
  }
}

TEST(BusCounters, MirrorSetsGauges) {
  SimulatedClock time;
  Registry registry(time);
  auto metrics = registry.Register(kTestMetrics);
  auto depth = metrics[2]->With("q");
  depth->Mirror(9);
  depth->Mirror(2);
  EXPECT_EQ(depth->value(), 2) << "a gauge may go down";
}

// One list yields descriptors, references and snapshots in step.
#define TEST_LIST(X)                                     \
  X(Gauge, test_depth, "", "items", "Depth.")            \
  X(Counter, test_events_total, "", "events", "Events.") \
  X(Windowed, test_by_domain_total, "domain", "events", "By domain.")
OUTPOST_DEFINE_STATS(TestStats, TEST_LIST);

#define TEST_SAMPLED_LIST(X)                             \
  X(Gauge, sampled_healthy, healthy, "bool", "Healthy.") \
  X(Counter, sampled_errors_total, errors, "errors", "Errors.")
OUTPOST_DEFINE_SAMPLED_STATS(TestSampled, TEST_SAMPLED_LIST);

TEST(BusStats, OneListYieldsNamesKindsAndReferences) {
  SimulatedClock time;
  Registry registry(time);
  TestStats stats = TestStats::Register(registry);
  EXPECT_EQ(stats.test_depth.descriptor().name, "test_depth");
  EXPECT_EQ(stats.test_events_total.descriptor().type, MetricType::kCounter);
  EXPECT_EQ(stats.test_by_domain_total.descriptor().label, "domain");
  stats.test_depth.series().Set(4);
  stats.test_events_total.series().Add(2);
  stats.test_by_domain_total.Add("a.example", 3);
  TestStats::Snapshot snap = stats.Take();
  EXPECT_EQ(snap.test_depth.Value(), 4);
  EXPECT_EQ(snap.test_events_total.Value(), 2);
  EXPECT_EQ(snap.test_by_domain_total.Value("a.example"), 3);
  EXPECT_EQ(snap.test_by_domain_total.Windows("a.example").last_1m, 3);
  EXPECT_EQ(snap.test_by_domain_total.Sum(), 3);
  TestStats again = TestStats::Register(registry);
  EXPECT_EQ(&again.test_depth, &stats.test_depth) << "registering twice shares the metrics";
  EXPECT_EQ(registry.Snapshot().metrics.size(), std::size(TestStats::kDescriptors));
}

TEST(BusStats, SampledListsMirrorTheSourceFields) {
  struct Source {
    bool healthy = true;
    std::uint64_t errors = 0;
  };
  SimulatedClock time;
  Registry registry(time);
  TestSampled stats = TestSampled::Register(registry);
  Source s;
  s.errors = 3;
  stats.Publish(s);
  EXPECT_EQ(stats.Take().sampled_healthy.Value(), 1);
  EXPECT_EQ(stats.Take().sampled_errors_total.Value(), 3);
  s.healthy = false;
  s.errors = 5;
  stats.Publish(s);
  EXPECT_EQ(stats.Take().sampled_healthy.Value(), 0);
  EXPECT_EQ(stats.Take().sampled_errors_total.Value(), 5);
}

}  // namespace
}  // namespace outpost::bus
