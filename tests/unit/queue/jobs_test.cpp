// Jobs: the interning table (retention of finished jobs) and the scheduler's per-job counters,
// pause, resume and delete; and queue age (the oldest waiting recipient), over fakes and a
// simulated clock.
#include "mta/queue/jobs.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "mta/queue/queue_manager.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using acct::Field;
using acct::RecordType;
using std::chrono::seconds;
using testing::Harness;

TEST(JobTableTest, InternsOncePerIdAndEmptyIsNoJob) {
  JobTable t;
  EXPECT_EQ(t.Intern("", 1), JobTable::kNoJob);
  const std::uint32_t a = t.Intern("a", 1);
  EXPECT_NE(a, JobTable::kNoJob);
  EXPECT_EQ(t.Intern("a", 2), a);
  EXPECT_NE(t.Intern("b", 2), a);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.At(a).first_seen_unix, 1);
}

TEST(JobTableTest, FinishedJobsBeyondTheLimitAreForgottenOldestFirst) {
  JobTable t(/*max_finished=*/2);
  for (const char* id : {"a", "b", "c"}) {
    const std::uint32_t j = t.Intern(id, 1);
    t.Accepted(j, 1, 1);
    t.Finished(j, 1, true);
  }
  EXPECT_FALSE(t.Find("a")) << "the oldest finished job is forgotten";
  EXPECT_TRUE(t.Find("b"));
  EXPECT_TRUE(t.Find("c"));
  // A job with mail queued, or paused, is never forgotten.
  const std::uint32_t busy = t.Intern("busy", 1);
  t.Accepted(busy, 5, 1);
  const std::uint32_t held = t.Intern("held", 1);
  t.SetPaused(held, true);
  for (const char* id : {"d", "e", "f"}) {
    const std::uint32_t j = t.Intern(id, 1);
    t.Accepted(j, 1, 1);
    t.Finished(j, 1, true);
  }
  EXPECT_TRUE(t.Find("busy"));
  EXPECT_TRUE(t.Find("held"));
  EXPECT_FALSE(t.Find("b"));
  EXPECT_EQ(t.size(), 4u);  // busy, held, e, f
}

TEST(JobTableTest, ARevivedJobIsNotForgottenByItsOldFinishedEntry) {
  JobTable t(/*max_finished=*/1);
  const std::uint32_t a = t.Intern("a", 1);
  t.Accepted(a, 1, 1);
  t.Finished(a, 1, true);
  t.Accepted(a, 1, 2);  // back with new mail
  const std::uint32_t b = t.Intern("b", 2);
  t.Accepted(b, 1, 2);
  t.Finished(b, 1, true);
  const std::uint32_t c = t.Intern("c", 2);
  t.Accepted(c, 1, 2);
  t.Finished(c, 1, true);
  EXPECT_TRUE(t.Find("a")) << "queued again: kept";
  EXPECT_EQ(t.At(a).recipients, 1u);
  EXPECT_EQ(t.At(a).received, 2u);
}

// ---- the scheduler ----------------------------------------------------------------------------

spool::SpoolId InjectJob(Harness& h, const std::string& job,
                         const std::vector<std::string>& rcpts) {
  spool::SpoolMessage m;
  m.envelope = h.MakeEnvelope("news@app.test", rcpts);
  m.envelope.job_id = job;
  m.data = "Subject: " + job + "\r\n\r\nbody\r\n";
  const spool::Envelope env = m.envelope;
  const std::uint64_t size = m.data.size();
  const spool::SpoolId id = h.spool.Add(std::move(m));
  h.manager->Enqueue(id, env, size);
  return id;
}

const JobStats* Job(const QueueManager& m, const std::string& id) {
  static QueueSnapshot snap;
  snap = m.Snapshot();
  auto it = std::find_if(snap.jobs.begin(), snap.jobs.end(),
                         [&](const JobStats& j) { return j.id == id; });
  return it == snap.jobs.end() ? nullptr : &*it;
}

