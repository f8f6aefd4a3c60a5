// The suppression list: normalization, persistence across reopen, a torn or damaged log, expiry on
// a simulated clock, the entry bound, and its size and speed at a million entries.
#include "mta/returnpath/suppression_list.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace outpost::suppression {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void AppendFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

class SuppressionListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/outpost-suppression-XXXXXX";
    dir_ = mkdtemp(pattern);
    options_.path = dir_ + "/suppression.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SuppressionList> Open(OpenReport* report = nullptr) {
    std::string error;
    auto list = SuppressionList::Open(options_, clock_, report, &error);
    EXPECT_NE(list, nullptr) << error;
    return list;
  }

  std::string dir_;
  Options options_;
  SimulatedClock clock_;
};

TEST(SuppressionNormalize, LowercasesAndStripsBrackets) {
  EXPECT_EQ(Normalize(" <User@Example.COM> "), "user@example.com");
  EXPECT_EQ(Normalize("a@b"), "a@b");
  EXPECT_FALSE(Normalize(""));
  EXPECT_FALSE(Normalize("no-at-sign"));
  EXPECT_FALSE(Normalize("@example.com"));
  EXPECT_FALSE(Normalize("user@"));
  EXPECT_FALSE(Normalize("a b@example.com"));
  EXPECT_FALSE(Normalize(std::string(250, 'a') + "@example.com"));
}

TEST_F(SuppressionListTest, AddFindRemoveIgnoreCase) {
  auto list = Open();
  EXPECT_EQ(list->Add("Bob@Example.com", Kind::kComplaint), AddResult::kAdded);
  EXPECT_EQ(list->Add("bob@example.com", Kind::kHardBounce), AddResult::kRefreshed);
  EXPECT_EQ(list->Add("not an address", Kind::kManual), AddResult::kInvalid);
  std::optional<Entry> e = list->Find("BOB@EXAMPLE.COM");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address, "bob@example.com");
  EXPECT_EQ(e->kind, Kind::kHardBounce);  // the latest reason
  EXPECT_FALSE(list->Find("alice@example.com"));
  EXPECT_TRUE(list->Remove("bob@example.com"));
  EXPECT_FALSE(list->Remove("bob@example.com"));
  EXPECT_FALSE(list->Find("bob@example.com"));
  EXPECT_EQ(list->GetStats().removed, 1u);
}

TEST_F(SuppressionListTest, ManualEntriesStayManual) {
  auto list = Open();
  list->Add("op@example.com", Kind::kManual);
  list->Add("op@example.com", Kind::kComplaint);
  EXPECT_EQ(list->Find("op@example.com")->kind, Kind::kManual);
}

TEST_F(SuppressionListTest, SyncedChangesSurviveReopen) {
  {
    auto list = Open();
    list->Add("a@example.com", Kind::kComplaint);
    list->Add("b@example.com", Kind::kHardBounce);
    list->Add("c@example.com", Kind::kManual);
    list->Remove("b@example.com");
    ASSERT_TRUE(list->Sync());
  }
  auto list = Open();
  EXPECT_TRUE(list->Find("a@example.com"));
  EXPECT_FALSE(list->Find("b@example.com"));
  EXPECT_EQ(list->Find("c@example.com")->kind, Kind::kManual);
  EXPECT_EQ(list->GetStats().entries, 2u);
}

// What Sync() wrote is on disk before it returns: a second instance reading the file (as after
// kill -9: the first never closes it) sees every synced entry.
TEST_F(SuppressionListTest, SyncWritesBeforeReturning) {
  auto list = Open();
  list->Add("a@example.com", Kind::kComplaint);
  EXPECT_EQ(ReadFile(options_.path), "");  // queued, not yet acknowledged
  ASSERT_TRUE(list->Sync());
  EXPECT_NE(ReadFile(options_.path).find("A complaint "), std::string::npos);
  auto second = Open();
  EXPECT_TRUE(second->Find("a@example.com"));
}

TEST_F(SuppressionListTest, TornLastLineIsDroppedAndCut) {
  {
    auto list = Open();
    list->Add("a@example.com", Kind::kComplaint);
    ASSERT_TRUE(list->Sync());
  }
  AppendFile(options_.path, "A complaint 1735689600 half@exam");  // a write cut short
  OpenReport report;
  auto list = Open(&report);
  EXPECT_TRUE(report.torn_tail);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_TRUE(list->Find("a@example.com"));
  EXPECT_FALSE(list->Find("half@exam"));
  list->Add("b@example.com", Kind::kManual);  // appended after the cut, on a line of its own
  ASSERT_TRUE(list->Sync());
  list.reset();
  auto again = Open();
  EXPECT_TRUE(again->Find("b@example.com"));
  EXPECT_TRUE(again->Find("a@example.com"));
}

TEST_F(SuppressionListTest, DamagedLineIsReportedAndTheFileKept) {
  AppendFile(options_.path,
             "A complaint 1735689600 a@example.com\ngarbage here\nA manual 1735689600 "
             "b@example.com\n");
  OpenReport report;
  auto list = Open(&report);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("suppression.log:2: "), std::string::npos)
      << report.problems[0];
  EXPECT_TRUE(list->Find("a@example.com"));
  EXPECT_TRUE(list->Find("b@example.com"));
  ASSERT_FALSE(report.kept_damaged.empty());
  EXPECT_NE(ReadFile(report.kept_damaged).find("garbage here"), std::string::npos);
  EXPECT_EQ(ReadFile(options_.path).find("garbage"), std::string::npos);  // rewritten clean
}

