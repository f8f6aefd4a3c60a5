#include "exporter/acct_tailer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/acct_format.hpp"

namespace outpost::exporter {
namespace {

namespace fs = std::filesystem;

std::string Line(int i, const char* type = "d") {
  acct::Record r;
  r.type = *acct::ParseRecordType(type);
  r[acct::Field::kTimeLogged] = "2025-11-22 10:00:0" + std::to_string(i % 10) + "+0000";
  r[acct::Field::kTimeQueued] = "2025-11-22 10:00:00+0000";
  r[acct::Field::kRcpt] = "user" + std::to_string(i) + "@gmail.com";
  r[acct::Field::kDsnDiag] = "smtp;250 ok, id " + std::to_string(i);
  r[acct::Field::kBounceCat] = type[0] == 'b' ? "bad-mailbox" : "success";
  r[acct::Field::kDlvSize] = "4211";
  r[acct::Field::kVmta] = "vmta" + std::to_string(i % 3);
  std::string out;
  acct::AppendRecordLine(r, out);
  return out;
}

class TailerRig {
 public:
  explicit TailerRig(const std::string& dir, bool from_start = true)
      : resolver_(map_), counts_(map_, CountsLimits{}) {
    TailerOptions o;
    o.patterns = {dir + "/acct*.csv"};
    o.from_start = from_start;
    o.close_grace = std::chrono::milliseconds(0);
    tailer_ = std::make_unique<AcctTailer>(o, counts_, resolver_);
  }
  std::uint64_t PollTotal() {
    bool more = true;
    while (more) tailer_->Poll(&more);
    return Total();
  }
  std::uint64_t Total() const {
    return counts_.TotalOfType(acct::RecordType::kDelivered) +
           counts_.TotalOfType(acct::RecordType::kBounced);
  }
  nlohmann::json Snapshot() const {
    return {{"files", tailer_->SavePositions()}, {"counts", counts_.ToJson()}};
  }
  void Restore(const nlohmann::json& snap) {
    std::string err;
    ASSERT_TRUE(counts_.FromJson(snap.at("counts"), &err)) << err;
    ASSERT_TRUE(tailer_->LoadPositions(snap.at("files"), &err)) << err;
  }
  AcctCounts& counts() { return counts_; }

 private:
  ProviderMap map_ = ProviderMap::Defaults();
  ProviderResolver resolver_;
  AcctCounts counts_;
  std::unique_ptr<AcctTailer> tailer_;
};

class TailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tailer_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "archive");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const { return (dir_ / name).string(); }
  // Appends records [from, to) (with a header when the file is new).
  void Append(const std::string& name, int from, int to) {
    bool fresh = !fs::exists(P(name)) || fs::file_size(P(name)) == 0;
    std::ofstream f(P(name), std::ios::app | std::ios::binary);
    if (fresh) f << acct::DefaultHeader() << "\r\n";
    for (int i = from; i < to; ++i) f << Line(i);
  }
  void CopyTruncate(const std::string& name, const std::string& copy) {
    fs::copy_file(P(name), P(copy));
    ASSERT_EQ(truncate(P(name).c_str(), 0), 0);
  }
  fs::path dir_;
};

TEST_F(TailerTest, RenameAndCreateFinishesOldFileThenNew) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  Append("acct.csv", 10, 15);
  fs::rename(P("acct.csv"), P("acct-1.csv"));
  Append("acct.csv", 15, 18);
  EXPECT_EQ(rig.PollTotal(), 18u);
  EXPECT_GE(rig.counts().health.rotations, 1u);
}

TEST_F(TailerTest, MoveToAnotherDirectoryIsFinished) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  Append("acct.csv", 10, 15);
  fs::rename(P("acct.csv"), P("archive/acct-1.csv"));  // outside the glob
  EXPECT_EQ(rig.PollTotal(), 15u);
  EXPECT_EQ(rig.counts().health.rotations, 1u);
}

TEST_F(TailerTest, DeletedFileIsFinishedThroughOpenDescriptor) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  Append("acct.csv", 10, 15);
  fs::remove(P("acct.csv"));
  EXPECT_EQ(rig.PollTotal(), 15u);
}

TEST_F(TailerTest, CopyTruncateCountsEachRecordOnce) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  Append("acct.csv", 10, 15);  // unread when the copy is made: must come from the copy
  CopyTruncate("acct.csv", "acct-1.csv");
  Append("acct.csv", 15, 19);
  EXPECT_EQ(rig.PollTotal(), 19u);
  EXPECT_EQ(rig.counts().health.truncations, 1u);
}

