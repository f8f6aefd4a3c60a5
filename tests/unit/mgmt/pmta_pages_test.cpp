#include "mta/mgmt/pmta_pages.hpp"

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "mta/mgmt/daemon_metrics.hpp"
#include "tests/unit/mgmt/queue_stats_for_test.hpp"

namespace outpost::mgmt {
namespace {

// Three queues over two domains and two vmtas, traffic both ways, a spool and a DNS cache.
class PmtaPagesTest : public ::testing::Test {
 protected:
  PmtaPagesTest() : registry_(time_), metrics_(DaemonMetrics::Register(registry_)) {
    metrics_.smtp.traffic_in_messages_total.series().Add(10);
    metrics_.smtp.traffic_in_recipients_total.series().Add(30);
    metrics_.smtp.traffic_in_bytes_total.series().Add(20480);
    metrics_.outcomes.traffic_out_recipients_total.series().Add(7);
    metrics_.smtp.connections_in.series().Set(4);
    metrics_.spool.spool_entries.series().Set(9);
    metrics_.spool.spool_live_bytes.series().Set(4096);
    metrics_.dns.dns_cache_entries.series().Set(12);
    metrics_.process.process_uptime_seconds.series().Set(100);
    auto snap = std::make_shared<queue::QueueSnapshot>();
    snap->queues = {
        QueueStatsFor("gmail.com/vmta1", "backoff", 5, 1, false, "421 <slow> & \"later\""),
        QueueStatsFor("gmail.com/vmta2", "normal", 50, 2, true),
        QueueStatsFor("yahoo.com/vmta1", "normal", 20, 0)};
    snap->totals.queues = 3;
    snap->totals.recipients = 75;
    snap->totals.connections = 3;
    in_.queues = snap;
    in_.version = "9.9.9";
    in_.now_unix = 1735689600;
    in_.metrics = metrics_.Take();
  }

  SimulatedClock time_;
  bus::Registry registry_;
  DaemonMetrics metrics_;
  StatusInputs in_;
};

TEST_F(PmtaPagesTest, StatusHasPowerMtasNestingAndOurFigures) {
  const auto s = PmtaStatusTree(in_)["status"];
  EXPECT_EQ(s["version"], "Outpost 9.9.9");
  EXPECT_EQ(s["startTime"], "2024-12-31T23:58:20Z");
  EXPECT_EQ(s["traffic"]["total"]["in"]["rcp"], 30);
  EXPECT_EQ(s["traffic"]["total"]["in"]["msg"], 10);
  EXPECT_EQ(s["traffic"]["total"]["in"]["kb"], 20);
  EXPECT_EQ(s["traffic"]["lastMin"]["in"]["rcp"], 30);
  EXPECT_EQ(s["traffic"]["lastHr"]["out"]["rcp"], 7);
  EXPECT_EQ(s["traffic"]["topPerHr"]["in"]["rcp"], 0);
  EXPECT_EQ(s["conn"]["smtpIn"]["cur"], 4);
  EXPECT_EQ(s["conn"]["smtpOut"]["cur"], 3);
  EXPECT_EQ(s["queue"]["smtp"]["rcp"], 75);
  EXPECT_EQ(s["queue"]["smtp"]["dom"], 2);
  EXPECT_EQ(s["queue"]["smtp"]["kb"], 4);
  for (const char* method : {"pipe", "discard", "file", "gmImprinter"}) {
    EXPECT_EQ(s["queue"][method]["rcp"], 0) << method;
  }
  EXPECT_EQ(s["spool"]["files"]["total"], 9);
  EXPECT_EQ(s["dns"]["hosts"], 12);
}

TEST_F(PmtaPagesTest, DomainsAndVmtasAreSummedAndLargestFirst) {
  const auto d = PmtaDomainsTree(in_)["domain"];
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0]["name"], "gmail.com");
  EXPECT_EQ(d[0]["rcp"], 55);
  EXPECT_EQ(d[0]["conn"], 3);
  EXPECT_EQ(d[0]["vmtas"], 2);
  EXPECT_EQ(d[0]["pausedQueues"], 1);
  EXPECT_EQ(d[0]["backoffQueues"], 1);
  EXPECT_EQ(d[1]["name"], "yahoo.com");
  EXPECT_EQ(d[1]["rcp"], 20);

  const auto v = PmtaVmtasTree(in_)["vmta"];
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["name"], "vmta2");
  EXPECT_EQ(v[0]["rcp"], 50);
  EXPECT_EQ(v[1]["name"], "vmta1");
  EXPECT_EQ(v[1]["rcp"], 25);
  EXPECT_EQ(v[1]["dom"], 2);
  EXPECT_EQ(v[1]["conn"], 1);
}

