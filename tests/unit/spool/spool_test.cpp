#include "mta/spool/spool.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "mta/spool/spool_entry.hpp"

namespace outpost::spool {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  CommitStatus status;
  SpoolId id;
};

Outcome CommitAndWait(Spool& spool, SpoolMessage message) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  spool.Commit(std::move(message), [promise](CommitStatus status, SpoolId id) {
    promise->set_value({status, id});
  });
  return future.get();
}

SpoolMessage MakeMessage(int n, int recipients = 2, std::size_t body = 200) {
  SpoolMessage m;
  m.envelope.id = NewQueueId();
  m.envelope.time_queued = 1764000000 + n;
  m.envelope.mail_from = "sender" + std::to_string(n) + "@example.com";
  for (int r = 0; r < recipients; ++r) {
    m.envelope.recipients.push_back("rcpt" + std::to_string(r) + "@dest" + std::to_string(n) +
                                    ".example");
  }
  m.envelope.vmta = "vmta" + std::to_string(n % 3);
  m.envelope.source_ip = "127.0.0.1";
  m.data = "Subject: message " + std::to_string(n) + "\r\n\r\n" + std::string(body, 'a' + n % 26);
  return m;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outpost-spool-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.dir = (dir_ / "spool").string();
    options_.min_free_bytes = 0;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Spool> OpenSpool() {
    std::string error;
    auto spool = Spool::Open(options_, &error);
    EXPECT_NE(spool, nullptr) << error;
    return spool;
  }

  // A fresh instance on the same directory: recovers and returns what it found.
  std::vector<RecoveredMessage> Reopen(std::unique_ptr<Spool>& spool, RecoveryReport* report) {
    spool.reset();
    spool = OpenSpool();
    std::vector<RecoveredMessage> found;
    RecoveryReport r = spool->Recover([&](RecoveredMessage&& m) { found.push_back(std::move(m)); });
    if (report) *report = r;
    return found;
  }

  std::vector<fs::path> Files(const std::string& sub, const std::string& ext) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(options_.dir) / sub)) {
      if (e.path().extension() == ext) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  SpoolOptions options_;
};

TEST_F(SpoolTest, CommitThenRecoverReturnsExactlyTheCommittedMessages) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) { ADD_FAILURE() << "empty spool recovered something"; });
  spool->Start();
  std::vector<SpoolMessage> sent;
  std::vector<SpoolId> ids;
  for (int i = 0; i < 25; ++i) {
    SpoolMessage m = MakeMessage(i, 1 + i % 4, 100 + 37 * i);
    sent.push_back(m);
    Outcome o = CommitAndWait(*spool, std::move(m));
    ASSERT_EQ(o.status, CommitStatus::kOk) << i;
    ids.push_back(o.id);
  }
  // Readable while running.
  std::string data;
  ASSERT_TRUE(spool->ReadData(ids[3], data));
  EXPECT_EQ(data, sent[3].data);
  EXPECT_EQ(spool->Stats().entries, 25u);

  RecoveryReport report;
  auto found = Reopen(spool, &report);
  ASSERT_EQ(found.size(), sent.size());
  EXPECT_EQ(report.messages, 25u);
  EXPECT_EQ(report.damaged, 0u);
  EXPECT_EQ(report.torn_tails, 0u);
  for (std::size_t i = 0; i < found.size(); ++i) {
    EXPECT_EQ(found[i].id, ids[i]) << i;
    const Envelope& e = found[i].envelope;
    EXPECT_EQ(e.id, sent[i].envelope.id) << i;
    EXPECT_EQ(e.mail_from, sent[i].envelope.mail_from) << i;
    EXPECT_EQ(e.recipients, sent[i].envelope.recipients) << i;
    EXPECT_EQ(e.time_queued, sent[i].envelope.time_queued) << i;
    EXPECT_EQ(e.vmta, sent[i].envelope.vmta) << i;
    EXPECT_EQ(found[i].data_size, sent[i].data.size()) << i;
    EXPECT_EQ(found[i].done_recipients, std::vector<bool>(e.recipients.size(), false)) << i;
    std::string d;
    ASSERT_TRUE(spool->ReadData(found[i].id, d)) << i;
    EXPECT_EQ(d, sent[i].data) << i;
    Envelope env;
    ASSERT_TRUE(spool->ReadEnvelope(found[i].id, env)) << i;
    EXPECT_EQ(env.id, sent[i].envelope.id) << i;
  }
  EXPECT_EQ(spool->Stats().entries, 25u);
}

