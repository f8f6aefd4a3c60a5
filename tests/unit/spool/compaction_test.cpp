// Compaction: live entries move forward, the owner's handles stay valid, space comes back, and a
// crash or a failure at every step of the protocol (compaction.cpp) leaves each message queued
// exactly once with its finished recipients still finished.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mta/spool/spool.hpp"

namespace outpost::spool {
namespace {

namespace fs = std::filesystem;

SpoolMessage Message(int n) {
  SpoolMessage m;
  m.envelope.id = NewQueueId();
  m.envelope.time_queued = 1764000000 + n;
  m.envelope.mail_from = "sender@example.com";
  for (int r = 0; r < 3; ++r) {
    m.envelope.recipients.push_back("rcpt" + std::to_string(r) + "@d" + std::to_string(n) +
                                    ".test");
  }
  m.data = "Subject: " + std::to_string(n) + "\r\n\r\n" + std::string(1000, 'a' + n % 26) + "\r\n";
  return m;
}

SpoolId Commit(Spool& spool, SpoolMessage message) {
  std::promise<std::pair<CommitStatus, SpoolId>> promise;
  auto future = promise.get_future();
  spool.Commit(std::move(message), [&promise](CommitStatus status, SpoolId id) {
    promise.set_value({status, id});
  });
  auto [status, id] = future.get();
  EXPECT_EQ(status, CommitStatus::kOk);
  return id;
}

struct Kept {
  SpoolId handle;
  std::string id;
  std::string data;
};

using Found = std::map<std::string, RecoveredMessage>;  // by queue id

class CompactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outpost-compaction-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.dir = (dir_ / "spool").string();
    options_.min_free_bytes = 0;
    options_.segment_bytes = 8 << 10;  // a segment every 7 or 8 messages
    options_.compaction_rate = 0;
    options_.compaction_min_age = std::chrono::hours(1);  // only CompactNow() compacts
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Spool> Open(const SpoolOptions& options) {
    std::string error;
    auto spool = Spool::Open(options, &error);
    EXPECT_NE(spool, nullptr) << error;
    return spool;
  }

  // A fresh instance on the directory; every recovered message by queue id (a duplicate fails).
  Found Recover(std::unique_ptr<Spool>& spool, const SpoolOptions& options) {
    spool.reset();
    spool = Open(options);
    Found found;
    spool->Recover([&](RecoveredMessage&& m) {
      const std::string id = m.envelope.id;
      EXPECT_TRUE(found.emplace(id, std::move(m)).second) << "queued twice: " << id;
    });
    return found;
  }

  // 60 messages of three recipients over about eight segments, all finished except every
  // twentieth, of which recipient 0 is finished: three mostly-empty segments.
  std::vector<Kept> Populate(Spool& spool, int count = 60) {
    std::vector<Kept> kept;
    for (int n = 0; n < count; ++n) {
      SpoolMessage m = Message(n);
      Kept k{SpoolId{}, m.envelope.id, m.data};
      k.handle = Commit(spool, std::move(m));
      if (n % 20 == 3) {
        spool.MarkRecipientDone(k.handle, 0);
        kept.push_back(k);
      } else {
        spool.MarkMessageDone(k.handle);
      }
    }
    return kept;
  }

  // Retires the active segment: enough finished mail to roll over to a new one.
  void Roll(Spool& spool) {
    for (int n = 0; n < 10; ++n) spool.MarkMessageDone(Commit(spool, Message(100 + n)));
  }

  void ExpectQueuedOnce(const Found& found, const std::vector<Kept>& kept,
                        const std::vector<std::vector<bool>>& done) {
    ASSERT_EQ(found.size(), kept.size());
    for (std::size_t i = 0; i < kept.size(); ++i) {
      auto f = found.find(kept[i].id);
      ASSERT_NE(f, found.end()) << "lost: " << kept[i].id;
      EXPECT_EQ(f->second.done_recipients, done[i]) << kept[i].id;
    }
  }

  // Space: at most twice the live bytes plus one active segment (and one batch beyond it).
  void ExpectCompact(const SpoolStats& stats) {
    EXPECT_LE(stats.bytes, 2 * stats.live_bytes + options_.segment_bytes + 1200)
        << stats.segments << " segments";
  }

  std::size_t SegmentFiles() {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(fs::path(options_.dir) / "segments")) {
      n += e.path().extension() == ".seg";
    }
    return n;
  }

  fs::path dir_;
  SpoolOptions options_;
};

const std::vector<bool> kFirstDone{true, false, false};

