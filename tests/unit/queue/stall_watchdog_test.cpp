// The stall watchdog over fakes and a simulated clock: a queue with due mail and no delivery
// attempt for queue-stall-warning-after is flagged once per episode; paused, backing-off, held
// (after a failed connection), rate-limited and attempting queues are not.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::Harness;
using testing::MakeReply;

bool Stalled(const Harness& h) {
  const QueueSnapshot snap = h.manager->Snapshot();
  return !snap.queues.empty() && snap.queues[0].stalled;
}

// A queue whose connection never opens (the Deliverer never answers), with `threshold`, after
// `run` of simulated time: due mail and no attempt starting or finishing.
std::unique_ptr<Harness> HungQueue(const std::string& threshold, Nanos run) {
  auto h = std::make_unique<Harness>("queue-stall-warning-after " + threshold + "\n");
  h->deliverer.auto_connect = false;
  h->Inject("news@app.test", {"ann@example.net"});
  h->RunFor(run);
  return h;
}

struct StallCase {
  const char* label;
  std::string config;  // after "queue-stall-warning-after THRESHOLD"
  std::function<void(Harness&)> setup;
  int recipients;
  bool stalled;
  const char* threshold = "10m";
};

class StallWatchdogTest : public ::testing::TestWithParam<StallCase> {};

// One queue, run for 30 minutes (three times the threshold): is it flagged?
TEST_P(StallWatchdogTest, FlaggedOnlyWithoutAnExplainedWait) {
  const StallCase& c = GetParam();
  Harness h("queue-stall-warning-after " + std::string(c.threshold) + "\n" + c.config);
  if (c.setup) c.setup(h);
  std::vector<std::string> rcpts;
  for (int i = 0; i < c.recipients; ++i) rcpts.push_back("r" + std::to_string(i) + "@example.net");
  h.Inject("news@app.test", rcpts);
  h.RunFor(minutes(30));
  const QueueTotals t = h.manager->Snapshot().totals;
  EXPECT_EQ(Stalled(h), c.stalled) << c.label;
  EXPECT_EQ(t.stalls, c.stalled ? 1u : 0u) << c.label;
  EXPECT_EQ(t.stalled_queues, c.stalled ? 1u : 0u) << c.label;
}

void ConnectNeverAnswers(Harness& h) { h.deliverer.auto_connect = false; }

INSTANTIATE_TEST_SUITE_P(
    Table, StallWatchdogTest,
    ::testing::Values(
        StallCase{"connect_never_answers", "", ConnectNeverAnswers, 1, true},
        // A transaction that never ends, with a second recipient due behind it (one connection).
        StallCase{"send_never_answers",
                  "<domain *>\n  max-smtp-out 1\n  max-rcpt-per-transaction 1\n</domain>\n",
                  [](Harness& h) { h.deliverer.auto_send = false; }, 2, true},
        // The same transaction alone: nothing else is due, so nothing is owed.
        StallCase{"only_recipient_in_a_hung_transaction", "",
                  [](Harness& h) { h.deliverer.auto_send = false; }, 1, false},
        StallCase{"delivered", "", nullptr, 1, false},
        StallCase{"paused", "",
                  [](Harness& h) {
                    ConnectNeverAnswers(h);
                    h.Inject("news@app.test", {"first@example.net"});  // the queue exists
                    h.manager->Pause("example.net");
                  },
                  1, false},
        StallCase{"backoff_mode", "",
                  [](Harness& h) {
                    ConnectNeverAnswers(h);
                    h.Inject("news@app.test", {"first@example.net"});
                    h.manager->SetMode("example.net", QueueMode::kBackoff);
                  },
                  1, false},
        StallCase{"held_after_failed_connection", "<domain *>\n  retry-after 20m\n</domain>\n",
                  [](Harness& h) { h.deliverer.connect_status = ConnectStatus::kTempFail; }, 1,
                  false},
        StallCase{"rate_limited",
                  "<domain *>\n  max-msg-rate 1/h\n  max-rcpt-per-transaction 1\n</domain>\n",
                  nullptr, 3, false},
        StallCase{"deferred_until_retry", "<domain *>\n  retry-after 1h\n</domain>\n",
                  [](Harness& h) {
                    h.deliverer.reply_for = [](const std::string&) {
                      return MakeReply(451, "4.3.0", "try later");
                    };
                  },
                  1, false},
        StallCase{"watchdog_off", "", ConnectNeverAnswers, 1, false, "0"}),
    [](const ::testing::TestParamInfo<StallCase>& info) { return std::string(info.param.label); });