TEST_F(SpoolTest, DoneMarksAreHonouredAtRecovery) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  SpoolId partly = CommitAndWait(*spool, MakeMessage(0, 3)).id;
  SpoolId whole = CommitAndWait(*spool, MakeMessage(1, 2)).id;
  SpoolId every_rcpt = CommitAndWait(*spool, MakeMessage(2, 2)).id;
  SpoolId untouched = CommitAndWait(*spool, MakeMessage(3, 1)).id;
  spool->MarkRecipientDone(partly, 1);
  spool->MarkRecipientDone(partly, 1);  // twice: no effect
  spool->MarkRecipientDone(partly, 7);  // out of range: ignored
  spool->MarkMessageDone(whole);
  spool->MarkRecipientDone(every_rcpt, 0);
  spool->MarkRecipientDone(every_rcpt, 1);
  EXPECT_EQ(spool->Stats().entries, 2u);
  std::string data;
  EXPECT_FALSE(spool->ReadData(whole, data)) << "a done message is gone";
  EXPECT_TRUE(spool->ReadData(partly, data));

  RecoveryReport report;
  auto found = Reopen(spool, &report);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].id, partly);
  EXPECT_EQ(found[0].done_recipients, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(found[1].id, untouched);
  EXPECT_EQ(report.recipients, 3u);  // 2 left of `partly` + 1 of `untouched`
}

TEST_F(SpoolTest, VisitorMayReadAndFinishRecoveredMessages) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  SpoolMessage keep = MakeMessage(0);
  CommitAndWait(*spool, keep);
  CommitAndWait(*spool, MakeMessage(1));
  spool.reset();
  spool = OpenSpool();
  int visited = 0;
  spool->Recover([&](RecoveredMessage&& m) {
    std::string data;
    EXPECT_TRUE(spool->ReadData(m.id, data));
    if (visited++ == 1) spool->MarkMessageDone(m.id);  // e.g. expired while down
  });
  EXPECT_EQ(visited, 2);
  EXPECT_EQ(spool->Stats().entries, 1u);
  auto found = Reopen(spool, nullptr);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].envelope.id, keep.envelope.id);
}

TEST_F(SpoolTest, FullyDoneSegmentsAreDeleted) {
  options_.segment_bytes = 1;  // every batch starts a new segment
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  SpoolId a = CommitAndWait(*spool, MakeMessage(0)).id;
  SpoolId b = CommitAndWait(*spool, MakeMessage(1)).id;
  SpoolId c = CommitAndWait(*spool, MakeMessage(2)).id;
  ASSERT_NE(a.segment, b.segment);
  ASSERT_NE(b.segment, c.segment);
  EXPECT_EQ(Files("segments", ".seg").size(), 3u);
  // A non-active segment goes as soon as its last entry is done.
  spool->MarkMessageDone(a);
  EXPECT_EQ(Files("segments", ".seg").size(), 2u);
  EXPECT_EQ(spool->Stats().segments, 2u);
  // The active segment stays even when empty...
  spool->MarkMessageDone(c);
  EXPECT_EQ(Files("segments", ".seg").size(), 2u);
  // ...and is removed at recovery; b is done only through its recipients.
  spool->MarkRecipientDone(b, 0);
  spool->MarkRecipientDone(b, 1);
  EXPECT_EQ(Files("segments", ".seg").size(), 1u);
  RecoveryReport report;
  auto found = Reopen(spool, &report);
  EXPECT_TRUE(found.empty());
  EXPECT_EQ(report.segments_removed, 1u);
  EXPECT_TRUE(Files("segments", ".seg").empty());
  EXPECT_TRUE(Files("segments", ".done").empty());
}