TEST_F(CompactionTest, LiveEntriesMoveForwardAndHandlesStayValid) {
  auto spool = Open(options_);
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  std::vector<Kept> kept = Populate(*spool);
  ASSERT_EQ(kept.size(), 3u);
  const SpoolStats before = spool->Stats();
  ASSERT_GE(before.segments, 4u);  // three pinned segments and the active one
  EXPECT_GT(before.bytes, 3 * before.live_bytes);

  spool->CompactNow();
  const SpoolStats after = spool->Stats();
  EXPECT_EQ(after.compactions, 3u);
  EXPECT_EQ(after.compaction_errors, 0u);
  EXPECT_GE(after.compaction_bytes_copied, 3 * 1000u);
  EXPECT_GE(after.compaction_bytes_reclaimed, 3 * (8u << 10));
  EXPECT_EQ(after.segments, 1u) << "only the active segment is left";
  EXPECT_EQ(SegmentFiles(), 1u);
  EXPECT_EQ(after.entries, 3u);
  ExpectCompact(after);

  for (const Kept& k : kept) {
    std::string data;
    Envelope envelope;
    EXPECT_TRUE(spool->ReadData(k.handle, data));
    EXPECT_EQ(data, k.data);
    EXPECT_TRUE(spool->ReadEnvelope(k.handle, envelope));
    EXPECT_EQ(envelope.id, k.id);
  }
  // Marks through the old handles land on the copies.
  spool->MarkRecipientDone(kept[0].handle, 1);
  spool->MarkMessageDone(kept[1].handle);
  EXPECT_EQ(spool->Stats().entries, 2u);
  std::string data;
  EXPECT_FALSE(spool->ReadData(kept[1].handle, data));

  Found found = Recover(spool, options_);
  ExpectQueuedOnce(found, {kept[0], kept[2]}, {{true, true, false}, kFirstDone});
  EXPECT_GT(spool->Stats().live_bytes, 2 * 1000u);
  EXPECT_LT(spool->Stats().live_bytes, after.live_bytes);
}

TEST_F(CompactionTest, CopiesOfCopiesKeepOneIdentity) {
  auto spool = Open(options_);
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  std::vector<Kept> kept = Populate(*spool);
  spool->CompactNow();
  Roll(*spool);  // the segment with the copies is no longer active, and mostly finished
  spool->MarkRecipientDone(kept[2].handle, 2);
  spool->CompactNow();
  EXPECT_EQ(spool->Stats().compactions, 4u);
  for (const Kept& k : kept) {
    std::string data;
    EXPECT_TRUE(spool->ReadData(k.handle, data));
    EXPECT_EQ(data, k.data);
  }
  Found found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, {kFirstDone, kFirstDone, {true, false, true}});
  // And once more after a restart, from recovered handles.
  spool->Start();
  Roll(*spool);
  spool->CompactNow();
  found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, {kFirstDone, kFirstDone, {true, false, true}});
}

// fdatasync calls the spool made, by what they made durable (SpoolOptions::on_data_sync).
struct SyncCounts {
  std::mutex mu;
  std::map<std::string, int> by_what;
  int Count(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    return by_what[what];
  }
};

// sync-msg-create: new messages are synced before their handlers run unless it is off; then only
// that sync goes, compaction (which deletes segments) still syncs its copies and marks.
TEST_F(CompactionTest, SyncNewMessagesOffSkipsOnlyTheCommitSync) {
  for (bool sync_new : {true, false}) {
    SCOPED_TRACE(sync_new ? "sync_new_messages on" : "sync_new_messages off");
    fs::remove_all(options_.dir);
    SyncCounts syncs;
    SpoolOptions options = options_;
    options.sync_new_messages = sync_new;
    options.on_data_sync = [&syncs](std::string_view what) {
      std::lock_guard<std::mutex> lock(syncs.mu);
      syncs.by_what[std::string(what)]++;
    };
    auto spool = Open(options);
    spool->Recover([](RecoveredMessage&&) {});
    spool->Start();
    std::vector<Kept> kept = Populate(*spool);
    EXPECT_EQ(syncs.Count("commit") > 0, sync_new) << syncs.Count("commit");
    spool->CompactNow();
    EXPECT_EQ(spool->Stats().compactions, 3u);
    EXPECT_GE(syncs.Count("copy"), 3);
    EXPECT_GE(syncs.Count("marks"), 3);
    Found found = Recover(spool, options);
    ExpectQueuedOnce(found, kept, {kFirstDone, kFirstDone, kFirstDone});
  }
}

TEST_F(CompactionTest, ThresholdZeroTurnsItOff) {
  options_.compaction_threshold = 0;
  auto spool = Open(options_);
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  Populate(*spool);
  const std::uint64_t segments = spool->Stats().segments;
  spool->CompactNow();
  EXPECT_EQ(spool->Stats().compactions, 0u);
  EXPECT_EQ(spool->Stats().segments, segments);
}

TEST_F(CompactionTest, MarksMadeWhileCopyingAreKept) {
  Spool* target = nullptr;
  std::vector<Kept> kept;
  SpoolOptions options = options_;
  options.fault_injection = [&](std::string_view step) {
    if (step == "copy.write" && target != nullptr) {
      // The owner finishes work while the copy is being written (outside the spool's lock).
      target->MarkRecipientDone(kept[0].handle, 2);
      target->MarkMessageDone(kept[1].handle);
    }
    return true;
  };
  auto spool = Open(options);
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  kept = Populate(*spool);
  target = spool.get();
  spool->CompactNow();
  target = nullptr;
  EXPECT_EQ(spool->Stats().entries, 2u);
  EXPECT_EQ(spool->Stats().segments, 1u);
  Found found = Recover(spool, options_);
  ExpectQueuedOnce(found, {kept[0], kept[2]}, {{true, false, true}, kFirstDone});
}