std::size_t DeliveredTo(const Harness& h, const std::string& rcpt) {
  std::size_t n = 0;
  for (const auto& r : h.sink.Of(RecordType::kDelivered)) n += r[Field::kRcpt] == rcpt;
  return n;
}

TEST(SchedulerJobsTest, CountersFollowTheOutcomes) {
  Harness h("");
  h.deliverer.reply_for = [](const std::string& rcpt) {
    if (rcpt.starts_with("bad")) return testing::MakeReply(550, "5.1.1", "no such user");
    if (rcpt.starts_with("later")) return testing::MakeReply(451, "4.3.0", "try later");
    return testing::MakeReply(250, "2.0.0", "ok");
  };
  InjectJob(h, "spring", {"ann@example.net", "bad@example.net", "later@example.net"});
  InjectJob(h, "spring", {"bob@example.org"});
  h.RunFor(seconds(1));
  const JobStats* j = Job(*h.manager, "spring");
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->received, 4u);
  EXPECT_EQ(j->delivered, 2u);
  EXPECT_EQ(j->bounced, 1u);
  EXPECT_EQ(j->deferred, 1u);
  EXPECT_EQ(j->recipients, 1u) << "the deferred one is still queued";
  EXPECT_EQ(j->messages, 1u);
}

TEST(SchedulerJobsTest, PausedJobWaitsWhileTheOtherIsDeliveredThenResumes) {
  Harness h("");
  EXPECT_EQ(h.manager->PauseJob("b"), 0u) << "a job not seen yet is created paused";
  InjectJob(h, "a", {"a1@example.net"});
  InjectJob(h, "b", {"b1@example.net", "b2@example.org"});
  h.RunFor(seconds(10));
  EXPECT_EQ(DeliveredTo(h, "a1@example.net"), 1u);
  EXPECT_EQ(h.deliverer.RecipientsSent(), 1u) << "nothing of the paused job was attempted";
  const JobStats* b = Job(*h.manager, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->paused);
  EXPECT_EQ(b->recipients, 2u);

  ASSERT_EQ(h.manager->ResumeJob("b"), std::optional<std::uint64_t>(2));
  h.RunFor(seconds(1));
  EXPECT_EQ(DeliveredTo(h, "b1@example.net"), 1u);
  EXPECT_EQ(DeliveredTo(h, "b2@example.org"), 1u);
  EXPECT_EQ(Job(*h.manager, "b")->recipients, 0u);
  EXPECT_FALSE(h.manager->ResumeJob("nope")) << "an unknown job is no match";
}

TEST(SchedulerJobsTest, PausingHoldsQueuedAndDeferredRecipientsOfTheJobOnly) {
  Harness h("");
  bool refuse = true;
  h.deliverer.reply_for = [&](const std::string&) {
    return refuse ? testing::MakeReply(451, "4.3.0", "later")
                  : testing::MakeReply(250, "2.0.0", "ok");
  };
  InjectJob(h, "a", {"a1@example.net"});
  InjectJob(h, "b", {"b1@example.net"});
  h.RunFor(seconds(1));  // both deferred: in the scheduled tier
  EXPECT_EQ(h.manager->PauseJob("b"), 1u);
  refuse = false;
  h.RunFor(std::chrono::hours(2));
  EXPECT_EQ(DeliveredTo(h, "a1@example.net"), 1u);
  EXPECT_EQ(DeliveredTo(h, "b1@example.net"), 0u);
  EXPECT_EQ(h.manager->queued_recipients(), 1u);
  h.manager->ResumeJob("b");
  h.RunFor(seconds(1));
  EXPECT_EQ(DeliveredTo(h, "b1@example.net"), 1u) << "due already: sent at the resume";
}