TEST_F(SpoolTest, DamagedEntryInTheMiddleGoesToCorruptAndTheRestRecovers) {
  struct Case {
    const char* label;
    std::size_t at;  // byte to change, relative to the damaged entry's start
    char value;
  };
  const Case cases[] = {
      {"payload byte flipped", 40, 'Z'},
      {"length field beyond the file", 6, 0x70},
      {"length field smaller", 4, 0x00},
      {"magic destroyed", 0, 'X'},
      {"trailer destroyed", static_cast<std::size_t>(-6), 'X'},  // counted from the entry end
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    fs::remove_all(options_.dir);
    auto spool = OpenSpool();
    spool->Recover([](RecoveredMessage&&) {});
    spool->Start();
    std::vector<SpoolId> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(CommitAndWait(*spool, MakeMessage(i)).id);
    spool.reset();

    auto segs = Files("segments", ".seg");
    ASSERT_EQ(segs.size(), 1u);
    std::string bytes = ReadFile(segs[0]);
    const std::size_t start = ids[1].offset;
    const std::size_t entry_size = ids[2].offset - ids[1].offset;
    const std::string original = bytes.substr(start, entry_size);
    std::size_t at = c.at == static_cast<std::size_t>(-6) ? entry_size - 6 : c.at;
    bytes[start + at] = c.value;
    WriteFile(segs[0], bytes);

    RecoveryReport report;
    auto found = Reopen(spool, &report);
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[0].id, ids[0]);
    EXPECT_EQ(found[1].id, ids[2]);
    EXPECT_EQ(report.damaged, 1u);
    EXPECT_EQ(report.torn_tails, 0u);
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_EQ(spool->Stats().damaged_total, 1u);
    auto bad = Files("corrupt", ".bad");
    ASSERT_EQ(bad.size(), 1u);
    std::string aside = ReadFile(bad[0]);
    EXPECT_EQ(aside.size(), entry_size);
    EXPECT_EQ(aside.substr(at + 1), original.substr(at + 1)) << "the raw bytes are kept";
    std::string data;
    EXPECT_TRUE(spool->ReadData(ids[2], data));
    EXPECT_FALSE(spool->ReadData(ids[1], data));

    // Reported once: the next recovery steps over the region already set aside.
    auto again = Reopen(spool, &report);
    EXPECT_EQ(again.size(), 2u);
    EXPECT_EQ(report.damaged, 0u);
    EXPECT_EQ(Files("corrupt", ".bad").size(), 1u);
    spool.reset();
  }
}

TEST_F(SpoolTest, TornTailIsMovedAsideAndCountedSeparately) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  SpoolId a = CommitAndWait(*spool, MakeMessage(0)).id;
  SpoolId b = CommitAndWait(*spool, MakeMessage(1)).id;
  spool.reset();
  auto segs = Files("segments", ".seg");
  ASSERT_EQ(segs.size(), 1u);
  std::string bytes = ReadFile(segs[0]);
  const std::size_t good_size = bytes.size();
  std::string torn;
  ASSERT_TRUE(AppendMessageEntry(MakeMessage(2).envelope, MakeMessage(2).data, torn));
  bytes += torn.substr(0, torn.size() / 2);  // a write cut short by a crash
  WriteFile(segs[0], bytes);

  RecoveryReport report;
  auto found = Reopen(spool, &report);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].id, a);
  EXPECT_EQ(found[1].id, b);
  EXPECT_EQ(report.torn_tails, 1u);
  EXPECT_EQ(report.damaged, 0u);
  EXPECT_EQ(fs::file_size(segs[0]), good_size) << "torn bytes cut off the segment";
  auto aside = Files("corrupt", ".torn");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(ReadFile(aside[0]), torn.substr(0, torn.size() / 2));

  auto again = Reopen(spool, &report);
  EXPECT_EQ(again.size(), 2u);
  EXPECT_EQ(report.torn_tails, 0u);
}

