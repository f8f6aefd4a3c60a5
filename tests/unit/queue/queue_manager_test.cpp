// The scheduler over fakes and a simulated clock: outcomes and their commit order, fan-out,
// shaping limits, backoff, expiry, fairness, admission.
#include "mta/queue/queue_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "mta/queue/queue_name.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using acct::Field;
using acct::RecordType;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::Harness;
using testing::MakeReply;

std::size_t IndexOf(const std::vector<std::string>& v, const std::string& e) {
  return static_cast<std::size_t>(std::find(v.begin(), v.end(), e) - v.begin());
}

TEST(QueueManagerTest, DeliveryWritesDRecordFlushesThenMarksDone) {
  Harness h("");
  h.Inject("news@app.test", {"ann@example.net", "bob@example.net"});
  h.RunFor(seconds(1));
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0][Field::kRcpt], "ann@example.net");
  EXPECT_EQ(d[0][Field::kOrig], "news@app.test");
  EXPECT_EQ(d[0][Field::kDsnAction], "relayed");
  EXPECT_EQ(d[0][Field::kBounceCat], "success");
  EXPECT_EQ(d[0][Field::kDsnStatus].substr(0, 5), "2.0.0");
  EXPECT_EQ(d[0][Field::kDsnDiag], "smtp;250 2.0.0 ok queued");
  EXPECT_EQ(d[0][Field::kDsnMta], "mx.sim.test (127.0.0.1)");
  EXPECT_EQ(d[0][Field::kDlvSourceIp], "127.0.0.1");
  EXPECT_EQ(d[0][Field::kDlvDestinationIp], "127.0.0.1");
  EXPECT_EQ(d[0][Field::kDlvEsmtpAvailable], "PIPELINING,8BITMIME,SIZE");
  EXPECT_EQ(d[0][Field::kQueue], "example.net/{default}");
  EXPECT_EQ(d[0][Field::kVmta], "{default}");
  EXPECT_EQ(d[0][Field::kJobId], "job1");
  EXPECT_EQ(d[0][Field::kSrcMta], "app.test (127.0.0.1)");
  EXPECT_FALSE(d[0][Field::kDlvSize].empty());
  // One transaction for both recipients; records, one flush, then the spool marks.
  ASSERT_EQ(h.deliverer.sent.size(), 1u);
  const auto& ev = h.log.events;
  std::size_t flush = IndexOf(ev, "flush");
  ASSERT_LT(flush, ev.size());
  EXPECT_LT(IndexOf(ev, "write:d:ann@example.net"), flush);
  EXPECT_LT(IndexOf(ev, "write:d:bob@example.net"), flush);
  EXPECT_GT(IndexOf(ev, "done-rcpt:Q1:0"), flush);
  EXPECT_GT(IndexOf(ev, "done-msg:Q1"), flush);
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "flush"), 1);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

// Accounting disk full: finished recipients stay in the spool while their records are only
// buffered, and leave it once the log is durable again (without a restart).
TEST(QueueManagerTest, CompletionsHeldWhileAccountingNotDurableThenReleased) {
  Harness h("");
  h.sink.durable = false;
  h.Inject("news@app.test", {"ann@example.net", "bob@example.net"});
  h.Inject("news@app.test", {"cat@example.org"});
  h.RunFor(seconds(5));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 3u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u) << "finished: not queued for delivery again";
  auto marks = [&] {
    return std::count_if(h.log.events.begin(), h.log.events.end(),
                         [](const std::string& e) { return e.rfind("done-", 0) == 0; });
  };
  EXPECT_EQ(marks(), 0) << "nothing leaves the spool before its record is durable";
  EXPECT_TRUE(h.spool.done_messages.empty());

  h.sink.durable = true;
  const std::size_t before = h.log.events.size();
  h.RunFor(seconds(2));
  EXPECT_EQ(h.spool.done_messages, (std::set<std::string>{"Q1", "Q2"}));
  std::vector<std::string> after(h.log.events.begin() + static_cast<std::ptrdiff_t>(before),
                                 h.log.events.end());
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front(), "flush") << "the buffered records are flushed before any mark";
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 3u) << "delivered once, not again";
}

struct OutcomeCase {
  std::string label;
  delivery::Reply reply;
  RecordType type;
  std::string action;
  std::string bounce_cat;
  bool done;
};

class OutcomeTest : public ::testing::TestWithParam<OutcomeCase> {};

TEST_P(OutcomeTest, ReplyBecomesRecord) {
  const OutcomeCase& c = GetParam();
  Harness h("");
  h.deliverer.reply_for = [&](const std::string&) { return c.reply; };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  // Only ann's record: a bounce also sends a DSN to news@app.test, which has records of its own.
  std::vector<acct::Record> for_ann;
  for (const auto& r : h.sink.records) {
    if (r[Field::kRcpt] == "ann@example.net") for_ann.push_back(r);
  }
  ASSERT_EQ(for_ann.size(), 1u) << c.label;
  const auto& r = for_ann[0];
  EXPECT_EQ(r.type, c.type) << c.label;
  EXPECT_EQ(r[Field::kDsnAction], c.action) << c.label;
  EXPECT_EQ(r[Field::kBounceCat], c.bounce_cat) << c.label;
  EXPECT_EQ(h.spool.done_messages.count("Q1"), c.done ? 1u : 0u) << c.label;
  EXPECT_EQ(h.manager->queued_recipients(), c.done ? 0u : 1u) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Replies, OutcomeTest,
    ::testing::Values(OutcomeCase{"accepted", MakeReply(250, "2.0.0", "ok"), RecordType::kDelivered,
                                  "relayed", "success", true},
                      OutcomeCase{"bad_mailbox", MakeReply(550, "5.1.1", "user unknown"),
                                  RecordType::kBounced, "failed", "bad-mailbox", true},
                      OutcomeCase{"spam_text", MakeReply(554, "5.7.1", "blocked by spamhaus RBL"),
                                  RecordType::kBounced, "failed", "spam-related", true},
                      OutcomeCase{"deferral", MakeReply(451, "4.3.0", "try later"),
                                  RecordType::kTransient, "delayed", "other", false},
                      OutcomeCase{"connection_lost", MakeReply(0, "", ""), RecordType::kTransient,
                                  "delayed", "bad-connection", false}),
    [](const ::testing::TestParamInfo<OutcomeCase>& info) { return info.param.label; });