TEST_F(PmtaPagesTest, QueuesFilterSortAndLimit) {
  PmtaQueueFilter all;
  auto q = PmtaQueuesTree(in_, all)["queue"];
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0]["name"], "gmail.com/vmta2");
  EXPECT_EQ(q[0]["paused"], "yes");
  EXPECT_EQ(q[0]["domain"], "gmail.com");
  EXPECT_EQ(q[0]["vmta"], "vmta2");

  PmtaQueueFilter f;
  f.queue = "gmail.com";
  EXPECT_EQ(PmtaQueuesTree(in_, f)["queue"].size(), 2u);
  f.queue = "*/vmta1";
  f.sort = "name";
  q = PmtaQueuesTree(in_, f)["queue"];
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]["name"], "gmail.com/vmta1");
  f = {};
  f.mode = "backoff";
  EXPECT_EQ(PmtaQueuesTree(in_, f)["queue"].size(), 1u);
  f = {};
  f.paused = "no";
  EXPECT_EQ(PmtaQueuesTree(in_, f)["queue"].size(), 2u);
  f = {};
  f.max_items = 1;
  EXPECT_EQ(PmtaQueuesTree(in_, f)["queue"].size(), 1u);
}

TEST_F(PmtaPagesTest, XmlWrapsInRspDataRepeatsListsAndEscapes) {
  const std::string xml = PmtaXml(PmtaQueuesTree(in_, {}));
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rsp>\n  <data>\n", 0), 0u)
      << xml;
  EXPECT_NE(xml.find("    <queue>\n      <name>gmail.com/vmta2</name>\n"), std::string::npos);
  std::size_t count = 0;
  for (std::size_t at = xml.find("<queue>"); at != std::string::npos;
       at = xml.find("<queue>", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u);
  EXPECT_NE(xml.find("<lastError>421 &lt;slow&gt; &amp; &quot;later&quot;</lastError>"),
            std::string::npos);
  EXPECT_NE(xml.find("</data>\n</rsp>\n"), std::string::npos);

  const std::string status = PmtaXml(PmtaStatusTree(in_));
  EXPECT_NE(status.find("<smtpIn>\n          <cur>4</cur>"), std::string::npos) << status;
}

TEST_F(PmtaPagesTest, JsonIsTheSameTreeUnderData) {
  const auto doc = nlohmann::json::parse(PmtaJson(PmtaStatusTree(in_)));
  EXPECT_EQ(doc["data"]["status"]["queue"]["smtp"]["rcp"], 75);
  StatusInputs nothing;
  nothing.queues = std::make_shared<queue::QueueSnapshot>();
  const auto empty = nlohmann::json::parse(PmtaJson(PmtaVmtasTree(nothing)));
  EXPECT_TRUE(empty["data"]["vmta"].is_array());
  EXPECT_TRUE(empty["data"]["vmta"].empty());
}

TEST(PmtaPages, ErrorsInBothFormats) {
  EXPECT_EQ(nlohmann::json::parse(PmtaError(PmtaFormat::kJson, "no <jobs>"))["error"], "no <jobs>");
  EXPECT_NE(PmtaError(PmtaFormat::kXml, "no <jobs>").find("<error>no &lt;jobs&gt;</error>"),
            std::string::npos);
}

TEST(PmtaPages, Glob) {
  EXPECT_TRUE(PmtaGlob("*", "a/b"));
  EXPECT_TRUE(PmtaGlob("gmail.com/*", "gmail.com/vmta1"));
  EXPECT_TRUE(PmtaGlob("*/vmta1", "yahoo.com/vmta1"));
  EXPECT_TRUE(PmtaGlob("g*l.com/v*1", "gmail.com/vmta1"));
  EXPECT_FALSE(PmtaGlob("*/vmta1", "yahoo.com/vmta12"));
  EXPECT_FALSE(PmtaGlob("gmail.com", "gmail.com/vmta1"));
  EXPECT_TRUE(PmtaGlob("", ""));
}

}  // namespace
}  // namespace outpost::mgmt

namespace outpost::mgmt {
namespace {

queue::JobStats JobFor(const std::string& id, std::uint64_t recipients, bool paused) {
  queue::JobStats j;
  j.id = id;
  j.recipients = recipients;
  j.messages = recipients;
  j.paused = paused;
  j.delivered = 7;
  return j;
}

TEST(PmtaJobsTest, JobsPageAndJsonListEveryJobMostQueuedFirst) {
  StatusInputs in;
  auto snap = std::make_shared<queue::QueueSnapshot>();
  snap->jobs = {JobFor("b", 2, false), JobFor("a", 9, true), JobFor("c", 2, false)};
  in.queues = snap;
  const auto tree = PmtaJobsTree(in);
  ASSERT_EQ(tree["job"].size(), 3u);
  EXPECT_EQ(tree["job"][0]["id"], "a");
  EXPECT_EQ(tree["job"][0]["rcp"], 9);
  EXPECT_EQ(tree["job"][0]["paused"], "yes");
  EXPECT_EQ(tree["job"][0]["delivered"], 7);
  EXPECT_EQ(tree["job"][1]["id"], "b") << "equal queues: by id";
  EXPECT_EQ(tree["job"][2]["paused"], "no");
  EXPECT_EQ(PmtaJobsTree(in, 1)["job"].size(), 1u) << "maxItems";
  EXPECT_NE(PmtaXml(tree).find("<job>"), std::string::npos);
  const auto json = RenderJobs(in);
  EXPECT_EQ(json["schema"], kJobsSchema);
  EXPECT_EQ(json["jobs"][0]["id"], "a");
  EXPECT_EQ(json["jobs"][0]["paused"], true);
  EXPECT_EQ(json["jobs"][0]["recipients"], 9);
}

}  // namespace
}  // namespace outpost::mgmt
