// The scheduler's invariant checks (common/invariant.hpp): an impossible state is counted and
// logged, aborts in checking builds, and takes its recovery path in release builds.
#include <gtest/gtest.h>

#include "common/invariant.hpp"
#include "mta/queue/queue_manager.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using acct::Field;
using acct::RecordType;
using std::chrono::seconds;
using testing::Harness;

// The scheduler was told of two recipients, the spool's envelope has one: index 1 is out of
// range. Before the check, the transaction said `RCPT TO:<>` for it and wrote a record with an
// empty rcpt.
void EnqueueWithAMissingRecipient(Harness& h) {
  spool::SpoolMessage m;
  m.envelope = h.MakeEnvelope("news@app.test", {"a@example.net"});
  m.data = "Subject: t\r\n\r\nbody\r\n";
  spool::Envelope told = m.envelope;
  told.recipients.push_back("b@example.net");
  const std::uint64_t size = m.data.size();
  const spool::SpoolId id = h.spool.Add(std::move(m));
  h.manager->Enqueue(id, told, size);
}

#ifdef OUTPOST_INVARIANTS_ABORT
TEST(QueueInvariantDeathTest, RecipientIndexOutOfRangeAborts) {
  Harness h("");
  EnqueueWithAMissingRecipient(h);
  EXPECT_DEATH(h.RunFor(seconds(1)), "a recipient index is in its envelope");
}
#else
TEST(QueueInvariantTest, RecipientIndexOutOfRangeIsCountedAndNeverSent) {
  Harness h("");
  const std::uint64_t before = InvariantViolations();
  EnqueueWithAMissingRecipient(h);
  h.RunFor(seconds(1));
  EXPECT_EQ(InvariantViolations(), before + 1);
  ASSERT_EQ(h.deliverer.sent.size(), 1u);
  EXPECT_EQ(h.deliverer.sent[0].batch.recipients, std::vector<std::string>{"a@example.net"});
  ASSERT_EQ(h.sink.records.size(), 1u);
  EXPECT_EQ(h.sink.records[0][Field::kRcpt], "a@example.net");
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), 1u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
  EXPECT_EQ(h.manager->Snapshot().totals.messages, 0u);
}
#endif

}  // namespace
}  // namespace outpost::queue