TEST(QueueManagerTest, FanOutAcrossDomainsAndRollup) {
  Harness h(R"(
<domain gmail.com>
  mx-rollup google
</domain>
<domain googlemail.com>
  mx-rollup google
</domain>
)");
  // "google" is not a mail domain: the first member to resolve defines the rollup's MX set.
  h.deliverer.mx_hosts["gmail.com"] = testing::FakeDeliverer::Hosts(
      {"alt1.gmail-smtp-in.l.google.com", "gmail-smtp-in.l.google.com"});
  h.deliverer.mx_hosts["googlemail.com"] = h.deliverer.mx_hosts["gmail.com"];
  h.Inject("news@app.test",
           {"a@example.net", "b@gmail.com", "c@example.org", "d@googlemail.com", "e@example.net"});
  h.RunFor(seconds(1));
  std::multiset<std::string> queues;
  for (const auto& r : h.sink.Of(RecordType::kDelivered)) queues.insert(r[Field::kQueue]);
  EXPECT_EQ(queues, (std::multiset<std::string>{"example.net/{default}", "example.net/{default}",
                                                "google/{default}", "google/{default}",
                                                "example.org/{default}"}));
  EXPECT_EQ(h.deliverer.sent.size(), 3u);  // one transaction per queue
  for (const auto& s : h.deliverer.sent) {
    if (s.batch.recipients.size() == 2 && s.batch.recipients[0] == "b@gmail.com") {
      EXPECT_EQ(s.batch.recipients[1], "d@googlemail.com");
    }
  }
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
  auto snap = h.manager->Snapshot();
  EXPECT_EQ(snap.totals.queues, 3u);
  EXPECT_EQ(snap.totals.delivered, 5u);
  EXPECT_EQ(snap.totals.recipients, 0u);
}

// mx-rollup by MX host set: a table of (domain, MX hosts) -> expected queue.
struct RollupCase {
  std::string label;
  std::string rcpt;
  std::vector<std::string> hosts;  // empty: NXDOMAIN
  bool temp_fail = false;
  std::string queue;
};

class MxRollupTest : public ::testing::TestWithParam<RollupCase> {};

TEST_P(MxRollupTest, QueueFollowsMxHostSet) {
  const RollupCase& c = GetParam();
  Harness h("<domain *>\n  mx-rollup gmail.com\n</domain>\n");
  h.deliverer.mx_hosts["gmail.com"] =
      testing::FakeDeliverer::Hosts({"a.mx.google.test", "b.mx.google.test"});
  if (c.temp_fail) {
    h.deliverer.mx_hosts[RecipientDomain(c.rcpt)] = MxHostsAnswer{};  // kTempFail
  } else if (!c.hosts.empty()) {
    h.deliverer.mx_hosts[RecipientDomain(c.rcpt)] = testing::FakeDeliverer::Hosts(c.hosts);
  }
  h.Inject("news@app.test", {c.rcpt});
  h.RunFor(seconds(1));
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0][Field::kQueue], c.queue);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
  EXPECT_EQ(h.manager->Snapshot().totals.recipients, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Hosts, MxRollupTest,
    ::testing::Values(
        RollupCase{"reference_itself", "a@gmail.com", {}, false, "gmail.com/{default}"},
        RollupCase{"same_hosts",
                   "a@workspace.test",
                   {"a.mx.google.test", "b.mx.google.test"},
                   false,
                   "gmail.com/{default}"},
        RollupCase{"subset_is_not_a_match",
                   "a@half.test",
                   {"a.mx.google.test"},
                   false,
                   "half.test/{default}"},
        RollupCase{"other_hosts", "a@other.test", {"mx.other.test"}, false, "other.test/{default}"},
        RollupCase{"nxdomain_own_queue", "a@gone.test", {}, false, "gone.test/{default}"},
        RollupCase{"dns_tempfail_own_queue", "a@flaky.test", {}, true, "flaky.test/{default}"}),
    [](const ::testing::TestParamInfo<RollupCase>& info) { return info.param.label; });

TEST(MxRollupTest, RolledUpDomainsShareLimitsAndConnections) {
  Harness h(
      "<domain *>\n  mx-rollup a.test\n  max-smtp-out 1\n  max-rcpt-per-transaction 10\n"
      "</domain>\n");
  h.deliverer.mx_hosts["a.test"] = testing::FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.mx_hosts["b.test"] = testing::FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.mx_hosts["c.test"] = testing::FakeDeliverer::Hosts({"mx.c.test"});
  // The first message's b.test recipient waits for the rollup decision, so it travels alone.
  h.Inject("news@app.test", {"x@a.test", "y@b.test", "z@c.test"});
  h.RunFor(seconds(1));
  const std::size_t warm_up = h.deliverer.sent.size();
  for (int i = 0; i < 10; ++i) h.Inject("news@app.test", {"x@a.test", "y@b.test", "z@c.test"});
  h.RunFor(seconds(5));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 33u);
  EXPECT_EQ(h.deliverer.max_open, 2);  // one for the rollup queue (max-smtp-out 1), one for c.test
  auto snap = h.manager->Snapshot();
  std::set<std::string> names;
  for (const auto& q : snap.queues) names.insert(q.name);
  EXPECT_EQ(names, (std::set<std::string>{"a.test/{default}", "c.test/{default}"}));
  for (std::size_t i = warm_up; i < h.deliverer.sent.size(); ++i) {
    const auto& s = h.deliverer.sent[i];
    // a.test's and b.test's recipients of one message travel in one transaction.
    if (s.batch.recipients[0] == "x@a.test") {
      ASSERT_EQ(s.batch.recipients.size(), 2u);
      EXPECT_EQ(s.batch.recipients[1], "y@b.test");
    }
  }
  for (const auto& r : h.deliverer.requests) EXPECT_NE(r.domain, "b.test");  // a.test's MX
  // The rollup's DNS answer is asked once, not per message.
  EXPECT_EQ(std::count(h.deliverer.mx_queries.begin(), h.deliverer.mx_queries.end(), "a.test"), 1);
  EXPECT_EQ(std::count(h.deliverer.mx_queries.begin(), h.deliverer.mx_queries.end(), "b.test"), 1);
}

TEST(MxRollupTest, PermanentDnsFailureBouncesOnlyThatDomain) {
  Harness h("<domain *>\n  mx-rollup a.test\n</domain>\n");
  h.deliverer.mx_hosts["a.test"] = testing::FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.mx_hosts["b.test"] = testing::FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.perm_fail_domains = {"a.test"};  // a.test's MX vanished after the rollup decision
  h.deliverer.connect_error = "a.test: NXDOMAIN";
  h.Inject("news@app.test", {"x@a.test", "y@b.test"});
  h.RunFor(seconds(5));
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0][Field::kRcpt], "x@a.test");
  EXPECT_EQ(b[0][Field::kBounceCat], "bad-domain");
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 2u);  // y@b.test, then the DSN for x@a.test to news@app.test
  EXPECT_EQ(d[0][Field::kRcpt], "y@b.test");
  EXPECT_EQ(d[0][Field::kQueue], "a.test/{default}");
  EXPECT_EQ(d[1][Field::kRcpt], "news@app.test");
  EXPECT_EQ(d[1][Field::kQueue], "app.test/{default}");
  ASSERT_EQ(h.spool.committed.size(), 1u);
  EXPECT_NE(h.spool.Get(h.spool.committed[0]).data.find("Final-Recipient: rfc822; x@a.test"),
            std::string::npos);
  EXPECT_EQ(h.spool.Get(h.spool.committed[0]).data.find("y@b.test"), std::string::npos);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
}