TEST_F(SuppressionListTest, ExpiryPerKindOnTheClock) {
  options_.expiry.seconds[static_cast<int>(Kind::kHardBounce)] = 24 * 3600;
  options_.expiry.seconds[static_cast<int>(Kind::kComplaint)] = 0;  // never
  options_.expiry.seconds[static_cast<int>(Kind::kManual)] = 48 * 3600;
  auto list = Open();
  list->Add("bounced@example.com", Kind::kHardBounce);
  list->Add("complained@example.com", Kind::kComplaint);
  list->Add("manual@example.com", Kind::kManual);
  EXPECT_EQ(list->Find("bounced@example.com")->expires, clock_.Now().unix_seconds() + 24 * 3600);
  EXPECT_EQ(list->Find("complained@example.com")->expires, 0);
  clock_.Advance(hours(24));
  EXPECT_FALSE(list->Find("bounced@example.com"));
  EXPECT_TRUE(list->Find("manual@example.com"));
  clock_.Advance(hours(24));
  EXPECT_FALSE(list->Find("manual@example.com"));
  EXPECT_TRUE(list->Find("complained@example.com"));
  EXPECT_EQ(list->List(0, 10).size(), 1u);
  EXPECT_EQ(list->Purge(), 2u);
  EXPECT_EQ(list->GetStats().entries, 1u);
  ASSERT_TRUE(list->Sync());
  list.reset();
  OpenReport report;
  auto again = Open(&report);
  EXPECT_EQ(report.entries, 1u);
}

TEST_F(SuppressionListTest, ChangedExpiryAppliesToEveryEntry) {
  auto list = Open();
  list->Add("a@example.com", Kind::kComplaint);
  clock_.Advance(hours(10));
  Expiry expiry;
  expiry.seconds[static_cast<int>(Kind::kComplaint)] = 3600;
  list->SetLimits(100, expiry);
  EXPECT_FALSE(list->Find("a@example.com"));
}

TEST_F(SuppressionListTest, BoundRefusesNewAddressesAndCountsThem) {
  options_.max_entries = 2;
  auto list = Open();
  EXPECT_EQ(list->Add("a@example.com", Kind::kComplaint), AddResult::kAdded);
  EXPECT_EQ(list->Add("b@example.com", Kind::kComplaint), AddResult::kAdded);
  EXPECT_EQ(list->Add("c@example.com", Kind::kComplaint), AddResult::kFull);
  EXPECT_EQ(list->Add("a@example.com", Kind::kHardBounce), AddResult::kRefreshed);
  EXPECT_FALSE(list->Find("c@example.com"));
  EXPECT_EQ(list->GetStats().refused_full, 1u);
  list->Remove("b@example.com");
  EXPECT_EQ(list->Add("c@example.com", Kind::kComplaint), AddResult::kAdded);
}

TEST_F(SuppressionListTest, ListPagesThroughEveryEntryOnce) {
  auto list = Open();
  for (int i = 0; i < 250; ++i)
    list->Add("user" + std::to_string(i) + "@example.com", Kind::kManual);
  std::set<std::string> seen;
  for (std::size_t offset = 0;; offset += 100) {
    std::vector<Entry> page = list->List(offset, 100);
    for (const Entry& e : page) seen.insert(e.address);
    if (page.size() < 100) break;
  }
  EXPECT_EQ(seen.size(), 250u);
}

TEST_F(SuppressionListTest, LogIsCompactedAtOpen) {
  {
    auto list = Open();
    for (int i = 0; i < 3000; ++i) {
      list->Add("churn@example.com", Kind::kManual);
      list->Remove("churn@example.com");
    }
    list->Add("kept@example.com", Kind::kComplaint);
    ASSERT_TRUE(list->Sync());
  }
  OpenReport report;
  auto list = Open(&report);
  EXPECT_TRUE(report.compacted);
  EXPECT_EQ(ReadFile(options_.path), "A complaint 1735689600 kept@example.com\n");
}

// A million realistic addresses: bytes of memory per entry (table + arena) and lookup speed. The
// figures are printed for docs/powermta.md.
TEST_F(SuppressionListTest, MillionEntriesSizeAndSpeed) {
  constexpr int kCount = 1'000'000;
  auto list = Open();
  for (int i = 0; i < kCount; ++i) {
    list->Add("subscriber." + std::to_string(i) + "@mail" + std::to_string(i % 1000) + ".example",
              Kind::kHardBounce);
  }
  const Stats stats = list->GetStats();
  ASSERT_EQ(stats.entries, static_cast<std::uint64_t>(kCount));
  const double per_entry = static_cast<double>(stats.memory_bytes) / kCount;
  const auto start = std::chrono::steady_clock::now();
  int hits = 0;
  for (int i = 0; i < kCount; ++i) {
    hits += list->Find("Subscriber." + std::to_string(i) + "@mail" + std::to_string(i % 1000) +
                       ".example")
                .has_value();
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      kCount;
  std::printf("suppression list: %d entries, %.1f bytes per entry, %.0f ns per lookup\n", kCount,
              per_entry, ns);
  EXPECT_EQ(hits, kCount);
  EXPECT_LT(per_entry, 80.0);
  ASSERT_TRUE(list->Sync());
  list.reset();
  auto again = Open();
  EXPECT_EQ(again->GetStats().entries, static_cast<std::uint64_t>(kCount));
}

}  // namespace
}  // namespace outpost::suppression
