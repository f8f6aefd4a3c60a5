#include "mta/mgmt/bus_accounting_sink.hpp"

#include <gtest/gtest.h>

namespace outpost::mgmt {
namespace {

class RecordingSink : public queue::OutcomeSink {
 public:
  void Write(const queue::Outcome& outcome) override { written.push_back(outcome); }
  void Flush() override { ++flushes; }
  std::vector<queue::Outcome> written;
  int flushes = 0;
};

// One recipient's outcome of message (spool entry) `message`.
queue::Outcome Rec(queue::OutcomeKind kind, const std::string& rcpt, const std::string& queue,
                   std::uint64_t size = 1000, std::uint64_t message = 1) {
  queue::Outcome o;
  o.kind = kind;
  o.recipient = rcpt;
  o.queue = queue;
  o.size = size;
  o.mail_from = "a@x.test";
  o.spool_id.offset = message;
  auto slash = queue.rfind('/');
  if (slash != std::string::npos) o.vmta = queue.substr(slash + 1);
  return o;
}

TEST(BusAccountingSink, CountsAndForwards) {
  using RecordType = queue::OutcomeKind;
  SimulatedClock time;
  bus::Registry registry(time);
  RecordingSink next;
  BusAccountingSink sink(registry, next);
  // One transaction of 2 recipients (one message), then a deferral, a bounce and a tq.
  sink.Write(Rec(RecordType::kDelivered, "u1@gmail.com", "gmail.com/vmta1"));
  sink.Write(Rec(RecordType::kDelivered, "u2@googlemail.com", "gmail.com/vmta1"));
  sink.Flush();
  sink.Write(Rec(RecordType::kDelivered, "u3@gmail.com", "gmail.com/vmta1"));
  sink.Write(Rec(RecordType::kDeferred, "u4@yahoo.com", "yahoo.com/vmta2"));
  sink.Write(Rec(RecordType::kBounced, "u5@yahoo.com", ""));
  sink.Write(Rec(RecordType::kConnectionFailed, "", "hotmail.com/vmta1"));
  sink.Flush();

  EXPECT_EQ(next.written.size(), 6u) << "every record is forwarded";
  EXPECT_EQ(next.flushes, 2);
  bus::BusSnapshot s = registry.Snapshot();
  EXPECT_EQ(s.Value("domain_delivered_total", "gmail.com"), 3) << "queue domain, not rcpt";
  EXPECT_EQ(s.Value("domain_deferred_total", "yahoo.com"), 1);
  EXPECT_EQ(s.Value("domain_bounced_total", "yahoo.com"), 1) << "rcpt domain without a queue";
  EXPECT_EQ(s.Value("domain_queue_failures_total", "hotmail.com"), 1);
  EXPECT_EQ(s.Value("vmta_delivered_total", "vmta1"), 3);
  EXPECT_EQ(s.Value("vmta_deferred_total", "vmta2"), 1);
  EXPECT_EQ(s.Value("traffic_out_recipients_total"), 3);
  EXPECT_EQ(s.Value("traffic_out_messages_total"), 2) << "one per transaction";
  EXPECT_EQ(s.Value("traffic_out_bytes_total"), 2000);
  EXPECT_EQ(s.Windows("domain_delivered_total", "gmail.com").last_1m, 3);
}

}  // namespace
}  // namespace outpost::mgmt