TEST(QueueManagerTest, PoolRotatesAndBindsVmtaSourceHost) {
  Harness h(R"(
<virtual-mta vmta1>
  smtp-source-host 127.0.0.2 one.example.com
</virtual-mta>
<virtual-mta vmta2>
  smtp-source-host 127.0.0.3 two.example.com
</virtual-mta>
<virtual-mta-pool pool1>
  virtual-mta vmta1
  virtual-mta vmta2
</virtual-mta-pool>
)");
  for (int i = 0; i < 4; ++i) h.Inject("news@app.test", {"ann@example.net"}, "pool1");
  h.RunFor(seconds(1));
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 4u);
  std::multiset<std::string> queues;
  for (const auto& r : d) {
    queues.insert(r[Field::kQueue]);
    EXPECT_EQ(r[Field::kVmtaPool], "pool1");
    EXPECT_EQ(r[Field::kQueue], "example.net/" + r[Field::kVmta]);
  }
  EXPECT_EQ(queues.count("example.net/vmta1"), 2u);
  EXPECT_EQ(queues.count("example.net/vmta2"), 2u);
  std::set<std::pair<std::string, std::string>> binds;
  for (const auto& r : h.deliverer.requests) binds.emplace(r.source_address, r.ehlo_name);
  EXPECT_EQ(binds, (std::set<std::pair<std::string, std::string>>{
                       {"127.0.0.2", "one.example.com"}, {"127.0.0.3", "two.example.com"}}));
}

TEST(QueueManagerTest, RouteAndDefaultPortReachTheDeliverer) {
  Harness h(R"(
<domain *>
  route [127.0.0.1]:2526
  default-smtp-port 2525
</domain>
)");
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  ASSERT_EQ(h.deliverer.requests.size(), 1u);
  ASSERT_TRUE(h.deliverer.requests[0].route.has_value());
  EXPECT_EQ(h.deliverer.requests[0].route->host, "127.0.0.1");
  EXPECT_EQ(h.deliverer.requests[0].route->port, 2526);
  EXPECT_EQ(h.deliverer.requests[0].port, 2525);
  EXPECT_EQ(h.deliverer.requests[0].domain, "example.net");
}

// ---- shaping ------------------------------------------------------------------------------------

TEST(ShapingTest, MaxSmtpOutNeverExceeded) {
  Harness h("<domain *>\n  max-smtp-out 4\n</domain>\n");
  h.deliverer.auto_send = false;  // transactions stay open until released
  for (int i = 0; i < 40; ++i)
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"});
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 4);
  for (int round = 0; round < 20 && h.deliverer.RecipientsSent() < 40; ++round) {
    h.deliverer.CompleteSends();
    h.RunFor(milliseconds(10));
  }
  h.deliverer.CompleteSends();
  h.RunFor(seconds(10));
  EXPECT_EQ(h.deliverer.max_open, 4);
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 40u);
}

TEST(ShapingTest, MaxMsgRateExactOverSimulatedTime) {
  Harness h("<domain *>\n  max-msg-rate 10/m\n</domain>\n");
  for (int i = 0; i < 100; ++i)
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"});
  h.RunFor(minutes(5) - milliseconds(1));
  // 10/m, burst 1: one every 6 s starting at 0 -> 50 in [0, 5m).
  EXPECT_EQ(h.deliverer.RecipientsSent(), 50u);
  const auto& sent = h.deliverer.sent;
  for (std::size_t i = 0; i + 10 < sent.size(); ++i) {
    EXPECT_GE(sent[i + 10].at - sent[i].at, minutes(1)) << "window at " << i;
  }
}

TEST(ShapingTest, MaxRcptPerTransactionBatches) {
  Harness h("<domain *>\n  max-rcpt-per-transaction 10\n</domain>\n");
  std::vector<std::string> rcpts;
  for (int i = 0; i < 25; ++i) rcpts.push_back("u" + std::to_string(i) + "@example.net");
  h.Inject("news@app.test", rcpts);
  h.RunFor(seconds(1));
  std::vector<std::size_t> sizes;
  for (const auto& s : h.deliverer.sent) sizes.push_back(s.batch.recipients.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 25u);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
}

// VERP (XVERP / verp-default): one recipient per transaction, its address in the sender; the
// accounting keeps the sender as given.
TEST(ShapingTest, VerpSendsEachRecipientWithItsOwnSender) {
  Harness h("<domain *>\n  max-rcpt-per-transaction 10\n</domain>\n");
  spool::Envelope env =
      h.MakeEnvelope("bounces@b.example", {"ann@example.net", "bob@example.net", "cy@example.net"});
  env.verp_delimiters = "+=";
  h.InjectEnvelope(env);
  h.Inject("news@app.test", {"dee@example.net", "eve@example.net"});  // no VERP: one batch
  h.RunFor(seconds(1));
  std::set<std::string> senders;
  for (const auto& s : h.deliverer.sent) {
    if (s.batch.mail_from == "news@app.test") {
      EXPECT_EQ(s.batch.recipients.size(), 2u);
      continue;
    }
    ASSERT_EQ(s.batch.recipients.size(), 1u);
    const std::string& rcpt = s.batch.recipients.front();
    EXPECT_EQ(s.batch.mail_from,
              "bounces+" + rcpt.substr(0, rcpt.find('@')) + "=example.net@b.example");
    senders.insert(s.batch.mail_from);
  }
  EXPECT_EQ(senders.size(), 3u);
  const auto delivered = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(delivered.size(), 5u);
  for (const auto& r : delivered) {
    if (r[Field::kRcpt] != "dee@example.net" && r[Field::kRcpt] != "eve@example.net") {
      EXPECT_EQ(r[Field::kOrig], "bounces@b.example");
    }
  }
}

TEST(ShapingTest, MaxMsgPerConnectionReuseCount) {
  Harness h("<domain *>\n  max-smtp-out 1\n  max-msg-per-connection 3\n</domain>\n");
  for (int i = 0; i < 10; ++i)
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"});
  h.RunFor(seconds(30));
  EXPECT_EQ(h.deliverer.requests.size(), 4u);  // 3 + 3 + 3 + 1
  std::vector<int> uses;
  for (const auto& [id, n] : h.deliverer.per_connection) uses.push_back(n);
  EXPECT_EQ(uses, (std::vector<int>{3, 3, 3, 1}));
  EXPECT_EQ(h.deliverer.open, 0);  // the last one closed after the idle timeout
}

