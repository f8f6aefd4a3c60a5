// SuppressionSink: hard bounces among delivery outcomes go on the suppression list (synced at
// Flush()); everything is forwarded unchanged.
#include "mta/returnpath/suppression_sink.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <vector>

#include "mta/returnpath/suppressing_deliverer.hpp"

namespace outpost::returnpath {
namespace {

using delivery::BounceCategory;
using queue::OutcomeKind;

struct Recorder final : queue::OutcomeSink {
  std::vector<std::string> written;
  int flushes = 0;
  void Write(const queue::Outcome& o) override { written.push_back(o.recipient); }
  void Flush() override { ++flushes; }
};

queue::Outcome Outcome(OutcomeKind kind, BounceCategory category, const std::string& rcpt) {
  queue::Outcome o;
  o.kind = kind;
  o.category = category;
  o.recipient = rcpt;
  return o;
}

TEST(SuppressionSink, HardBouncesAreListedAndSyncedAtFlush) {
  char pattern[] = "/tmp/outpost-suppression-sink-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  SimulatedClock clock;
  suppression::Options options;
  options.path = dir + "/suppression.log";
  std::string error;
  auto list = suppression::SuppressionList::Open(options, clock, nullptr, &error);
  ASSERT_TRUE(list) << error;
  Recorder next;
  SuppressionSink sink(*list, next);
  sink.Write(Outcome(OutcomeKind::kBounced, BounceCategory::kBadMailbox, "Gone@Example.com"));
  sink.Write(Outcome(OutcomeKind::kBounced, BounceCategory::kInactiveMailbox, "old@example.com"));
  sink.Write(Outcome(OutcomeKind::kDomainFailed, BounceCategory::kBadDomain, "a@nx.example"));
  sink.Write(Outcome(OutcomeKind::kBounced, BounceCategory::kQuotaIssues, "full@example.com"));
  sink.Write(Outcome(OutcomeKind::kBounced, BounceCategory::kPolicyRelated, "p@example.com"));
  sink.Write(Outcome(OutcomeKind::kDeferred, BounceCategory::kBadMailbox, "later@example.com"));
  sink.Write(Outcome(OutcomeKind::kDelivered, BounceCategory::kOther, "ok@example.com"));
  EXPECT_EQ(next.written.size(), 7u);  // every outcome forwarded
  EXPECT_TRUE(list->Find("gone@example.com"));
  EXPECT_TRUE(list->Find("old@example.com"));
  EXPECT_TRUE(list->Find("a@nx.example"));
  EXPECT_FALSE(list->Find("full@example.com"));
  EXPECT_FALSE(list->Find("p@example.com"));
  EXPECT_FALSE(list->Find("later@example.com"));
  EXPECT_EQ(list->Find("gone@example.com")->kind, suppression::Kind::kHardBounce);
  EXPECT_EQ(std::filesystem::file_size(options.path), 0u);  // not acknowledged before Flush()
  sink.Flush();
  EXPECT_EQ(next.flushes, 1);
  EXPECT_GT(std::filesystem::file_size(options.path), 0u);
  list.reset();
  auto reopened = suppression::SuppressionList::Open(options, clock, nullptr, &error);
  ASSERT_TRUE(reopened) << error;
  EXPECT_EQ(reopened->GetStats().entries, 3u);
  std::filesystem::remove_all(dir);
}

// A batch loses its suppressed recipients before it goes out; they get 550 5.7.1 in their places.
struct FakeDeliverer final : queue::Deliverer {
  std::vector<std::vector<std::string>> sent;
  void Connect(const queue::ConnectRequest&, std::function<void(queue::ConnectOutcome)>) override {}
  void Send(queue::ConnectionId, queue::BatchRequest batch,
            std::function<void(queue::BatchOutcome)> done) override {
    sent.push_back(batch.recipients);
    queue::BatchOutcome outcome;
    outcome.result.mail_reply.code = 250;
    for (std::size_t i = 0; i < batch.recipients.size(); ++i) {
      outcome.result.rcpt_replies.push_back(
          delivery::Reply{250, "2.1.5", "ok " + batch.recipients[i]});
    }
    outcome.result.data_reply.code = 250;
    done(outcome);
  }
  void Close(queue::ConnectionId, std::function<void()> closed) override { closed(); }
};

TEST(SuppressingDeliverer, SuppressedRecipientsAreNotSent) {
  char pattern[] = "/tmp/outpost-suppressing-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  SimulatedClock clock;
  suppression::Options options;
  options.path = dir + "/suppression.log";
  std::string error;
  auto list = suppression::SuppressionList::Open(options, clock, nullptr, &error);
  ASSERT_TRUE(list) << error;
  list->Add("gone@example.com", suppression::Kind::kComplaint);
  FakeDeliverer inner;
  SuppressingDeliverer deliverer(*list, inner);

  queue::BatchRequest batch;
  batch.recipients = {"a@example.com", "Gone@example.com", "b@example.com"};
  std::optional<queue::BatchOutcome> got;
  deliverer.Send(1, batch, [&](queue::BatchOutcome o) { got = std::move(o); });
  ASSERT_EQ(inner.sent.size(), 1u);
  EXPECT_EQ(inner.sent[0], (std::vector<std::string>{"a@example.com", "b@example.com"}));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->result.OutcomeFor(0).code, 250);
  EXPECT_EQ(got->result.OutcomeFor(1).code, 550);
  EXPECT_EQ(got->result.OutcomeFor(1).enhanced, "5.7.1");
  EXPECT_NE(got->result.OutcomeFor(1).text.find("suppression list (complaint)"), std::string::npos);
  EXPECT_EQ(got->result.rcpt_replies[2].text, "ok b@example.com");

  // Only suppressed recipients: answered at once, nothing sent.
  batch.recipients = {"gone@example.com"};
  got.reset();
  deliverer.Send(1, batch, [&](queue::BatchOutcome o) { got = std::move(o); });
  EXPECT_EQ(inner.sent.size(), 1u);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->result.OutcomeFor(0).code, 550);
  EXPECT_TRUE(got->connection_usable);
  EXPECT_EQ(list->GetStats().suppressed, 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace outpost::returnpath
