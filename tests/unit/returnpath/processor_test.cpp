// The processor against a real spool and a real accounting file: reports become rb / f records,
// unmatched ones are kept, the rest of a message goes to delivery.
#include "mta/returnpath/processor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

namespace outpost::returnpath {
namespace {

namespace fs = std::filesystem;

std::string Sample(const std::string& name) {
  std::ifstream in(OUTPOST_SOURCE_DIR "/tests/data/returnpath/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits (without sleeping) until `done` holds, at most 20 s.
template <typename Pred>
bool WaitFor(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/outpost-returnpath-XXXXXX";
    dir_ = mkdtemp(pattern);
    auto c = std::make_shared<config::Config>();
    c->relay_domains = {"bounce.sender.example", "fbl.sender.example"};
    c->bounce_processor.emplace();
    c->bounce_processor->address_list.domains = {"bounce.sender.example"};
    c->feedback_loop_processor.emplace();
    c->feedback_loop_processor->address_list.addresses = {"fbl@fbl.sender.example"};
    config_ = c;
    spool::SpoolOptions options;
    options.dir = dir_ + "/spool";
    options.min_free_bytes = 0;
    std::string error;
    spool_ = spool::Spool::Open(options, &error);
    ASSERT_TRUE(spool_) << error;
    spool_->Recover([](spool::RecoveredMessage&&) {});
    spool_->Start();
    config::AcctFile file;
    file.path = dir_ + "/acct.csv";
    accounting_ = acct::AccountingLog::Open({file}, &error);
    ASSERT_TRUE(accounting_) << error;
  }

  void TearDown() override {
    processor_.reset();
    spool_->Stop();
    fs::remove_all(dir_);
  }

  void Start(std::shared_ptr<const config::Config> config, Processor::Hooks hooks = {}) {
    hooks.post = [](std::function<void()> f) { f(); };
    hooks.deliver = [this](spool::RecoveredMessage&& m) { delivered_.set_value(std::move(m)); };
    hooks.now = [] { return std::int64_t{1764000000}; };
    processor_ = std::make_unique<Processor>(config, *spool_, *accounting_, dir_ + "/kept",
                                             std::move(hooks));
  }

  spool::SpoolId Commit(const std::vector<std::string>& recipients, const std::string& data) {
    spool::SpoolMessage m;
    m.envelope.id = "Q" + std::to_string(++ids_);
    m.envelope.recipients = recipients;
    m.envelope.source_ip = "192.0.2.7";
    m.envelope.source_helo = "mx.isp.example";
    m.data = data;
    envelope_ = m.envelope;
    std::promise<spool::SpoolId> committed;
    spool_->Commit(std::move(m), [&](spool::CommitStatus status, spool::SpoolId id) {
      EXPECT_EQ(status, spool::CommitStatus::kOk);
      committed.set_value(id);
    });
    return committed.get_future().get();
  }

  std::string Accounting() {
    accounting_->Flush();
    return ReadFile(dir_ + "/acct.csv");
  }

  std::string dir_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<acct::AccountingLog> accounting_;
  std::unique_ptr<Processor> processor_;
  std::promise<spool::RecoveredMessage> delivered_;
  spool::Envelope envelope_;
  int ids_ = 0;
};

TEST_F(ProcessorTest, RoutesByAddressList) {
  EXPECT_EQ(RouteOf(*config_, "x@Bounce.Sender.Example"), Route::kBounce);
  EXPECT_EQ(RouteOf(*config_, "fbl@fbl.sender.example"), Route::kFeedback);
  EXPECT_EQ(RouteOf(*config_, "other@fbl.sender.example"), Route::kNone);
  EXPECT_EQ(RouteOf(config::Config{}, "x@bounce.sender.example"), Route::kNone);
}

TEST_F(ProcessorTest, MailForNoProcessorIsNotTaken) {
  Start(config_);
  const spool::SpoolId id = Commit({"ann@example.com"}, "Subject: hi\r\n\r\nhi\r\n");
  EXPECT_FALSE(processor_->Take(id, envelope_, 10));
}

TEST_F(ProcessorTest, BounceBecomesAnRbRecordAndLeavesTheSpool) {
  Start(config_);
  const spool::SpoolId id =
      Commit({"bounces+ann=receiver.example@bounce.sender.example"}, Sample("postfix-dsn.eml"));
  ASSERT_TRUE(processor_->Take(id, envelope_, 100));
  ASSERT_TRUE(WaitFor([&] { return processor_->Stats().understood[0] == 1; }));
  ASSERT_TRUE(WaitFor([&] { return spool_->Stats().entries == 0; }));
  const std::string csv = Accounting();
  EXPECT_NE(csv.find("rb,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",ann@receiver.example,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",bad-mailbox,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",nov-news,nov-news-0001,"), std::string::npos) << csv;
  EXPECT_EQ(processor_->Stats().records, 1u);
}

TEST_F(ProcessorTest, ComplaintBecomesAnFRecord) {
  Start(config_);
  const spool::SpoolId id = Commit({"fbl@fbl.sender.example"}, Sample("arf-abuse.eml"));
  ASSERT_TRUE(processor_->Take(id, envelope_, 100));
  ASSERT_TRUE(WaitFor([&] { return processor_->Stats().understood[1] == 1; }));
  const std::string csv = Accounting();
  EXPECT_NE(csv.find("\nf,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",frank@isp.example,"), std::string::npos) << csv;
}

// The suppression hooks: the complainer and a hard-bounced recipient are told; the report leaves
// the spool only once the list is synced (a failed sync keeps it for the next start).
TEST_F(ProcessorTest, ComplainersAndHardBouncesAreSuppressedBeforeTheReportIsDone) {
  std::mutex mu;
  std::vector<std::pair<suppression::Kind, std::string>> told;
  std::atomic<bool> sync_ok{false};
  std::atomic<int> syncs{0};
  Processor::Hooks hooks;
  hooks.suppress = [&](suppression::Kind kind, const std::string& address) {
    std::lock_guard lock(mu);
    told.emplace_back(kind, address);
  };
  hooks.sync_suppressions = [&] {
    ++syncs;
    return sync_ok.load();
  };
  Start(config_, std::move(hooks));
  const spool::SpoolId complaint = Commit({"fbl@fbl.sender.example"}, Sample("arf-abuse.eml"));
  ASSERT_TRUE(processor_->Take(complaint, envelope_, 100));
  ASSERT_TRUE(WaitFor([&] { return syncs.load() == 1; }));
  EXPECT_EQ(spool_->Stats().entries, 1u);  // not synced: the report stays
  sync_ok = true;
  const spool::SpoolId bounce =
      Commit({"bounces+ann=receiver.example@bounce.sender.example"}, Sample("postfix-dsn.eml"));
  ASSERT_TRUE(processor_->Take(bounce, envelope_, 100));
  ASSERT_TRUE(WaitFor([&] { return syncs.load() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return spool_->Stats().entries == 1; }));  // the bounce left
  std::lock_guard lock(mu);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0],
            std::make_pair(suppression::Kind::kComplaint, std::string("frank@isp.example")));
  EXPECT_EQ(told[1],
            std::make_pair(suppression::Kind::kHardBounce, std::string("ann@receiver.example")));
}

TEST_F(ProcessorTest, UnmatchedReportIsKeptAndCounted) {
  Start(config_);
  const std::string data = Sample("human-reply.eml");
  const spool::SpoolId id = Commit({"bounces@bounce.sender.example"}, data);
  ASSERT_TRUE(processor_->Take(id, envelope_, data.size()));
  ASSERT_TRUE(WaitFor([&] { return processor_->Stats().unmatched[0] == 1; }));
  ASSERT_TRUE(WaitFor([&] { return spool_->Stats().entries == 0; }));
  EXPECT_EQ(ReadFile(dir_ + "/kept/" + envelope_.id + ".eml"), data);
  EXPECT_EQ(Accounting().find("rb,"), std::string::npos);
}

TEST_F(ProcessorTest, OtherRecipientsAndDeliverUnmatchedGoToDelivery) {
  auto c = std::make_shared<config::Config>(*config_);
  c->bounce_processor->deliver_unmatched_email = true;
  Start(c);
  const spool::SpoolId id =
      Commit({"bounces@bounce.sender.example", "ann@example.com", "fbl@fbl.sender.example"},
             Sample("human-reply.eml"));
  ASSERT_TRUE(processor_->Take(id, envelope_, 100));
  auto future = delivered_.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  const spool::RecoveredMessage m = future.get();
  EXPECT_EQ(m.id, id);
  // The unmatched bounce and the ordinary recipient are left; the unmatched complaint was kept.
  EXPECT_EQ(m.done_recipients, (std::vector<bool>{false, false, true}));
  EXPECT_TRUE(fs::exists(dir_ + "/kept/" + envelope_.id + ".eml"));
}

TEST_F(ProcessorTest, RecoveredMessageSkipsFinishedRecipients) {
  Start(config_);
  const spool::SpoolId id = Commit({"fbl@fbl.sender.example"}, Sample("arf-abuse.eml"));
  const std::vector<bool> done = {true};
  EXPECT_FALSE(processor_->Take(id, envelope_, 100, &done));
}

}  // namespace
}  // namespace outpost::returnpath