// A connection being closed (QUIT in progress) still counts against max-smtp-out and
// source-ip-max-smtp-out: the next one opens only once the socket is closed.
TEST(ShapingTest, ClosingConnectionsCountAgainstLimits) {
  struct Case {
    const char* label;
    std::string config;
    std::string vmta;
  };
  const std::vector<Case> cases = {
      {"max-smtp-out 1", "<domain *>\n  max-smtp-out 1\n  max-msg-per-connection 1\n</domain>\n",
       ""},
      {"source-ip-max-smtp-out 1 (one source)",
       "<virtual-mta solo>\n  smtp-source-host 127.0.0.2 solo.example.com\n</virtual-mta>\n"
       "<domain *>\n  max-smtp-out 10\n  source-ip-max-smtp-out 1\n"
       "  max-msg-per-connection 1\n</domain>\n",
       "solo"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    Harness h(c.config);
    h.deliverer.auto_close = false;
    for (int i = 0; i < 3; ++i) {
      h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"}, c.vmta);
    }
    h.RunFor(milliseconds(10));
    // The first transaction is done and its connection is closing: no second one yet.
    EXPECT_EQ(h.deliverer.RecipientsSent(), 1u);
    EXPECT_EQ(h.deliverer.pending_closes.size(), 1u);
    EXPECT_EQ(h.deliverer.requests.size(), 1u);
    EXPECT_EQ(h.manager->Snapshot().totals.connections, 1u);
    for (int round = 0; round < 10 && !h.deliverer.pending_closes.empty(); ++round) {
      h.deliverer.CompleteCloses();
      h.RunFor(milliseconds(10));
    }
    EXPECT_EQ(h.deliverer.RecipientsSent(), 3u);
    EXPECT_EQ(h.deliverer.requests.size(), 3u);
    EXPECT_EQ(h.deliverer.max_open, 1);
  }
}

// A queue that empties for a moment keeps its idle connection until idle_connection_timeout.
TEST(ShapingTest, IdleConnectionReusedAcrossABriefGap) {
  Harness h("<domain *>\n  max-smtp-out 4\n</domain>\n");
  h.Inject("news@app.test", {"a@example.net"});
  h.RunFor(seconds(1));
  EXPECT_EQ(h.deliverer.open, 1);  // queue empty, connection kept
  h.Inject("news@app.test", {"b@example.net"});
  h.RunFor(seconds(1));
  EXPECT_EQ(h.deliverer.requests.size(), 1u);
  EXPECT_EQ(h.deliverer.per_connection.begin()->second, 2);
  h.RunFor(seconds(5));  // idle_connection_timeout (5 s) after the last transaction
  EXPECT_EQ(h.deliverer.open, 0);
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 2u);
}

TEST(ShapingTest, MaxConnectRateSpacesConnections) {
  Harness h("<domain *>\n  max-connect-rate 2/m\n  max-msg-per-connection 1\n</domain>\n");
  for (int i = 0; i < 10; ++i)
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"});
  h.RunFor(minutes(2) - milliseconds(1));
  ASSERT_EQ(h.deliverer.connect_times.size(), 4u);  // at 0, 30 s, 60 s, 90 s
  for (std::size_t i = 1; i < h.deliverer.connect_times.size(); ++i) {
    EXPECT_EQ(h.deliverer.connect_times[i] - h.deliverer.connect_times[i - 1], seconds(30));
  }
}

const char* kTwoSources = R"(
<virtual-mta vmta1>
  smtp-source-host 127.0.0.2 one.example.com
  smtp-source-host 127.0.0.3 two.example.com
</virtual-mta>
)";

TEST(ShapingTest, SourceIpMaxSmtpOut) {
  Harness h(std::string(kTwoSources) +
            "<domain *>\n  max-smtp-out 10\n  source-ip-max-smtp-out 2\n</domain>\n");
  h.deliverer.auto_send = false;
  for (int i = 0; i < 30; ++i) {
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"}, "vmta1");
  }
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 4);
  EXPECT_EQ(h.deliverer.max_open_by_source["127.0.0.2"], 2);
  EXPECT_EQ(h.deliverer.max_open_by_source["127.0.0.3"], 2);
  for (int round = 0; round < 40 && h.deliverer.RecipientsSent() < 30; ++round) {
    h.deliverer.CompleteSends();
    h.RunFor(milliseconds(10));
  }
  h.deliverer.CompleteSends();
  h.RunFor(seconds(1));
  EXPECT_EQ(h.deliverer.max_open, 4);
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 30u);
}

TEST(ShapingTest, SourceIpMaxMsgRate) {
  Harness h(std::string(kTwoSources) +
            "<domain *>\n  max-smtp-out 1\n  source-ip-max-msg-rate 6/m\n</domain>\n");
  for (int i = 0; i < 40; ++i) {
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"}, "vmta1");
  }
  h.RunFor(minutes(1) - milliseconds(1));
  // One connection (one source address) at 6/m: exactly 6 in the first minute.
  EXPECT_EQ(h.deliverer.RecipientsSent(), 6u);
}

// ---- backoff ------------------------------------------------------------------------------------

const char* kBackoffPolicy = R"(
<smtp-pattern-list isp-errors>
  reply /try again later/ mode=backoff
</smtp-pattern-list>
<domain *>
  smtp-pattern-list isp-errors
  retry-after 10m
  backoff-retry-after 30m
  backoff-max-msg-rate 2/m
  %EXTRA%
</domain>
)";

std::string BackoffConfig(const std::string& extra) {
  std::string s = kBackoffPolicy;
  s.replace(s.find("%EXTRA%"), 7, extra);
  return s;
}

TEST(BackoffTest, PatternMatchEntersBackoffAndUsesBackoffRetry) {
  Harness h(BackoffConfig(""));
  h.deliverer.reply_for = [](const std::string&) {
    return MakeReply(421, "4.7.0", "try again later");
  };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  auto snap = h.manager->Snapshot();
  ASSERT_EQ(snap.queues.size(), 1u);
  EXPECT_EQ(snap.queues[0].mode, "backoff");
  EXPECT_EQ(snap.queues[0].mode_changes, 1u);
  EXPECT_EQ(snap.totals.recipients_in_backoff, 1u);
  // backoff-retry-after 30m, not retry-after 10m.
  h.RunFor(minutes(29));
  EXPECT_EQ(h.deliverer.sent.size(), 1u);
  h.RunFor(minutes(2));
  EXPECT_EQ(h.deliverer.sent.size(), 2u);
}

TEST(BackoffTest, NonMatchingDeferralStaysNormal) {
  Harness h(BackoffConfig(""));
  h.deliverer.reply_for = [](const std::string&) { return MakeReply(451, "4.3.0", "busy"); };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  EXPECT_EQ(h.manager->Snapshot().queues[0].mode, "normal");
  h.RunFor(minutes(10));
  EXPECT_EQ(h.deliverer.sent.size(), 2u);  // retried after retry-after 10m
}

TEST(BackoffTest, BackoffLimitsApply) {
  Harness h(BackoffConfig(""));
  for (int i = 0; i < 20; ++i)
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@example.net"});
  ASSERT_EQ(h.manager->SetMode("example.net", QueueMode::kBackoff), 1);
  h.RunFor(minutes(3) - milliseconds(1));
  EXPECT_EQ(h.deliverer.RecipientsSent(), 6u);  // backoff-max-msg-rate 2/m
}

TEST(BackoffTest, ReturnsToNormalAfterBackoffToNormalAfter) {
  Harness h(BackoffConfig("backoff-to-normal-after 1h"));
  h.deliverer.reply_for = [](const std::string&) {
    return MakeReply(421, "4.7.0", "try again later");
  };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  h.deliverer.reply_for = nullptr;
  ASSERT_EQ(h.manager->Snapshot().queues[0].mode, "backoff");
  h.manager->Pause("example.net/{default}");  // no deliveries: only the timer can end backoff
  h.RunFor(minutes(59));
  EXPECT_EQ(h.manager->Snapshot().queues[0].mode, "backoff");
  h.RunFor(minutes(2));
  EXPECT_EQ(h.manager->Snapshot().queues[0].mode, "normal");
  EXPECT_EQ(h.manager->Snapshot().queues[0].mode_changes, 2u);
}

