// Completion: the commit order (write -> flush -> durable -> mark done), held marks while the
// sink is not durable, and the DSN commit between the flush and the marks of failed recipients.
#include "mta/queue/completion.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <vector>

#include "common/invariant.hpp"
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

Outcome Refused(const std::string& rcpt) {
  Outcome o;
  o.kind = OutcomeKind::kBounced;
  o.recipient = rcpt;
  o.reply = testing::MakeReply(550, "5.1.1", "no such user");
  o.category = delivery::BounceCategory::kBadMailbox;
  return o;
}

// The whole commit of recipients that failed for good, as the scheduler runs it: b record ->
// flush -> DSN committed -> (posted back) -> marks. The DSN says what the reply said.
TEST(Completion, FailedRecipientsAreMarkedOnlyAfterTheirDsnIsCommitted) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock, "mta.outpost.test");
  std::vector<std::function<void()>> posted;
  completion.SetPoster([&](std::function<void()> task) { posted.push_back(std::move(task)); });
  const spool::SpoolId id = AddMessage(spool, "M1");
  spool::Envelope env;
  ASSERT_TRUE(spool.ReadEnvelope(id, env));
  env.mail_from = "news@app.test";
  log.events.clear();

  const delivery::Reply reply = testing::MakeReply(550, "5.1.1", "no such user");
  completion.Write(Refused("a@x.test"));
  completion.Flush();
  std::vector<FailedRecipient> failed{
      FailedRecipient{0, RefusedReport("a@x.test", reply, "mx.x.test (192.0.2.1)")}};
  std::optional<DsnCommitResult> result;
  completion.CommitDsn("x.test/v", id, env, std::move(failed), 1'700'000'000,
                       [&](const DsnCommitResult& r) {
                         result = r;
                         const Completion::Marks marks = completion.Begin("x.test/v");
                         completion.Mark(marks, id, Completion::kWholeMessage);
                       });
  EXPECT_FALSE(result.has_value());  // the spool's answer comes back through the poster
  ASSERT_EQ(posted.size(), 1u);
  posted[0]();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, DsnCommit::kCommitted);
  ASSERT_EQ(spool.committed.size(), 1u);
  EXPECT_EQ(result->id.offset, spool.committed[0].offset);
  const spool::SpoolMessage& dsn = spool.Get(spool.committed[0]);
  EXPECT_EQ(result->envelope.id, dsn.envelope.id);
  EXPECT_EQ(result->size, dsn.data.size());
  EXPECT_EQ(dsn.envelope.mail_from, "");
  EXPECT_EQ(dsn.envelope.recipients, std::vector<std::string>{"news@app.test"});
  EXPECT_EQ(dsn.envelope.source_helo, "mta.outpost.test");
  EXPECT_NE(dsn.data.find("Reporting-MTA: dns; mta.outpost.test"), std::string::npos);
  EXPECT_NE(dsn.data.find("Final-Recipient: rfc822; a@x.test"), std::string::npos);
  EXPECT_NE(dsn.data.find("Status: 5.1.1"), std::string::npos);
  EXPECT_NE(dsn.data.find("Diagnostic-Code: smtp; 550 5.1.1 no such user"), std::string::npos);
  EXPECT_NE(dsn.data.find("Remote-MTA: dns; mx.x.test\r\n"), std::string::npos);
  EXPECT_NE(dsn.data.find("Subject: t"), std::string::npos);  // the original's headers
  EXPECT_EQ(log.events, (std::vector<std::string>{"write:b:a@x.test", "flush",
                                                  "commit:" + dsn.envelope.id, "done-msg:M1"}));
}

TEST(Completion, NoDsnForTheNullSenderAndAFailedCommitReportsIt) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock);
  const spool::SpoolId id = AddMessage(spool, "M1");
  spool::Envelope env;
  ASSERT_TRUE(spool.ReadEnvelope(id, env));
  std::vector<DsnCommit> seen;
  auto record = [&](const DsnCommitResult& r) { seen.push_back(r.status); };
  env.mail_from = "";  // a DSN itself, say: never bounced again
  completion.CommitDsn("x.test/v", id, env, {FailedRecipient{0, {}}}, 0, record);
  env.mail_from = "news@app.test";
  spool.fail_commits = true;
  completion.CommitDsn("x.test/v", id, env, {FailedRecipient{0, {}}}, 0, record);
  EXPECT_EQ(seen, (std::vector<DsnCommit>{DsnCommit::kNotNeeded, DsnCommit::kFailed}));
  EXPECT_TRUE(spool.committed.empty());
}

TEST(Completion, DsnReportsSayWhatHappened) {
  const delivery::DsnRecipient expired = ExpiredReport(
      "a@x.test",
      DeferralOf(testing::MakeReply(451, "4.2.0", "greylisted"), "mx.x.test (192.0.2.1)"), "3d");
  EXPECT_EQ(expired.status, "5.4.7");
  EXPECT_EQ(expired.diagnostic, "smtp; 451 4.2.0 greylisted");
  EXPECT_EQ(expired.remote_mta, "mx.x.test");
  EXPECT_EQ(expired.expired_after, "3d");
  const LastDeferral lost = DeferralOf(testing::MakeReply(0, "", "timeout"), "");
  EXPECT_EQ(lost.diagnostic, "X-Outpost; connection lost: timeout");
  EXPECT_EQ(ConnectFailureOf("connect to 192.0.2.1:25: refused", "").diagnostic,
            "X-Outpost; connect to 192.0.2.1:25: refused");
  const delivery::DsnRecipient domain = DomainFailedReport("a@gone.test", "gone.test: NXDOMAIN");
  EXPECT_EQ(domain.status, "5.1.2");
  EXPECT_EQ(domain.diagnostic, "X-Outpost; gone.test: NXDOMAIN");
  EXPECT_EQ(RefusedReport("a@x.test", testing::MakeReply(550, "", "no"), "").status, "5.0.0");
}

// A recipient's outcome without its recipient: an impossible state, counted; the record is kept.
#ifdef OUTPOST_INVARIANTS_ABORT
TEST(CompletionDeathTest, OutcomeWithoutRecipientAborts) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock);
  EXPECT_DEATH(completion.Write(Delivered("")), "outcome names the recipient");
}
#else
TEST(Completion, OutcomeWithoutRecipientIsCountedAndStillWritten) {
  CallLog log;
  FakeSpool spool(&log);
  FakeSink sink(&log);
  SimulatedClock clock;
  Completion completion(sink, spool, clock);
  const std::uint64_t before = InvariantViolations();
  completion.Write(Delivered(""));
  EXPECT_EQ(InvariantViolations(), before + 1);
  EXPECT_EQ(sink.outcomes.size(), 1u);
  Outcome failure;
  failure.kind = OutcomeKind::kConnectionFailed;  // a queue's failure names no recipient
  completion.Write(failure);
  EXPECT_EQ(InvariantViolations(), before + 1);
}
#endif

}  // namespace
}  // namespace outpost::queue