TEST_F(TailerTest, CopyTruncateSeenBetweenCopyAndTruncate) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  Append("acct.csv", 10, 15);
  fs::copy_file(P("acct.csv"), P("acct-1.csv"));
  EXPECT_EQ(rig.PollTotal(), 15u);  // the copy is read; the original is suspended
  ASSERT_EQ(truncate(P("acct.csv").c_str(), 0), 0);
  Append("acct.csv", 15, 19);
  EXPECT_EQ(rig.PollTotal(), 19u);
}

TEST_F(TailerTest, PartialLastLineWaitsForItsEnd) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 2);
  std::string line = Line(2);
  {
    std::ofstream f(P("acct.csv"), std::ios::app | std::ios::binary);
    f << line.substr(0, line.size() / 2);
  }
  EXPECT_EQ(rig.PollTotal(), 2u);
  {
    std::ofstream f(P("acct.csv"), std::ios::app | std::ios::binary);
    f << line.substr(line.size() / 2);
  }
  EXPECT_EQ(rig.PollTotal(), 3u);
  EXPECT_EQ(rig.counts().health.malformed_lines, 0u);
}

TEST_F(TailerTest, MalformedLineIsCountedAndSkipped) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 2);
  {
    std::ofstream f(P("acct.csv"), std::ios::app | std::ios::binary);
    f << "d,torn\"line\r\n";
  }
  Append("acct.csv", 2, 4);
  EXPECT_EQ(rig.PollTotal(), 4u);
  EXPECT_EQ(rig.counts().health.malformed_lines, 1u);
}

TEST_F(TailerTest, FirstRunStartsAtEndUnlessFromStart) {
  Append("acct.csv", 0, 10);
  TailerRig rig(dir_.string(), /*from_start=*/false);
  EXPECT_EQ(rig.PollTotal(), 0u);
  Append("acct.csv", 10, 13);
  EXPECT_EQ(rig.PollTotal(), 3u);
}

// Restart: counters and positions from one snapshot; rotations of every kind while "down".
TEST_F(TailerTest, RestartAcrossRotationsIsExactlyOnce) {
  nlohmann::json snap;
  {
    TailerRig rig(dir_.string());
    Append("acct.csv", 0, 10);
    Append("acct-old.csv", 100, 110);
    EXPECT_EQ(rig.PollTotal(), 20u);
    snap = rig.Snapshot();
    Append("acct.csv", 10, 20);  // read after the snapshot: lost with the "crash", re-read later
    Append("acct-old.csv", 110, 115);
    EXPECT_EQ(rig.PollTotal(), 35u);
  }
  // While down: acct.csv copytruncated, acct-old.csv renamed, a new file created.
  CopyTruncate("acct.csv", "acct-2.csv");
  Append("acct.csv", 20, 25);
  fs::rename(P("acct-old.csv"), P("acct-3.csv"));
  Append("acct-new.csv", 200, 204);
  TailerRig again(dir_.string(), /*from_start=*/false);
  again.Restore(snap);
  EXPECT_EQ(again.PollTotal(), 10u + 10 + 5 + 10 + 5 + 4);
}

TEST_F(TailerTest, TestdataFilesGiveReadmeCounts) {
  const fs::path data = OUTPOST_TESTDATA_DIR;
  if (!fs::exists(data / "acct-default.csv")) GTEST_SKIP() << "no " << data << " (shared/testdata)";
  fs::copy_file(data / "acct-default.csv", P("acct-default.csv"));
  fs::copy_file(data / "acct-imprinted-unixtime.csv", P("acct-imprinted-unixtime.csv"));
  TailerRig rig(dir_.string());
  rig.PollTotal();
  const AcctCounts& c = rig.counts();
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kReceived), 1u);
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kDelivered), 3u);  // 2 + 1
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kTransient), 2u);  // 1 + 1
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kBounced), 3u);    // 2 + 1
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kTransientQueue), 1u);
  EXPECT_EQ(c.BouncesOfCategory("bad-mailbox"), 1u);
  EXPECT_EQ(c.BouncesOfCategory("message-expired"), 1u);
  EXPECT_EQ(c.BouncesOfCategory("policy-related"), 1u);
  EXPECT_EQ(c.health.malformed_lines, 0u);
  EXPECT_EQ(c.health.headers_read, 2u);
}

}  // namespace
}  // namespace outpost::exporter