TEST(BackoffTest, ReturnsToNormalAfterDelivery) {
  Harness h(BackoffConfig("backoff-to-normal-after-delivery yes"));
  h.deliverer.reply_for = [](const std::string&) {
    return MakeReply(421, "4.7.0", "try again later");
  };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  ASSERT_EQ(h.manager->Snapshot().queues[0].mode, "backoff");
  h.deliverer.reply_for = nullptr;
  h.RunFor(minutes(31));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 1u);
  EXPECT_EQ(h.manager->Snapshot().queues[0].mode, "normal");
}

// ---- expiry -------------------------------------------------------------------------------------

TEST(ExpiryTest, ExpiredRecipientBouncesWithDsnCommittedBeforeDone) {
  Harness h("<domain *>\n  retry-after 10m\n  bounce-after 1h\n</domain>\n");
  h.deliverer.reply_for = [](const std::string& rcpt) {
    return rcpt == "ann@example.net" ? MakeReply(451, "4.3.0", "busy") : MakeReply(250, "", "ok");
  };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(hours(2));
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0][Field::kBounceCat], "message-expired");
  EXPECT_EQ(b[0][Field::kDsnAction], "failed");
  EXPECT_EQ(b[0][Field::kRcpt], "ann@example.net");
  // Attempts at 0, 10, 20, 30, 40, 50 min; the one due at 60 min is expired.
  EXPECT_EQ(h.sink.Of(RecordType::kTransient).size(), 6u);
  ASSERT_EQ(h.spool.committed.size(), 1u);
  const auto& dsn = h.spool.Get(h.spool.committed[0]);
  EXPECT_EQ(dsn.envelope.mail_from, "");
  EXPECT_EQ(dsn.envelope.recipients, std::vector<std::string>{"news@app.test"});
  EXPECT_NE(dsn.data.find("message/delivery-status"), std::string::npos);
  EXPECT_NE(dsn.data.find("ann@example.net"), std::string::npos);
  const auto& ev = h.log.events;
  std::size_t write_b = IndexOf(ev, "write:b:ann@example.net");
  std::size_t commit = IndexOf(ev, "commit:" + dsn.envelope.id);
  std::size_t done = IndexOf(ev, "done-msg:Q1");
  ASSERT_LT(done, ev.size());
  EXPECT_LT(write_b, commit);
  EXPECT_LT(commit, done);
  EXPECT_LT(IndexOf(std::vector<std::string>(ev.begin() + write_b, ev.end()), "flush") + write_b,
            done);
  // The DSN itself is queued and delivered (the fake accepts the null sender's mail).
  EXPECT_EQ(h.manager->Snapshot().totals.dsns, 1u);
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0][Field::kRcpt], "news@app.test");
  EXPECT_EQ(d[0][Field::kOrig], "");
}

TEST(ExpiryTest, NoDsnForNullSender) {
  Harness h("<domain *>\n  retry-after 10m\n  bounce-after 1h\n</domain>\n");
  h.deliverer.reply_for = [](const std::string&) { return MakeReply(451, "4.3.0", "busy"); };
  h.Inject("", {"ann@example.net"});
  h.RunFor(hours(2));
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0][Field::kBounceCat], "message-expired");
  EXPECT_TRUE(h.spool.committed.empty());
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
}

TEST(ExpiryTest, DsnCommitFailureLeavesRecipientInSpool) {
  Harness h("<domain *>\n  retry-after 10m\n  bounce-after 30m\n</domain>\n");
  h.deliverer.reply_for = [](const std::string&) { return MakeReply(451, "4.3.0", "busy"); };
  h.spool.fail_commits = true;
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(hours(1));
  EXPECT_EQ(h.sink.Of(RecordType::kBounced).size(), 1u);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 0u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

// ---- DSNs for permanent failures ---------------------------------------------------------------

// The DSNs committed to the spool, in order.
std::vector<spool::SpoolMessage> Dsns(Harness& h) {
  std::vector<spool::SpoolMessage> out;
  for (const spool::SpoolId& id : h.spool.committed) out.push_back(h.spool.Get(id));
  return out;
}

struct BounceDsnCase {
  const char* label;
  std::string config;
  std::string sender;
  std::vector<std::string> rcpts;
  // Per DSN, the recipients it lists (as "Final-Recipient: rfc822; ADDRESS").
  std::vector<std::vector<std::string>> dsns;
};

TEST(BounceDsnTest, OneDsnPerMessageAndAttemptForItsRefusedRecipients) {
  const BounceDsnCase cases[] = {
      {"two refused, one accepted, one transaction: one DSN listing both refused",
       "",
       "news@app.test",
       {"ann@example.net", "bob@example.net", "ok@example.net"},
       {{"ann@example.net", "bob@example.net"}}},
      {"one recipient per transaction: one DSN per attempt",
       "<domain *>\n  max-rcpt-per-transaction 1\n</domain>\n",
       "news@app.test",
       {"ann@example.net", "bob@example.net"},
       {{"ann@example.net"}, {"bob@example.net"}}},
      {"fan-out over two domains: one DSN per queue's attempt",
       "",
       "news@app.test",
       {"ann@example.net", "bob@example.org"},
       {{"ann@example.net"}, {"bob@example.org"}}},
      {"null sender: no DSN", "", "", {"ann@example.net", "ok@example.net"}, {}},
      {"all accepted: no DSN", "", "news@app.test", {"ok@example.net"}, {}},
      {"deferred: no DSN", "", "news@app.test", {"later@example.net"}, {}},
  };
  for (const BounceDsnCase& c : cases) {
    SCOPED_TRACE(c.label);
    Harness h(c.config);
    h.deliverer.reply_for = [](const std::string& rcpt) {
      if (rcpt.rfind("ann@", 0) == 0) return MakeReply(550, "5.1.1", "user unknown");
      if (rcpt.rfind("bob@", 0) == 0) return MakeReply(554, "5.7.1", "blocked by policy");
      if (rcpt.rfind("later@", 0) == 0) return MakeReply(451, "4.3.0", "busy");
      return MakeReply(250, "2.1.5", "ok");
    };
    h.Inject(c.sender, c.rcpts);
    h.RunFor(seconds(5));
    const auto dsns = Dsns(h);
    ASSERT_EQ(dsns.size(), c.dsns.size());
    EXPECT_EQ(h.manager->Snapshot().totals.dsns, c.dsns.size());
    std::size_t listed = 0;
    for (std::size_t i = 0; i < dsns.size(); ++i) {
      SCOPED_TRACE("DSN " + std::to_string(i));
      EXPECT_EQ(dsns[i].envelope.mail_from, "");
      EXPECT_EQ(dsns[i].envelope.recipients, std::vector<std::string>{c.sender});
      const std::string& data = dsns[i].data;
      for (const std::string& rcpt : c.rcpts) {
        const bool listed_here =
            data.find("Final-Recipient: rfc822; " + rcpt + "\r\n") != std::string::npos;
        const bool expected =
            std::find(c.dsns[i].begin(), c.dsns[i].end(), rcpt) != c.dsns[i].end();
        EXPECT_EQ(listed_here, expected) << rcpt;
        listed += listed_here;
      }
    }
    std::size_t expected_listed = 0;
    for (const auto& d : c.dsns) expected_listed += d.size();
    EXPECT_EQ(listed, expected_listed);
    // Each DSN is delivered in turn (from <>, to the sender).
    std::size_t dsn_deliveries = 0;
    for (const auto& r : h.sink.Of(RecordType::kDelivered)) {
      dsn_deliveries += r[Field::kOrig].empty() && r[Field::kRcpt] == c.sender;
    }
    EXPECT_EQ(dsn_deliveries, c.sender.empty() ? 0u : c.dsns.size());
  }
}

TEST(BounceDsnTest, DsnCarriesTheRealReplyAndIsDurableBeforeDone) {
  Harness h("");
  h.deliverer.reply_for = [](const std::string& rcpt) {
    if (rcpt == "ann@example.net") return MakeReply(550, "5.1.1", "user unknown");
    if (rcpt == "bob@example.net") return MakeReply(554, "5.7.1", "blocked by policy");
    return MakeReply(250, "2.1.5", "ok");
  };
  h.Inject("news@app.test", {"ann@example.net", "bob@example.net", "ok@example.net"});
  h.RunFor(seconds(1));
  ASSERT_EQ(h.spool.committed.size(), 1u);
  const auto dsn = h.spool.Get(h.spool.committed[0]);
  const std::string& data = dsn.data;
  EXPECT_NE(data.find("Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\n"
                      "Status: 5.1.1\r\nRemote-MTA: dns; mx.sim.test\r\n"
                      "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find("Status: 5.7.1\r\nRemote-MTA: dns; mx.sim.test\r\n"
                      "Diagnostic-Code: smtp; 554 5.7.1 blocked by policy\r\n"),
            std::string::npos);
  EXPECT_NE(data.find("Subject: test Q1"), std::string::npos);  // the original's headers
  EXPECT_NE(data.find("X-Outpost-Queue-ID: Q1"), std::string::npos);
  // The b records carry the same reply.
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0][Field::kDsnDiag], "smtp;550 5.1.1 user unknown");
  // Order: records, one flush, the accepted recipient done; the DSN committed; only then the
  // refused recipients done (ann is index 0; bob is the last, so the message is done).
  const auto& ev = h.log.events;
  const std::size_t flush = IndexOf(ev, "flush");
  const std::size_t commit = IndexOf(ev, "commit:" + dsn.envelope.id);
  ASSERT_LT(commit, ev.size());
  EXPECT_LT(IndexOf(ev, "write:b:ann@example.net"), flush);
  EXPECT_LT(IndexOf(ev, "write:b:bob@example.net"), flush);
  EXPECT_LT(flush, IndexOf(ev, "done-rcpt:Q1:2"));
  EXPECT_LT(flush, commit);
  EXPECT_LT(commit, IndexOf(ev, "done-rcpt:Q1:0"));
  EXPECT_LT(commit, IndexOf(ev, "done-msg:Q1"));
  EXPECT_LT(IndexOf(ev, "done-msg:Q1"), ev.size());
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

