#include "mta/mgmt/status_json.hpp"

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "mta/mgmt/daemon_metrics.hpp"
#include "tests/unit/mgmt/queue_stats_for_test.hpp"

namespace outpost::mgmt {
namespace {

// A fixed world: three queues, some outcomes, a process and a spool.
class StatusJsonTest : public ::testing::Test {
 protected:
  StatusJsonTest() : registry_(time_), metrics_(DaemonMetrics::Register(registry_)) {
    metrics_.outcomes.domain_delivered_total.Add("gmail.com", 90);
    metrics_.outcomes.domain_deferred_total.Add("gmail.com", 10);
    metrics_.outcomes.domain_bounced_total.Add("yahoo.com", 4);
    metrics_.outcomes.vmta_delivered_total.Add("vmta1", 90);
    metrics_.outcomes.vmta_deferred_total.Add("vmta1", 10);
    metrics_.smtp.traffic_in_messages_total.series().Add(100);
    metrics_.smtp.connections_in.series().Set(3);
    metrics_.spool.spool_healthy.series().Set(1);
    metrics_.dns.dns_cache_hits_total.series().Add(3);
    metrics_.dns.dns_cache_misses_total.series().Add(1);
    metrics_.process.process_resident_memory_bytes.series().Set(12345678);
    metrics_.process.process_cpu_milliseconds_total.series().Add(2500);
    auto snap = std::make_shared<queue::QueueSnapshot>();
    snap->queues = {
        QueueStatsFor("gmail.com/vmta1", "backoff", 50, 0, false, "421 4.7.28 slow down"),
        QueueStatsFor("gmail.com/vmta2", "normal", 5, 0, true),
        QueueStatsFor("yahoo.com/vmta1", "normal", 20, 0)};
    snap->totals.queues = 3;
    snap->totals.recipients = 75;
    snap->totals.connections = 7;
    snap->totals.recipients_in_backoff = 50;
    snap->totals.stalls = 4;
    snap->totals.stalled_queues = 1;
    snap->queues[2].stalled = true;
    in_.queues = snap;
    in_.version = "9.9.9";
    in_.now_unix = 1735689600;
    in_.sampled_unix = 1735689599;
  }
  void TakeSnapshot() { in_.metrics = metrics_.Take(); }