TEST_F(SpoolTest, ConcurrentCommitsShareBatches) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  constexpr int kThreads = 20;
  constexpr int kPerThread = 40;
  std::vector<std::vector<Outcome>> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        outcomes[t].push_back(CommitAndWait(*spool, MakeMessage(t * kPerThread + i, 1, 4096)));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::pair<std::uint32_t, std::uint64_t>> ids;
  for (const auto& per : outcomes) {
    for (const Outcome& o : per) {
      EXPECT_EQ(o.status, CommitStatus::kOk);
      ids.insert({o.id.segment, o.id.offset});
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  SpoolStats stats = spool->Stats();
  EXPECT_EQ(stats.commits, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LT(stats.batches, stats.commits) << "group commit: several commits per fdatasync";
  EXPECT_GT(stats.batches, 0u);

  RecoveryReport report;
  auto found = Reopen(spool, &report);
  EXPECT_EQ(found.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(report.damaged + report.torn_tails, 0u);
}

TEST_F(SpoolTest, LowDiskRefusesCommitsWithoutWriting) {
  options_.min_free_bytes = std::numeric_limits<std::uint64_t>::max() / 2;  // more than any disk
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  // Stats (what /ready and spool_healthy read) probes the disk too: no commit has been tried yet.
  EXPECT_FALSE(spool->Stats().healthy) << "low space is seen before any commit fails";
  EXPECT_FALSE(spool->Healthy());
  Outcome o = CommitAndWait(*spool, MakeMessage(0));
  EXPECT_EQ(o.status, CommitStatus::kDiskFull);
  EXPECT_FALSE(spool->Healthy());
  EXPECT_EQ(spool->Stats().commit_failures, 1u);
  EXPECT_EQ(spool->Stats().entries, 0u);
  EXPECT_NE(spool->Stats().last_commit_error.find("below spool-min-free"), std::string::npos)
      << spool->Stats().last_commit_error;
  for (const auto& seg : Files("segments", ".seg")) EXPECT_EQ(fs::file_size(seg), 0u);

  spool->SetMinFreeBytes(0);
  o = CommitAndWait(*spool, MakeMessage(1));
  EXPECT_EQ(o.status, CommitStatus::kOk);
  EXPECT_TRUE(spool->Healthy());
  auto found = Reopen(spool, nullptr);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].envelope.mail_from, MakeMessage(1).envelope.mail_from);
}

TEST_F(SpoolTest, FailedWriteIsTruncatedAwayAndMarksUnhealthy) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  ASSERT_EQ(CommitAndWait(*spool, MakeMessage(0)).status, CommitStatus::kOk);
  auto segs = Files("segments", ".seg");
  ASSERT_EQ(segs.size(), 1u);
  const auto size_before = fs::file_size(segs[0]);

  // A file-size limit makes the next write come up short and then fail (EFBIG) for real.
  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = size_before + 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  Outcome o = CommitAndWait(*spool, MakeMessage(1, 1, 4096));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(o.status, CommitStatus::kIoError);
  EXPECT_FALSE(spool->Healthy());
  EXPECT_EQ(fs::file_size(segs[0]), size_before) << "partial batch truncated away";
  EXPECT_EQ(spool->Stats().last_commit_error.rfind("write segment ", 0), 0u)
      << spool->Stats().last_commit_error;

  o = CommitAndWait(*spool, MakeMessage(2));
  EXPECT_EQ(o.status, CommitStatus::kOk);
  EXPECT_TRUE(spool->Healthy());
  RecoveryReport report;
  auto found = Reopen(spool, &report);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].envelope.mail_from, MakeMessage(2).envelope.mail_from);
  EXPECT_EQ(report.damaged + report.torn_tails, 0u);
}

TEST_F(SpoolTest, SecondOpenOnLockedDirFails) {
  auto spool = OpenSpool();
  std::string error;
  EXPECT_EQ(Spool::Open(options_, &error), nullptr);
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  spool.reset();
  EXPECT_NE(Spool::Open(options_, &error), nullptr) << "lock released with the first instance";
}

TEST_F(SpoolTest, CommitAfterStopIsRefused) {
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  spool->Stop();
  EXPECT_EQ(CommitAndWait(*spool, MakeMessage(0)).status, CommitStatus::kShuttingDown);
}

TEST_F(SpoolTest, CompletionMarksSurviveAfterManyMarks) {
  // Enough marks to exceed the in-memory buffer threshold, spread over many messages.
  auto spool = OpenSpool();
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  std::vector<SpoolId> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(CommitAndWait(*spool, MakeMessage(i, 3, 10)).id);
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 0) spool->MarkMessageDone(ids[i]);
    if (i % 3 == 1) spool->MarkRecipientDone(ids[i], 2);
  }
  RecoveryReport report;
  auto found = Reopen(spool, &report);
  ASSERT_EQ(found.size(), 200u);
  EXPECT_EQ(report.recipients, 100u * 2 + 100u * 3);
}

TEST(SpoolQueueId, SixteenHexDigitsAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewQueueId();
    ASSERT_EQ(id.size(), 16u);
    ASSERT_EQ(id.find_first_not_of("0123456789ABCDEF"), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

}  // namespace
}  // namespace outpost::spool