TEST(BounceDsnTest, RefusedAndExpiredOfOneAttemptShareOneDsn) {
  Harness h("<domain *>\n  bounce-after 1h\n</domain>\n");
  h.deliverer.auto_send = false;
  h.deliverer.reply_for = [](const std::string& rcpt) {
    return rcpt == "ann@example.net" ? MakeReply(550, "5.1.1", "user unknown")
                                     : MakeReply(451, "4.3.0", "busy");
  };
  h.Inject("news@app.test", {"ann@example.net", "bob@example.net"});
  h.RunFor(milliseconds(10));
  ASSERT_EQ(h.deliverer.pending_sends.size(), 1u);
  h.RunFor(hours(2));  // the transaction's answer comes after bounce-after
  h.deliverer.auto_send = true;
  h.deliverer.CompleteSends();
  h.RunFor(seconds(1));
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0][Field::kBounceCat], "bad-mailbox");
  EXPECT_EQ(b[1][Field::kBounceCat], "message-expired");
  ASSERT_EQ(h.spool.committed.size(), 1u);
  const std::string& data = h.spool.Get(h.spool.committed[0]).data;
  EXPECT_NE(data.find("Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\n"
                      "Status: 5.1.1\r\n"),
            std::string::npos);
  EXPECT_NE(data.find("Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\n"
                      "Status: 5.4.7\r\n"),
            std::string::npos);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
}

TEST(BounceDsnTest, BouncedDsnGetsNoDsn) {
  Harness h("");
  h.deliverer.reply_for = [](const std::string&) { return MakeReply(550, "5.1.1", "no"); };
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(5));
  auto b = h.sink.Of(RecordType::kBounced);
  ASSERT_EQ(b.size(), 2u);  // ann, then the DSN to news@app.test
  EXPECT_EQ(b[1][Field::kRcpt], "news@app.test");
  EXPECT_EQ(b[1][Field::kOrig], "");
  EXPECT_EQ(h.spool.committed.size(), 1u);  // no DSN for the DSN
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

TEST(BounceDsnTest, DsnCommitFailureLeavesRefusedRecipientsInSpool) {
  Harness h("");
  h.deliverer.reply_for = [](const std::string& rcpt) {
    return rcpt == "ann@example.net" ? MakeReply(550, "5.1.1", "user unknown")
                                     : MakeReply(250, "2.1.5", "ok");
  };
  h.spool.fail_commits = true;
  h.Inject("news@app.test", {"ann@example.net", "ok@example.net"});
  h.RunFor(seconds(1));
  EXPECT_EQ(h.sink.Of(RecordType::kBounced).size(), 1u);
  const auto& ev = h.log.events;
  EXPECT_LT(IndexOf(ev, "done-rcpt:Q1:1"), ev.size());  // the accepted one
  EXPECT_EQ(IndexOf(ev, "done-rcpt:Q1:0"), ev.size());  // not the refused one
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 0u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
  EXPECT_EQ(h.manager->Snapshot().totals.dsns, 0u);
}

// ---- connection failures -----------------------------------------------------------------------

TEST(ConnectFailureTest, TqRecordAndHoldForRetryInterval) {
  Harness h("<domain *>\n  retry-after 10m\n</domain>\n");
  h.deliverer.connect_status = ConnectStatus::kTempFail;
  h.Inject("news@app.test", {"ann@example.net"});
  h.RunFor(seconds(1));
  auto tq = h.sink.Of(RecordType::kTransientQueue);
  ASSERT_EQ(tq.size(), 1u);
  EXPECT_EQ(tq[0][Field::kQueue], "example.net/{default}");
  EXPECT_NE(tq[0][Field::kDsnDiag].find("Connection refused"), std::string::npos);
  h.RunFor(minutes(9));
  EXPECT_EQ(h.deliverer.requests.size(), 1u);  // held
  h.deliverer.connect_status = ConnectStatus::kOk;
  h.RunFor(minutes(2));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 1u);
}

