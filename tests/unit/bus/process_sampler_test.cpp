#include "mta/bus/process_sampler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/clock.hpp"
#include "common/invariant.hpp"

namespace outpost::bus {
namespace {

struct ParseCase {
  const char* label;
  const char* text;
  std::optional<std::int64_t> rss;
  std::optional<std::int64_t> swap;
};

TEST(ProcStatus, Parses) {
  const std::vector<ParseCase> cases = {
      {"typical", "Name:\toutpostd\nVmRSS:\t    2048 kB\nVmSwap:\t       4 kB\n", 2048 * 1024,
       4 * 1024},
      {"no swap line", "VmRSS:\t 10 kB\n", 10 * 1024, std::nullopt},
      {"prefix is not the key", "VmRSSX:\t 10 kB\n", std::nullopt, std::nullopt},
      {"empty", "", std::nullopt, std::nullopt},
      {"garbage value", "VmRSS:\t kB\n", std::nullopt, std::nullopt},
  };
  for (const auto& c : cases) {
    ProcStatus got = ParseProcStatus(c.text);
    EXPECT_EQ(got.rss_bytes, c.rss) << c.label;
    EXPECT_EQ(got.swap_bytes, c.swap) << c.label;
  }
}

TEST(ProcessSampler, ReadsThisProcess) {
  SimulatedClock time;
  Registry registry(time);
  ProcessSampler sampler(registry, "/tmp");
  time.Advance(std::chrono::seconds(42));
  EXPECT_EQ(sampler.Sample(), 0);
  BusSnapshot snap = registry.Snapshot();
  EXPECT_GT(snap.Value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(snap.Value("process_open_fds"), 3);
  EXPECT_GT(snap.Value("process_max_fds"), snap.Value("process_open_fds"));
  EXPECT_GT(snap.Value("spool_disk_free_bytes"), 0);
  EXPECT_GT(snap.Value("spool_disk_used_bytes"), 0);
  EXPECT_EQ(snap.Value("process_uptime_seconds"), 42);
  EXPECT_EQ(snap.Value("invariant_violations_total"),
            static_cast<std::int64_t>(InvariantViolations()));
  // One more descriptor open must show.
  std::int64_t before = snap.Value("process_open_fds");
  int fd = ::dup(0);
  ASSERT_GE(fd, 0);
  sampler.Sample();
  EXPECT_EQ(registry.Snapshot().Value("process_open_fds"), before + 1);
  ::close(fd);
}

TEST(ProcessSampler, MissingSpoolDirIsAFailureNotACrash) {
  SimulatedClock time;
  Registry registry(time);
  ProcessSampler sampler(registry, "/nonexistent/outpost-spool");
  EXPECT_EQ(sampler.Sample(), 1);
}

}  // namespace
}  // namespace outpost::bus
