// Completion: the commit order (write -> flush -> durable -> mark done) and held marks while the
// sink is not durable.
#include "mta/queue/completion.hpp"

#include <gtest/gtest.h>

#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using testing::CallLog;
using testing::FakeSink;
using testing::FakeSpool;

spool::SpoolId AddMessage(FakeSpool& spool, const std::string& id) {
  spool::SpoolMessage m;
  m.envelope.id = id;
  m.envelope.recipients = {"a@x.test", "b@x.test"};
  m.data = "Subject: t\r\n\r\nbody\r\n";
  return spool.Add(std::move(m));
}

Outcome Delivered(const std::string& rcpt) {
  Outcome o;
  o.kind = OutcomeKind::kDelivered;
  o.recipient = rcpt;
  o.category = delivery::BounceCategory::kSuccess;
  return o;
}

TEST(Completion, WritesFlushesThenMarks) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock);
  const spool::SpoolId id = AddMessage(spool, "M1");
  log.events.clear();
  completion.Write(Delivered("a@x.test"));
  completion.Flush();
  const Completion::Marks marks = completion.Begin("x.test/v");
  EXPECT_EQ(marks, Completion::Marks::kApply);
  completion.Mark(marks, id, 0);
  completion.Mark(marks, id, Completion::kWholeMessage);
  EXPECT_EQ(log.events, (std::vector<std::string>{"write:d:a@x.test", "flush", "done-rcpt:M1:0",
                                                  "done-msg:M1"}));
  EXPECT_EQ(completion.held(), 0u);
  EXPECT_FALSE(completion.NextCheck().has_value());
}

TEST(Completion, HoldsMarksUntilTheSinkIsDurable) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock);
  const spool::SpoolId id = AddMessage(spool, "M1");
  log.events.clear();
  sink.durable = false;
  completion.Write(Delivered("a@x.test"));
  completion.Flush();
  const Completion::Marks marks = completion.Begin("x.test/v");
  EXPECT_EQ(marks, Completion::Marks::kHold);
  completion.Mark(marks, id, Completion::kWholeMessage);
  EXPECT_EQ(completion.held(), 1u);
  ASSERT_TRUE(completion.NextCheck().has_value());
  completion.ReleaseHeld();  // not due yet: nothing happens
  EXPECT_EQ(log.events, (std::vector<std::string>{"write:d:a@x.test", "flush"}));
  clock.Advance(std::chrono::seconds(1));
  completion.ReleaseHeld();  // due, still not durable: flushed again, still held
  EXPECT_EQ(completion.held(), 1u);
  sink.durable = true;
  clock.Advance(std::chrono::seconds(1));
  completion.ReleaseHeld();
  EXPECT_EQ(log.events, (std::vector<std::string>{"write:d:a@x.test", "flush", "flush", "flush",
                                                  "done-msg:M1"}));
  EXPECT_EQ(completion.held(), 0u);
}

}  // namespace
}  // namespace outpost::queue
