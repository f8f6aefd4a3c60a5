#include "mta/mgmt/bus_accounting_sink.hpp"

#include <gtest/gtest.h>

namespace outpost::mgmt {
namespace {

class RecordingSink : public queue::AccountingSink {
 public:
  void Write(const acct::Record& record) override { written.push_back(record); }
  void Flush() override { ++flushes; }
  std::vector<acct::Record> written;
  int flushes = 0;
};

acct::Record Rec(acct::RecordType type, const std::string& rcpt, const std::string& queue,
                 const std::string& size = "1000", const std::string& orig = "a@x.test") {
  acct::Record r;
  r.type = type;
  r[acct::Field::kRcpt] = rcpt;
  r[acct::Field::kQueue] = queue;
  r[acct::Field::kDlvSize] = size;
  r[acct::Field::kOrig] = orig;
  r[acct::Field::kTimeQueued] = "2025-01-01 00:00:00+0000";
  auto slash = queue.rfind('/');
  if (slash != std::string::npos) r[acct::Field::kVmta] = queue.substr(slash + 1);
  return r;
}

TEST(BusAccountingSink, CountsAndForwards) {
  using acct::RecordType;
  bus::FakeTimeSource time;
  bus::Registry registry(time);
  RecordingSink next;
  BusAccountingSink sink(registry, next);
  // One transaction of 2 recipients (one message), then a deferral, a bounce and a tq.
  sink.Write(Rec(RecordType::kDelivered, "u1@gmail.com", "gmail.com/vmta1"));
  sink.Write(Rec(RecordType::kDelivered, "u2@googlemail.com", "gmail.com/vmta1"));
  sink.Flush();
  sink.Write(Rec(RecordType::kDelivered, "u3@gmail.com", "gmail.com/vmta1"));
  sink.Write(Rec(RecordType::kTransient, "u4@yahoo.com", "yahoo.com/vmta2"));
  sink.Write(Rec(RecordType::kBounced, "u5@yahoo.com", ""));
  sink.Write(Rec(RecordType::kTransientQueue, "", "hotmail.com/vmta1"));
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