  SimulatedClock time_;
  bus::Registry registry_;
  DaemonMetrics metrics_;
  StatusInputs in_;
};

TEST_F(StatusJsonTest, StatusCarriesTheWholePicture) {
  TakeSnapshot();
  nlohmann::json s = RenderStatus(in_);
  EXPECT_EQ(s["schema"], "outpost.status/v1");
  EXPECT_EQ(s["version"], "9.9.9");
  EXPECT_EQ(s["generated_at"], "2025-01-01T00:00:00Z");
  EXPECT_EQ(s["connections"]["smtp_in"], 3);
  EXPECT_EQ(s["connections"]["smtp_out"], 7);
  EXPECT_EQ(s["traffic"]["in"]["total"]["messages"], 100);
  EXPECT_EQ(s["traffic"]["in"]["last_minute"]["messages"], 100);
  EXPECT_EQ(s["traffic"]["in"]["last_hour"]["messages"], 100);
  EXPECT_EQ(s["queue"]["recipients"], 75);
  EXPECT_EQ(s["queue"]["paused_queues"], 1);
  EXPECT_EQ(s["queue"]["stalls"], 4);
  EXPECT_EQ(s["queue"]["stalled_queues"], 1);
  EXPECT_EQ(s["outcomes"]["delivered"]["total"], 90);
  EXPECT_EQ(s["outcomes"]["bounced"]["last_1h"], 4);
  EXPECT_EQ(s["process"]["rss_bytes"], 12345678);
  EXPECT_DOUBLE_EQ(s["process"]["cpu_seconds"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(s["dns"]["hit_ratio"].get<double>(), 0.75);
  EXPECT_EQ(s["spool"]["healthy"], true);
  EXPECT_EQ(s["ready"], true);
  ASSERT_EQ(s["backoff_queues"].size(), 1u);
  EXPECT_EQ(s["backoff_queues"][0]["name"], "gmail.com/vmta1");
  EXPECT_EQ(s["backoff_queues"][0]["last_error"], "421 4.7.28 slow down");
  // The stall watchdog's flag per queue. (The document is kept in a variable: a range-for over
  // a member of a temporary would read freed memory.)
  const nlohmann::json queues = RenderQueues(in_, {});
  for (const auto& q : queues["queues"]) {
    EXPECT_EQ(q["stalled"], q["name"] == "yahoo.com/vmta1") << q["name"];
  }
}

TEST_F(StatusJsonTest, ReturnPathShowsTodayPerProvider) {
  returnpath::DailyCounts daily;
  const std::int64_t noon = 1735732800;  // 2025-01-01 12:00:00 UTC
  daily.Add(returnpath::RecordKind::kRemoteBounce, "ann@gmail.com", noon);
  daily.Add(returnpath::RecordKind::kRemoteBounce, "bob@googlemail.com", noon);
  daily.Add(returnpath::RecordKind::kComplaint, "cat@Hotmail.COM", noon);
  daily.Add(returnpath::RecordKind::kComplaint, "dan@example.org", noon);
  in_.returnpath_today = daily.Today(noon + 3600);
  TakeSnapshot();
  nlohmann::json rp = RenderStatus(in_)["returnpath"];
  EXPECT_EQ(rp["day"], "2025-01-01");
  EXPECT_EQ(rp["by_provider"], nlohmann::json::parse(R"({
    "gmail": {"remote_bounces": 2, "complaints": 0},
    "microsoft": {"remote_bounces": 0, "complaints": 1},
    "other": {"remote_bounces": 0, "complaints": 1}})"));
  // The next UTC day starts empty.
  in_.returnpath_today = daily.Today(noon + 12 * 3600);
  rp = RenderStatus(in_)["returnpath"];
  EXPECT_EQ(rp["day"], "2025-01-02");
  EXPECT_TRUE(rp["by_provider"].empty());
  daily.Add(returnpath::RecordKind::kComplaint, "eve@yahoo.com", noon + 12 * 3600);
  returnpath::DayCounts next = daily.Today(noon + 12 * 3600);
  ASSERT_EQ(next.by_provider.size(), 1u);  // yesterday's counts are gone
  EXPECT_EQ(next.by_provider[0].provider, "yahoo");
  EXPECT_EQ(next.by_provider[0].complaints, 1u);
}

TEST(ReturnPathComplaint, NotSpamAndAuthFailureReportsAreNoComplaints) {
  EXPECT_TRUE(returnpath::IsComplaint("abuse"));
  EXPECT_TRUE(returnpath::IsComplaint(""));  // JMRP: no Feedback-Type, a complaint all the same
  EXPECT_FALSE(returnpath::IsComplaint("not-spam"));
  EXPECT_FALSE(returnpath::IsComplaint("auth-failure"));
}

TEST_F(StatusJsonTest, WindowsAgeOut) {
  time_.Advance(std::chrono::seconds(120));
  TakeSnapshot();
  nlohmann::json s = RenderStatus(in_);
  EXPECT_EQ(s["traffic"]["in"]["last_minute"]["messages"], 0);
  EXPECT_EQ(s["traffic"]["in"]["last_hour"]["messages"], 100);
  EXPECT_EQ(s["traffic"]["in"]["total"]["messages"], 100);
}

struct FilterCase {
  const char* label;
  QueueFilter filter;
  std::vector<std::string> names;  // in order
  std::size_t matched;
};

TEST_F(StatusJsonTest, QueueFilters) {
  TakeSnapshot();
  const std::vector<FilterCase> cases = {
      {"all, largest first", {}, {"gmail.com/vmta1", "yahoo.com/vmta1", "gmail.com/vmta2"}, 3},
      {"by domain", {"gmail.com", "", "", {}}, {"gmail.com/vmta1", "gmail.com/vmta2"}, 2},
      {"by vmta", {"", "vmta1", "", {}}, {"gmail.com/vmta1", "yahoo.com/vmta1"}, 2},
      {"by mode", {"", "", "backoff", {}}, {"gmail.com/vmta1"}, 1},
      {"top 1", {"", "", "", 1}, {"gmail.com/vmta1"}, 3},
      {"no match", {"hotmail.com", "", "", {}}, {}, 0},
  };
  for (const auto& c : cases) {
    nlohmann::json q = RenderQueues(in_, c.filter);
    EXPECT_EQ(q["schema"], "outpost.queues/v1") << c.label;
    EXPECT_EQ(q["matched"], c.matched) << c.label;
    std::vector<std::string> names;
    for (const auto& x : q["queues"]) names.push_back(x["name"]);
    EXPECT_EQ(names, c.names) << c.label;
  }
}

TEST_F(StatusJsonTest, DomainsMergeQueuesAndOutcomes) {
  TakeSnapshot();
  nlohmann::json d = RenderDomains(in_);
  ASSERT_EQ(d["domains"].size(), 2u);
  const auto& gmail = d["domains"][0];
  EXPECT_EQ(gmail["domain"], "gmail.com");
  EXPECT_EQ(gmail["queues"], 2);
  EXPECT_EQ(gmail["recipients"], 55);
  EXPECT_EQ(gmail["delivered"]["last_5m"], 90);
  EXPECT_DOUBLE_EQ(gmail["delivered"]["rate_5m"].get<double>(), 18.0);
  EXPECT_DOUBLE_EQ(gmail["deferral_ratio_1h"].get<double>(), 0.1);
  EXPECT_EQ(gmail["last_error"], "421 4.7.28 slow down");
  EXPECT_EQ(d["domains"][1]["bounced"]["total"], 4);
}

TEST_F(StatusJsonTest, VmtasAggregate) {
  TakeSnapshot();
  nlohmann::json v = RenderVmtas(in_);
  ASSERT_EQ(v["vmtas"].size(), 2u);
  EXPECT_EQ(v["vmtas"][0]["vmta"], "vmta1");
  EXPECT_EQ(v["vmtas"][0]["recipients"], 70);
  EXPECT_EQ(v["vmtas"][0]["delivered"]["total"], 90);
  EXPECT_EQ(v["vmtas"][1]["vmta"], "vmta2");
}

struct ReadyCase {
  const char* label;
  bool spool_healthy;
  bool admitting;
  bool ready;
  std::size_t reasons;
};

TEST_F(StatusJsonTest, Readiness) {
  const std::vector<ReadyCase> cases = {
      {"all good", true, true, true, 0},
      {"spool refusing", false, true, false, 1},
      {"queue full", true, false, false, 1},
      {"both", false, false, false, 2},
  };
  for (const auto& c : cases) {
    registry_.Find("spool_healthy")->series().Set(c.spool_healthy ? 1 : 0);
    in_.admitting = c.admitting;
    TakeSnapshot();
    Readiness r = ReadinessOf(in_);
    EXPECT_EQ(r.ready, c.ready) << c.label;
    EXPECT_EQ(r.reasons.size(), c.reasons) << c.label;
    EXPECT_EQ(RenderStatus(in_)["ready"], c.ready) << c.label;
  }
}

TEST(StatusJsonError, Shape) {
  nlohmann::json e = RenderError(403, "access denied");
  EXPECT_EQ(e["error"], "access denied");
  EXPECT_EQ(e["status"], 403);
}

}  // namespace
}  // namespace outpost::mgmt