TEST(SchedulerJobsTest, DeleteByJobBouncesOnlyThatJobWithoutDsn) {
  Harness h("");
  h.manager->PauseJob("a");
  h.manager->PauseJob("b");
  InjectJob(h, "a", {"a1@example.net", "a2@example.org"});
  InjectJob(h, "b", {"b1@example.net"});
  h.RunFor(seconds(1));
  ASSERT_EQ(h.manager->DeleteJob("a"), std::optional<std::uint64_t>(2));
  h.RunFor(seconds(1));
  std::vector<std::string> bounced;
  for (const auto& r : h.sink.Of(RecordType::kBounced)) bounced.push_back(r[Field::kRcpt]);
  std::sort(bounced.begin(), bounced.end());
  EXPECT_EQ(bounced, (std::vector<std::string>{"a1@example.net", "a2@example.org"}));
  EXPECT_EQ(h.spool.done_messages.count("Q1"), 1u) << "the deleted message left the spool";
  EXPECT_EQ(h.manager->queued_recipients(), 1u) << "job b's recipient stays";
  const JobStats* a = Job(*h.manager, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->deleted, 2u);
  EXPECT_EQ(a->recipients, 0u);
  EXPECT_FALSE(h.manager->DeleteJob("nope"));
  h.manager->ResumeJob("b");
  h.RunFor(seconds(1));
  EXPECT_EQ(DeliveredTo(h, "b1@example.net"), 1u);
  EXPECT_EQ(h.sink.Of(RecordType::kBounced).size(), 2u) << "no DSN was sent for the deletion";
}

TEST(SchedulerJobsTest, ADeferralInFlightWhenItsJobIsDeletedIsDeleted) {
  Harness h("");
  h.deliverer.auto_send = false;
  h.deliverer.reply_for = [](const std::string&) { return testing::MakeReply(451, "4.3.0", "x"); };
  InjectJob(h, "a", {"a1@example.net"});
  h.RunFor(seconds(1));
  ASSERT_EQ(h.deliverer.pending_sends.size(), 1u);
  EXPECT_EQ(h.manager->DeleteJob("a"), std::optional<std::uint64_t>(0));
  h.deliverer.CompleteSends();
  h.RunFor(seconds(1));
  ASSERT_EQ(h.sink.Of(RecordType::kBounced).size(), 1u);
  EXPECT_EQ(h.sink.Of(RecordType::kTransient).size(), 0u);
  EXPECT_EQ(h.manager->queued_recipients(), 0u);
}

std::uint64_t AgeOf(const QueueSnapshot& snap, const std::string& queue) {
  for (const QueueStats& q : snap.queues) {
    if (q.name == queue) return q.oldest_age_seconds;
  }
  ADD_FAILURE() << "no queue " << queue;
  return 0;
}

// The oldest waiting recipient's time in queue, per queue and overall; a recipient held by a
// paused job counts, one delivered does not.
TEST(QueueAgeTest, OldestWaitingRecipientPerQueueAndOverall) {
  Harness h("");
  h.deliverer.reply_for = [](const std::string& rcpt) {
    return rcpt.starts_with("later") ? testing::MakeReply(451, "4.3.0", "later")
                                     : testing::MakeReply(250, "2.0.0", "ok");
  };
  EXPECT_EQ(h.manager->Snapshot().totals.oldest_age_seconds, 0u);
  InjectJob(h, "a", {"later@example.net", "now@example.org"});
  h.RunFor(seconds(1));
  h.clock.Advance(std::chrono::minutes(30));
  h.manager->PauseJob("b");
  InjectJob(h, "b", {"held@example.org"});
  h.RunFor(seconds(100));
  const QueueSnapshot snap = h.manager->Snapshot();
  EXPECT_EQ(snap.totals.oldest_age_seconds, 1801u + 100u);
  EXPECT_EQ(AgeOf(snap, "example.net/{default}"), 1901u);
  EXPECT_EQ(AgeOf(snap, "example.org/{default}"), 100u) << "the held recipient";
  h.manager->ResumeJob("b");
  h.RunFor(seconds(1));
  EXPECT_EQ(AgeOf(h.manager->Snapshot(), "example.org/{default}"), 0u) << "delivered";
}

}  // namespace
}  // namespace outpost::queue
