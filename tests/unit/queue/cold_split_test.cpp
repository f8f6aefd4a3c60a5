// IP warm-up (cold_split.hpp): the per-day split between a warm virtual MTA and its cold one, with
// a simulated clock for the UTC day rollover, the counts kept across a restart, and the scheduler
// queueing the first N recipients of a destination on DOMAIN/COLD (sent from the cold address,
// named in accounting) and the rest on DOMAIN/WARM.
#include "mta/queue/cold_split.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "mta/queue/domain_policy.hpp"
#include "mta/queue/queue_manager.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using acct::RecordType;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Harness;

// 2025-01-01T00:00:00Z, the SimulatedClock's default start.
constexpr std::int64_t kDay0 = 1735689600;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "outpost-cold-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(ColdSplit, CountsUpToTheLimitPerWarmAndDestination) {
  ColdSplit split;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(split.Take("warm", "gmail.com", 3, kDay0 + i));
  EXPECT_FALSE(split.Take("warm", "gmail.com", 3, kDay0 + 10));
  EXPECT_EQ(split.Today("warm", "gmail.com", kDay0 + 10), 3u);
  EXPECT_TRUE(split.Take("warm", "yahoo.com", 3, kDay0 + 10)) << "another destination";
  EXPECT_TRUE(split.Take("other", "gmail.com", 3, kDay0 + 10)) << "another warm virtual MTA";
  EXPECT_FALSE(split.Take("warm", "hotmail.com", 0, kDay0 + 10)) << "0: nothing goes cold";
}

TEST(ColdSplit, StartsAgainAtMidnightUtc) {
  ColdSplit split;
  const std::int64_t late = kDay0 + 86400 - 1;  // 23:59:59
  EXPECT_TRUE(split.Take("warm", "gmail.com", 1, late));
  EXPECT_FALSE(split.Take("warm", "gmail.com", 1, late));
  EXPECT_TRUE(split.Take("warm", "gmail.com", 1, late + 1)) << "00:00:00 the next day";
  EXPECT_EQ(split.Today("warm", "gmail.com", late + 1), 1u);
  EXPECT_EQ(split.Today("warm", "gmail.com", late + 86400 + 1), 0u);
}

TEST(ColdSplit, TodaysCountsSurviveARestartAndOldDaysAreDropped) {
  TempDir dir;
  const std::string path = dir.File("cold-vmta-counts");
  {
    ColdSplit split(path);
    ASSERT_FALSE(split.Load(kDay0));
    EXPECT_TRUE(split.Take("warm", "gmail.com", 5, kDay0 + 60));
    EXPECT_TRUE(split.Take("warm", "gmail.com", 5, kDay0 + 61));
    EXPECT_TRUE(split.Take("warm", "yahoo.com", 5, kDay0 + 62));
  }
  {
    ColdSplit split(path);  // a restart the same day
    ASSERT_FALSE(split.Load(kDay0 + 3600));
    EXPECT_EQ(split.Today("warm", "gmail.com", kDay0 + 3600), 2u);
    EXPECT_EQ(split.Today("warm", "yahoo.com", kDay0 + 3600), 1u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(split.Take("warm", "gmail.com", 5, kDay0 + 3600));
    EXPECT_FALSE(split.Take("warm", "gmail.com", 5, kDay0 + 3600)) << "2 before + 3 = the cap";
  }
  {
    ColdSplit split(path);  // a restart the next day: yesterday's lines are gone from the file
    ASSERT_FALSE(split.Load(kDay0 + 86400 + 5));
    EXPECT_EQ(split.Today("warm", "gmail.com", kDay0 + 86400 + 5), 0u);
    std::ifstream in(path);
    std::string line;
    EXPECT_FALSE(std::getline(in, line)) << "left: " << line;
  }
}

constexpr const char* kWarmCold = R"(
<virtual-mta warm>
  smtp-source-host 127.0.0.2 warm.example.com
  cold-virtual-mta cold
  <domain example.net>
    max-cold-virtual-mta-msg 3/day
  </domain>
</virtual-mta>
<virtual-mta cold>
  smtp-source-host 127.0.0.3 cold.example.com
</virtual-mta>
)";