// The steps of compaction.cpp, in protocol order.
const char* const kSteps[] = {"flag.write", "flag.sync",   "copy.write", "copy.sync",
                              "redirect",   "marks.write", "marks.sync", "unlink.seg"};

struct CrashCase {
  const char* step;
  int generation;  // 1: originals are moved; 2: copies are moved again
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.step << " (generation " << c.generation << ")";
}

class CompactionCrashTest : public CompactionTest,
                            public ::testing::WithParamInterface<CrashCase> {};

// A real process ends (_exit, as kill -9 would end it: nothing flushed by the process) right
// after the step; a fresh instance then recovers the directory.
TEST_P(CompactionCrashTest, CrashAfterStepLeavesEveryMessageQueuedOnce) {
  const CrashCase c = GetParam();
  std::vector<Kept> kept;
  {
    auto spool = Open(options_);
    spool->Recover([](RecoveredMessage&&) {});
    spool->Start();
    kept = Populate(*spool);
    if (c.generation == 2) {
      spool->CompactNow();
      Roll(*spool);
    }
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SpoolOptions options = options_;
    const std::string step = c.step;
    options.fault_injection = [step](std::string_view s) {
      if (s == step) ::_exit(0);
      return true;
    };
    std::string error;
    auto spool = Spool::Open(options, &error);
    if (!spool) ::_exit(2);
    std::vector<SpoolId> ids;
    spool->Recover([&](RecoveredMessage&& m) { ids.push_back(m.id); });
    spool->Start();
    // A mark made just before compaction starts: written to the victim's sidecar first.
    for (SpoolId id : ids) spool->MarkRecipientDone(id, 1);
    spool->CompactNow();
    ::_exit(3);  // the step was never reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child did not reach step " << c.step;

  const std::vector<std::vector<bool>> done(kept.size(), {true, true, false});
  std::unique_ptr<Spool> spool;
  Found found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, done);
  for (const auto& [id, m] : found) {
    std::string data;
    EXPECT_TRUE(spool->ReadData(m.id, data));
  }
  // Compaction finishes on the recovered spool, and the result recovers the same way.
  spool->Start();
  spool->CompactNow();
  EXPECT_EQ(spool->Stats().compaction_errors, 0u);
  found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, done);
  spool->Start();
  spool->CompactNow();
  ExpectCompact(spool->Stats());
  EXPECT_EQ(spool->Stats().entries, kept.size());
}

std::vector<CrashCase> AllCrashCases() {
  std::vector<CrashCase> out;
  for (int generation : {1, 2}) {
    for (const char* step : kSteps) out.push_back({step, generation});
  }
  return out;
}

std::string CrashCaseName(const ::testing::TestParamInfo<CrashCase>& info) {
  std::string name = std::string(info.param.step) + "_gen" + std::to_string(info.param.generation);
  for (char& ch : name) {
    if (ch == '.') ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryStep, CompactionCrashTest, ::testing::ValuesIn(AllCrashCases()),
                         CrashCaseName);

class CompactionFailureTest : public CompactionTest,
                              public ::testing::WithParamInterface<const char*> {};

// The step's system call fails (as with EIO or ENOSPC): nothing is lost, the owner's handles keep
// working, and the error is counted.
TEST_P(CompactionFailureTest, FailedStepLosesNothing) {
  const std::string step = GetParam();
  std::atomic<int> failures{0};
  SpoolOptions options = options_;
  options.fault_injection = [&](std::string_view s) {
    if (s != step || failures > 0) return true;
    failures++;
    return false;
  };
  auto spool = Open(options);
  spool->Recover([](RecoveredMessage&&) {});
  spool->Start();
  std::vector<Kept> kept = Populate(*spool);
  spool->CompactNow();
  EXPECT_EQ(failures, 1);
  EXPECT_GE(spool->Stats().compaction_errors, 1u);
  EXPECT_EQ(spool->Stats().entries, kept.size());
  for (const Kept& k : kept) {
    std::string data;
    EXPECT_TRUE(spool->ReadData(k.handle, data));
    EXPECT_EQ(data, k.data);
    spool->MarkRecipientDone(k.handle, 1);
  }
  const std::vector<std::vector<bool>> done(kept.size(), {true, true, false});
  Found found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, done);
  spool->Start();
  spool->CompactNow();
  EXPECT_EQ(spool->Stats().compaction_errors, 0u);
  ExpectCompact(spool->Stats());
  found = Recover(spool, options_);
  ExpectQueuedOnce(found, kept, done);
}

INSTANTIATE_TEST_SUITE_P(EveryWriteAndSync, CompactionFailureTest,
                         ::testing::Values("flag.write", "flag.sync", "copy.write", "copy.sync",
                                           "marks.write", "marks.sync"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace outpost::spool