TEST(ConnectFailureTest, PermanentFailureBouncesBadDomain) {
  Harness h("");
  h.deliverer.connect_status = ConnectStatus::kPermFail;
  h.deliverer.connect_error = "example.invalid: NXDOMAIN";
  h.Inject("news@app.test", {"ann@example.invalid", "bob@example.invalid"});
  h.RunFor(seconds(1));
  auto b = h.sink.Of(RecordType::kBounced);
  // ann and bob, then the DSN to news@app.test, which fails the same way (every domain is
  // NXDOMAIN here) and, being from <>, gets no DSN of its own: exactly one DSN committed.
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0][Field::kRcpt], "ann@example.invalid");
  EXPECT_EQ(b[1][Field::kRcpt], "bob@example.invalid");
  EXPECT_EQ(b[0][Field::kBounceCat], "bad-domain");
  EXPECT_EQ(b[2][Field::kRcpt], "news@app.test");
  EXPECT_EQ(b[2][Field::kOrig], "");
  ASSERT_EQ(h.spool.committed.size(), 1u);
  const std::string& dsn = h.spool.Get(h.spool.committed[0]).data;
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; ann@example.invalid\r\nAction: failed\r\n"
                     "Status: 5.1.2\r\n"),
            std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bob@example.invalid"), std::string::npos);
  EXPECT_NE(dsn.find("NXDOMAIN"), std::string::npos);
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

// ---- fairness, pause, admission ----------------------------------------------------------------

TEST(FairnessTest, RetryBacklogDoesNotStarveNewMail) {
  Harness h("<domain *>\n  max-smtp-out 1\n</domain>\n");
  h.deliverer.auto_send = false;
  // A large backlog of recovered (scheduled, due now) recipients.
  for (int i = 0; i < 2000; ++i) {
    spool::SpoolMessage m;
    m.envelope = h.MakeEnvelope("old@app.test", {"old" + std::to_string(i) + "@example.net"});
    m.data = "Subject: old\r\n\r\nx\r\n";
    spool::RecoveredMessage rec;
    rec.envelope = m.envelope;
    rec.data_size = m.data.size();
    rec.done_recipients = {false};
    rec.id = h.spool.Add(std::move(m));
    h.manager->Recover(rec);
  }
  h.RunFor(milliseconds(10));
  ASSERT_EQ(h.deliverer.sent.size(), 1u);  // the backlog's first transaction is in flight
  h.Inject("new@app.test", {"fresh@example.net"});
  for (int i = 0; i < 2; ++i) {
    h.deliverer.CompleteSends();
    h.RunFor(milliseconds(10));
  }
  ASSERT_GE(h.deliverer.sent.size(), 3u);
  // The fresh message goes out as the very next transaction, not after 2000 old ones.
  EXPECT_EQ(h.deliverer.sent[1].batch.recipients, std::vector<std::string>{"fresh@example.net"});
}

TEST(FairnessTest, ActiveSetIsBounded) {
  QueueManagerOptions options;
  options.max_active_recipients = 3;
  Harness h("<domain *>\n  max-smtp-out 10\n</domain>\n", options);
  h.deliverer.auto_send = false;
  for (int i = 0; i < 5; ++i) {
    h.Inject("news@app.test", {"u" + std::to_string(i) + "@d" + std::to_string(i) + ".example"});
  }
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.manager->Snapshot().totals.active_recipients, 3u);
  EXPECT_EQ(h.deliverer.pending_sends.size(), 3u);
  h.deliverer.CompleteSends();
  h.RunFor(milliseconds(10));
  h.deliverer.CompleteSends();
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 5u);
}

// With the active set full, queues get its freed capacity in proportion to queue-priority + 1:
// a higher priority is preferred, a lower one is not starved, equal ones alternate.
TEST(FairnessTest, ActiveSetFedByQueuePriority) {
  struct Case {
    const char* label;
    int high, low;                 // queue-priority of hi.test and lo.test
    std::size_t min_low, max_low;  // lo.test's share of the first 102 transactions
  };
  const Case cases[] = {
      {"75 vs 25: about 76:26", 75, 25, 24, 28},
      {"equal priorities alternate", 50, 50, 50, 52},
      {"100 vs 0: low still served", 100, 0, 1, 2},
      {"default priority vs 0", -1, 0, 1, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    std::string config = "<domain *>\n  max-smtp-out 4\n</domain>\n";
    if (c.high >= 0) {
      config += "<domain hi.test>\n  queue-priority " + std::to_string(c.high) + "\n</domain>\n";
    }
    config += "<domain lo.test>\n  queue-priority " + std::to_string(c.low) + "\n</domain>\n";
    QueueManagerOptions options;
    options.max_active_recipients = 1;
    Harness h(config, options);
    h.deliverer.auto_send = false;
    for (int i = 0; i < 150; ++i) {
      h.Inject("news@app.test", {"l" + std::to_string(i) + "@lo.test"});
      h.Inject("news@app.test", {"h" + std::to_string(i) + "@hi.test"});
    }
    for (int i = 0; i < 102; ++i) {
      h.RunFor(milliseconds(10));
      ASSERT_EQ(h.deliverer.pending_sends.size(), 1u) << i;  // the active set holds one
      h.deliverer.CompleteSends();
    }
    std::size_t low = 0;
    for (const auto& sent : h.deliverer.sent) {
      low += sent.batch.recipients[0].find("@lo.test") != std::string::npos;
    }
    ASSERT_EQ(h.deliverer.sent.size(), 102u);
    EXPECT_GE(low, c.min_low);
    EXPECT_LE(low, c.max_low);
  }
}

TEST(QueueManagerTest, PauseAndResume) {
  Harness h("");
  h.Inject("news@app.test", {"ann@example.net"});
  ASSERT_EQ(h.manager->Pause("example.net"), 1);
  h.RunFor(minutes(5));
  EXPECT_TRUE(h.deliverer.sent.empty());
  EXPECT_TRUE(h.manager->Snapshot().queues[0].paused);
  ASSERT_EQ(h.manager->Resume("example.net/{default}"), 1);
  h.RunFor(seconds(1));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 1u);
  EXPECT_EQ(h.manager->Pause("nosuch.example/{default}"), 0);
}

