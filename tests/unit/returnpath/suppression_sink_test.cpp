// SuppressionSink: hard bounces among delivery outcomes go on the suppression list (synced at
// Flush()); everything is forwarded unchanged.
#include "mta/returnpath/suppression_sink.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <vector>

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

}  // namespace
}  // namespace outpost::returnpath