// Sends `count` one-recipient messages to example.net through `vmta`, runs until all are
// delivered and returns the delivered records per vmta field.
std::map<std::string, int> SendAndCount(Harness& h, int count, const std::string& vmta = "warm") {
  const std::size_t before = h.sink.Of(RecordType::kDelivered).size();
  for (int i = 0; i < count; ++i) {
    h.Inject("news@app.test", {"r" + std::to_string(h.injected) + "@example.net"}, vmta);
  }
  h.RunFor(seconds(5));
  const auto delivered = h.sink.Of(RecordType::kDelivered);
  EXPECT_EQ(delivered.size(), before + static_cast<std::size_t>(count));
  std::map<std::string, int> by_vmta;
  for (std::size_t i = before; i < delivered.size(); ++i) {
    ++by_vmta[delivered[i][acct::Field::kVmta]];
  }
  return by_vmta;
}

TEST(ColdSplitScheduler, FirstNOfTheDayLeaveFromTheColdAddressTheRestFromTheWarmOne) {
  Harness h(std::string(kWarmCold) + "<domain *>\n  route [127.0.0.1]:2525\n</domain>\n");
  auto by_vmta = SendAndCount(h, 10);
  EXPECT_EQ(by_vmta["cold"], 3);
  EXPECT_EQ(by_vmta["warm"], 7);
  int from_cold = 0;
  for (const ConnectRequest& r : h.deliverer.requests) from_cold += r.source_address == "127.0.0.3";
  EXPECT_GE(from_cold, 1) << "the cold queue binds the cold virtual MTA's address";

  QueueSnapshot snap = h.manager->Snapshot();
  bool seen = false;
  for (const QueueStats& q : snap.queues) {
    if (q.name != "example.net/warm") continue;
    seen = true;
    EXPECT_EQ(q.cold_vmta, "cold");
    EXPECT_EQ(q.cold_today, 3u);
    EXPECT_EQ(q.cold_limit, 3u);
  }
  EXPECT_TRUE(seen);

  by_vmta = SendAndCount(h, 4);
  EXPECT_EQ(by_vmta.count("cold"), 0u) << "today's 3 are spent";
  h.clock.Advance(hours(24));  // the next UTC day
  by_vmta = SendAndCount(h, 4);
  EXPECT_EQ(by_vmta["cold"], 3);
  EXPECT_EQ(by_vmta["warm"], 1);
}

TEST(ColdSplitScheduler, MailQueuedForTheColdVirtualMtaItselfIsNotCounted) {
  Harness h(std::string(kWarmCold) + "<domain *>\n  route [127.0.0.1]:2525\n</domain>\n");
  EXPECT_EQ(SendAndCount(h, 5, "cold")["cold"], 5);
  EXPECT_EQ(SendAndCount(h, 5)["cold"], 3) << "the warm one's cap is untouched";
}

TEST(ColdSplitScheduler, ARestartTheSameDayKeepsTheCount) {
  TempDir dir;
  QueueManagerOptions options;
  options.cold_counts_path = dir.File("cold-vmta-counts");
  const std::string config =
      std::string(kWarmCold) + "<domain *>\n  route [127.0.0.1]:2525\n</domain>\n";
  {
    Harness h(config, options);
    EXPECT_EQ(SendAndCount(h, 2)["cold"], 2);
  }
  Harness h(config, options);  // same simulated day
  auto by_vmta = SendAndCount(h, 5);
  EXPECT_EQ(by_vmta["cold"], 1) << "3 a day, 2 already sent before the restart";
  EXPECT_EQ(by_vmta["warm"], 4);
}

TEST(ColdSplitScheduler, AutoColdVirtualMtaSharesTheWarmOnesSettings) {
  Harness h(R"(
<virtual-mta warm>
  smtp-source-host 127.0.0.2 warm.example.com
  auto-cold-virtual-mta 127.0.0.4 new.example.com
  <domain *>
    max-smtp-out 2
    max-cold-virtual-mta-msg 2
  </domain>
</virtual-mta>
<domain *>
  route [127.0.0.1]:2525
</domain>
)");
  EXPECT_EQ(MergeDomainPolicy(*h.config, "example.net", "warm-cold").max_smtp_out, 2);
  auto by_vmta = SendAndCount(h, 5);
  EXPECT_EQ(by_vmta["warm-cold"], 2);
  EXPECT_EQ(by_vmta["warm"], 3);
  int from_new = 0;
  for (const ConnectRequest& r : h.deliverer.requests) from_new += r.source_address == "127.0.0.4";
  EXPECT_GE(from_new, 1);
}

}  // namespace
}  // namespace outpost::queue