// Delete: b records "deleted by operator" for the queued recipients (fresh and scheduled), one
// flush, then the spool marks; no DSN; in-flight recipients keep exactly one outcome.
TEST(DeleteTest, QueuedRecipientsBouncedWithoutDsn) {
  struct Case {
    const char* label;
    std::string name;
  };
  const std::vector<Case> cases = {{"bare domain", "example.net"},
                                   {"domain/vmta", "example.net/{default}"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    Harness h("<domain *>\n  retry-after 10m\n</domain>\n");
    h.deliverer.reply_for = [](const std::string& rcpt) {
      return rcpt.rfind("later", 0) == 0 ? MakeReply(450, "4.2.0", "try later")
                                         : MakeReply(250, "2.1.5", "ok");
    };
    h.Inject("news@app.test", {"later1@example.net", "later2@example.net"});
    h.RunFor(seconds(1));  // both deferred: now in the scheduled tier
    ASSERT_EQ(h.sink.Of(RecordType::kTransient).size(), 2u);
    h.manager->Pause("example.net");
    h.Inject("news@app.test", {"fresh@example.net", "other@example.org"});
    h.manager->Pause("example.org");  // other@example.org stays queued
    h.RunFor(seconds(1));
    const std::size_t events_before = h.log.events.size();
    std::string error;
    EXPECT_EQ(h.manager->Delete(c.name, &error), 3) << error;
    auto b = h.sink.Of(RecordType::kBounced);
    ASSERT_EQ(b.size(), 3u);
    std::set<std::string> rcpts;
    for (const auto& r : b) {
      rcpts.insert(r[Field::kRcpt]);
      EXPECT_EQ(r[Field::kDsnAction], "failed");
      EXPECT_EQ(r[Field::kDsnStatus].substr(0, 5), "5.0.0");
      EXPECT_EQ(r[Field::kDsnDiag], "deleted by operator");
      EXPECT_EQ(r[Field::kBounceCat], "other");
      EXPECT_EQ(r[Field::kQueue], "example.net/{default}");
    }
    EXPECT_EQ(rcpts, (std::set<std::string>{"later1@example.net", "later2@example.net",
                                            "fresh@example.net"}));
    // Records, one flush, then the spool marks (message Q1 done; Q2 keeps other@example.org).
    const std::vector<std::string> ev(h.log.events.begin() + events_before, h.log.events.end());
    const std::size_t flush = IndexOf(ev, "flush");
    ASSERT_LT(flush, ev.size());
    EXPECT_EQ(std::count(ev.begin(), ev.end(), "flush"), 1);
    EXPECT_LT(IndexOf(ev, "write:b:fresh@example.net"), flush);
    EXPECT_GT(IndexOf(ev, "done-msg:Q1"), flush);
    EXPECT_GT(IndexOf(ev, "done-rcpt:Q2:0"), flush);
    EXPECT_EQ(IndexOf(ev, "done-msg:Q2"), ev.size());
    EXPECT_TRUE(h.spool.committed.empty());         // no DSN
    EXPECT_EQ(h.manager->queued_recipients(), 1u);  // other@example.org
    h.RunFor(hours(1));
    EXPECT_EQ(h.sink.Of(RecordType::kBounced).size(), 3u);  // nothing retried
    EXPECT_EQ(h.manager->Delete("example.net", &error), 0);
  }
}

TEST(DeleteTest, UnknownQueueIsAnError) {
  Harness h("");
  std::string error;
  EXPECT_EQ(h.manager->Delete("nosuch.example", &error), -1);
  EXPECT_NE(error.find("nosuch.example"), std::string::npos);
}

TEST(DeleteTest, InFlightRecipientsGetExactlyOneOutcome) {
  struct Case {
    const char* label;
    int code;
    RecordType expected;
    const char* diag;
  };
  const std::vector<Case> cases = {
      {"delivered in flight", 250, RecordType::kDelivered, "smtp;250 2.0.0 ok queued"},
      {"refused in flight", 550, RecordType::kBounced, "smtp;550 5.1.1 no such user"},
      {"deferred in flight becomes deleted", 450, RecordType::kBounced, "deleted by operator"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    Harness h("<domain *>\n  max-rcpt-per-transaction 1\n  max-smtp-out 1\n</domain>\n");
    h.deliverer.auto_send = false;
    const int code = c.code;
    h.deliverer.reply_for = [code](const std::string&) {
      if (code == 450) return MakeReply(450, "4.2.0", "try later");
      if (code == 550) return MakeReply(550, "5.1.1", "no such user");
      return MakeReply(250, "2.1.5", "ok");
    };
    h.Inject("news@app.test", {"a@example.net", "b@example.net"});
    h.RunFor(milliseconds(10));
    ASSERT_EQ(h.deliverer.pending_sends.size(), 1u);  // a@ in flight, b@ queued
    EXPECT_EQ(h.manager->Delete("example.net"), 1);
    h.deliverer.CompleteSends();
    h.RunFor(hours(1));
    h.deliverer.CompleteSends();  // the refusal's DSN to news@app.test
    h.RunFor(seconds(1));
    EXPECT_TRUE(h.deliverer.pending_sends.empty());
    std::size_t attempted = 0;  // b@ was never attempted
    for (const auto& sent : h.deliverer.sent) {
      for (const auto& rcpt : sent.batch.recipients)
        attempted += rcpt.find("@example.net") != std::string::npos;
    }
    EXPECT_EQ(attempted, 1u);
    std::vector<acct::Record> for_a;
    for (const auto& r : h.sink.records) {
      if (r[Field::kRcpt] == "a@example.net") for_a.push_back(r);
    }
    ASSERT_EQ(for_a.size(), 1u);
    EXPECT_EQ(for_a[0].type, c.expected);
    EXPECT_EQ(for_a[0][Field::kDsnDiag], c.diag);
    EXPECT_EQ(h.manager->queued_recipients(), 0u);
    EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u);
    // A real refusal keeps its DSN; the operator's delete sends none.
    EXPECT_EQ(h.spool.committed.size(), c.code == 550 ? 1u : 0u);
  }
}

TEST(QueueManagerTest, AdmissionCeiling) {
  QueueManagerOptions options;
  options.max_queued_recipients = 5;
  Harness h("", options);
  h.manager->Pause("example.net");
  EXPECT_TRUE(h.manager->Admit(5));
  h.Inject("news@app.test", {"a@example.net", "b@example.net", "c@example.net"});
  h.manager->Pause("example.net");
  EXPECT_TRUE(h.manager->Admit(2));
  EXPECT_FALSE(h.manager->Admit(3));
  h.Inject("news@app.test", {"d@example.net", "e@example.net"});
  EXPECT_FALSE(h.manager->Admit(1));
  EXPECT_EQ(h.manager->Snapshot().totals.admission_refusals, 2u);
  h.manager->Resume("example.net");
  h.RunFor(seconds(1));
  EXPECT_TRUE(h.manager->Admit(5));
}

TEST(QueueManagerTest, RecoveredMessageSkipsDoneRecipients) {
  Harness h("");
  spool::SpoolMessage m;
  m.envelope = h.MakeEnvelope("news@app.test", {"a@example.net", "b@example.net", "c@example.net"});
  m.data = "Subject: x\r\n\r\nx\r\n";
  spool::RecoveredMessage rec;
  rec.envelope = m.envelope;
  rec.done_recipients = {true, false, true};
  rec.id = h.spool.Add(std::move(m));
  h.manager->Recover(rec);
  h.RunFor(seconds(1));
  auto d = h.sink.Of(RecordType::kDelivered);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0][Field::kRcpt], "b@example.net");
  EXPECT_EQ(h.spool.done_messages.count(rec.envelope.id), 1u);
}

}  // namespace
}  // namespace outpost::queue
