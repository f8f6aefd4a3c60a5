// Accounting feeds (mta/acct/acct_feed.hpp): batching, backoff, rotation and restarts, driven by a
// simulated clock against a real AccountingWriter in a temporary directory.
#include "mta/acct/acct_feed.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "mta/acct/accounting_writer.hpp"
#include "mta/acct/feed_sinks.hpp"

namespace outpost::acct {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Records every batch it accepts; fails while `fail` > 0 (counting down).
class FakeSink final : public FeedSink {
 public:
  bool Send(const Batch& batch, std::string* error) override {
    calls++;
    if (fail > 0) {
      fail--;
      *error = "HTTP status 500";
      return false;
    }
    for (const auto& r : batch.records) rcpts.push_back(r[4]);  // the default header's rcpt
    batches++;
    return true;
  }
  int fail = 0;
  int calls = 0;
  int batches = 0;
  std::vector<std::string> rcpts;
};

class AcctFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("acct_feed_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_.path = (dir_ / "acct.csv").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void OpenWriter() {
    std::string error;
    writer_ = AccountingWriter::Open(file_, &error);
    ASSERT_TRUE(writer_) << error;
  }
  void Write(int from, int to) {
    for (int i = from; i < to; ++i) {
      Record r;
      r.type = RecordType::kDelivered;
      r[Field::kRcpt] = "rcpt" + std::to_string(i) + "@example.net";
      writer_->Write(r);
    }
    writer_->Flush();
  }
  std::unique_ptr<AcctFeed> MakeFeed(FakeSink** sink, FeedOptions options = {}) {
    auto owned = std::make_unique<FakeSink>();
    *sink = owned.get();
    options.name = "test feed";
    options.position_path = (dir_ / "feed.position").string();
    auto feed = std::make_unique<AcctFeed>(file_, options, std::move(owned), clock_);
    std::string error;
    EXPECT_TRUE(feed->Start(&error)) << error;
    return feed;
  }
  // Runs the feed, moving the clock by each wait it asks for, until it idles with nothing unsent.
  void Drain(AcctFeed& feed, int steps = 100) {
    for (int i = 0; i < steps; ++i) {
      auto wait = feed.RunOnce();
      if (wait == FeedOptions{}.idle_poll && feed.Stats().bytes_behind == 0) return;
      clock_.Advance(wait);
    }
  }
  static std::vector<std::string> Rcpts(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back("rcpt" + std::to_string(i) + "@example.net");
    return out;
  }

  fs::path dir_;
  config::AcctFile file_;
  std::unique_ptr<AccountingWriter> writer_;
  SimulatedClock clock_;
};

TEST_F(AcctFeedTest, WaitsForTheBatchIntervalThenSendsInOrder) {
  OpenWriter();
  Write(0, 3);
  FakeSink* sink = nullptr;
  auto feed = MakeFeed(&sink);
  auto wait = feed->RunOnce();
  EXPECT_EQ(sink->calls, 0) << "records younger than the batch interval wait";
  EXPECT_LE(wait, milliseconds(200));
  clock_.Advance(seconds(1));
  feed->RunOnce();
  EXPECT_EQ(sink->batches, 1);
  EXPECT_EQ(sink->rcpts, Rcpts(0, 3));
  EXPECT_TRUE(fs::exists(dir_ / "feed.position"));
}

TEST_F(AcctFeedTest, AFullBatchGoesAtOnce) {
  OpenWriter();
  Write(0, 20);
  FakeSink* sink = nullptr;
  FeedOptions options;
  options.batch_bytes = 200;  // a few records
  auto feed = MakeFeed(&sink, options);
  feed->RunOnce();
  ASSERT_EQ(sink->batches, 1) << "a full batch is not held for the interval";
  EXPECT_GT(sink->rcpts.size(), 0u);
  EXPECT_LT(sink->rcpts.size(), 20u);
  Drain(*feed);
  EXPECT_EQ(sink->rcpts, Rcpts(0, 20));
}