// Flagged between the threshold and the threshold plus one check interval (60 s here), not
// before.
TEST(StallWatchdogTimingTest, FlaggedAfterTheThresholdNotBefore) {
  auto hung = HungQueue("10m", minutes(9) + seconds(59));
  Harness& h = *hung;
  EXPECT_FALSE(Stalled(h));
  h.RunFor(minutes(1) + seconds(2));
  EXPECT_TRUE(Stalled(h));
}

// A queue that keeps attempting is not stalled, however long its backlog waits: here one
// connection (max-smtp-out 1) whose transactions take 5 minutes each, with more mail always due.
// The same queue with transactions of 11 minutes is.
TEST(StallWatchdogTimingTest, AttemptingQueueIsNotStalled) {
  for (const auto& [every, stalled] : {std::pair{minutes(5), false}, {minutes(11), true}}) {
    Harness h(
        "queue-stall-warning-after 10m\n<domain *>\n  max-smtp-out 1\n"
        "  max-rcpt-per-transaction 1\n</domain>\n");
    h.deliverer.auto_send = false;
    for (int i = 0; i < 20; ++i) h.Inject("news@app.test", {"r" + std::to_string(i) + "@x.test"});
    bool ever = false;
    for (int round = 0; round < 6; ++round) {
      h.RunFor(every);
      ever |= Stalled(h);
      h.deliverer.CompleteSends();
    }
    EXPECT_EQ(ever, stalled) << every.count() << " minutes per transaction";
    EXPECT_GE(h.deliverer.sent.size(), 6u);
  }
}

// One warning and one count per episode; an attempt ends it, and a later stall is a new one.
TEST(StallWatchdogTimingTest, OneCountPerEpisode) {
  auto hung = HungQueue("10m", minutes(45));
  Harness& h = *hung;
  EXPECT_TRUE(Stalled(h));
  EXPECT_EQ(h.manager->Snapshot().totals.stalls, 1u);
  h.deliverer.CompleteConnects();  // the connection opens: the mail goes
  h.RunFor(seconds(10));           // and the idle connection closes (idle timeout 5 s)
  EXPECT_EQ(h.sink.Of(acct::RecordType::kDelivered).size(), 1u);
  EXPECT_FALSE(Stalled(h));
  EXPECT_EQ(h.manager->Snapshot().totals.stalled_queues, 0u);
  h.Inject("news@app.test", {"bob@example.net"});
  h.RunFor(minutes(12));  // a new connection, which hangs
  EXPECT_TRUE(Stalled(h));
  EXPECT_EQ(h.manager->Snapshot().totals.stalls, 2u);
}

// A reload changes the threshold of the queues already stalled and of those to come.
TEST(StallWatchdogTimingTest, ReloadTurnsItOff) {
  auto hung = HungQueue("1m", minutes(2));
  Harness& h = *hung;
  EXPECT_TRUE(Stalled(h));
  h.manager->SetConfig(testing::ParseOrDie("queue-stall-warning-after 0\n"));
  h.RunFor(seconds(1));
  EXPECT_FALSE(Stalled(h));
  EXPECT_EQ(h.manager->Snapshot().totals.stalls, 1u);
}

}  // namespace
}  // namespace outpost::queue