TEST_F(AcctFeedTest, RetriesWithDoublingCappedBackoffAndLosesNothing) {
  OpenWriter();
  Write(0, 5);
  FakeSink* sink = nullptr;
  FeedOptions options;
  options.max_backoff = seconds(5);
  auto feed = MakeFeed(&sink, options);
  sink->fail = 5;
  feed->RunOnce();  // sees the records
  clock_.Advance(seconds(1));
  std::vector<std::chrono::nanoseconds> waits;
  for (int i = 0; i < 5; ++i) {
    waits.push_back(feed->RunOnce());
    EXPECT_EQ(feed->RunOnce(), waits.back()) << "no retry before the backoff ends";
    EXPECT_EQ(sink->calls, i + 1);
    clock_.Advance(waits.back());
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::nanoseconds>{seconds(1), seconds(2), seconds(4),
                                                          seconds(5), seconds(5)}));
  EXPECT_TRUE(feed->Stats().failing);
  EXPECT_EQ(feed->Stats().failures, 5u);
  feed->RunOnce();
  EXPECT_EQ(sink->rcpts, Rcpts(0, 5));
  EXPECT_FALSE(feed->Stats().failing);
}

TEST_F(AcctFeedTest, ARestartResumesAtThePositionWithoutResending) {
  OpenWriter();
  Write(0, 4);
  FakeSink* sink = nullptr;
  auto feed = MakeFeed(&sink);
  Drain(*feed);
  ASSERT_EQ(sink->rcpts, Rcpts(0, 4));
  feed.reset();
  Write(4, 7);
  auto again = MakeFeed(&sink);
  Drain(*again);
  EXPECT_EQ(sink->rcpts, Rcpts(4, 7));
}

TEST_F(AcctFeedTest, FinishesRotatedFilesInOrderAcrossARestart) {
  file_.max_size = 400;  // a few records per file
  OpenWriter();
  Write(0, 3);
  FakeSink* sink = nullptr;
  auto feed = MakeFeed(&sink);
  Drain(*feed);
  feed.reset();  // down while the file rotates several times
  Write(3, 40);
  ASSERT_GE(RotatedFiles(file_).size(), 3u);
  auto again = MakeFeed(&sink);
  Drain(*again, 400);
  EXPECT_EQ(sink->rcpts, Rcpts(3, 40));
  EXPECT_EQ(again->Stats().bytes_behind, 0u);
}

TEST_F(AcctFeedTest, DeleteConsumedRemovesOnlyFinishedRotatedFiles) {
  file_.max_size = 400;
  OpenWriter();
  Write(0, 30);
  const std::size_t rotated = RotatedFiles(file_).size();
  ASSERT_GE(rotated, 3u);
  FakeSink* sink = nullptr;
  FeedOptions options;
  options.delete_consumed = true;
  auto feed = MakeFeed(&sink, options);
  sink->fail = 1000;
  feed->RunOnce();  // the first file ends: sent (and failed) at once
  EXPECT_EQ(sink->calls, 1);
  EXPECT_EQ(RotatedFiles(file_).size(), rotated) << "nothing is deleted before it is sent";
  sink->fail = 0;
  clock_.Advance(seconds(60));
  Drain(*feed, 400);
  EXPECT_EQ(sink->rcpts, Rcpts(0, 30));
  EXPECT_TRUE(RotatedFiles(file_).empty());
  EXPECT_TRUE(fs::exists(file_.path));
}

TEST_F(AcctFeedTest, ReportsLagWhileTheConsumerFails) {
  OpenWriter();
  Write(0, 10);
  FakeSink* sink = nullptr;
  auto feed = MakeFeed(&sink);
  sink->fail = 1000;
  clock_.Advance(seconds(1));
  feed->RunOnce();
  clock_.Advance(seconds(30));
  feed->RunOnce();
  const FeedStats s = feed->Stats();
  EXPECT_EQ(s.records_behind, 10u);
  EXPECT_GT(s.bytes_behind, 0u);
  EXPECT_EQ(s.oldest_unsent_seconds, 30);
}

TEST(BatchJsonTest, OneObjectPerRecordKeyedByTheHeader) {
  Batch batch;
  batch.header = {"type", "timeLogged", "rcpt"};
  batch.records = {{"d", "2026-12-05 10:00:00+0000", "a@example.net"}, {"b", "x"}};
  const auto json = nlohmann::json::parse(BatchJson(batch));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["rcpt"], "a@example.net");
  EXPECT_EQ(json[0]["type"], "d");
  EXPECT_EQ(json[1]["timeLogged"], "x");
  EXPECT_FALSE(json[1].contains("rcpt"));
}

}  // namespace
}  // namespace outpost::acct
