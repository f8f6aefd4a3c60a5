#include "exporter/acct_tailer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

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
  explicit TailerRig(const std::string& dir, bool from_start = true,
                     std::chrono::milliseconds close_grace = std::chrono::milliseconds(0))
      : resolver_(map_), counts_(map_, CountsLimits{}) {
    TailerOptions o;
    o.patterns = {dir + "/acct*.csv"};
    o.from_start = from_start;
    o.close_grace = close_grace;
    tailer_ = std::make_unique<AcctTailer>(o, counts_, resolver_);
  }
  const AcctTailer& tailer() const { return *tailer_; }
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

// Regression (rotation storm, 1 run in 7 counted a rotated file twice): copytruncate's copy was
// seen by a poll while it was still empty or half written. Too short to match the original's
// fingerprint, it was taken for a new file and later read from 0, although the original had
// already counted those records. Now such a file stays pending until it can be compared.
TEST_F(TailerTest, CopySeenWhileBeingWrittenIsNotReadTwice) {
  struct Case {
    const char* label;
    std::size_t copied_first;  // bytes of the copy present at the first poll after it appears
  };
  const Case cases[] = {{"empty copy", 0}, {"header only", 100}, {"past fingerprint", 2000}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const auto hour = std::chrono::milliseconds(3600 * 1000);
    TailerRig rig(dir_.string(), /*from_start=*/true, /*close_grace=*/hour);
    Append("acct.csv", 0, 40);
    ASSERT_EQ(rig.PollTotal(), 40u);
    std::string content;
    {
      std::ifstream in(P("acct.csv"), std::ios::binary);
      content.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_GT(content.size(), c.copied_first);
    {
      std::ofstream copy(P("acct-1.csv"), std::ios::binary);
      copy << content.substr(0, c.copied_first);
    }
    EXPECT_EQ(rig.PollTotal(), 40u);
    {
      std::ofstream copy(P("acct-1.csv"), std::ios::binary | std::ios::app);
      copy << content.substr(c.copied_first);
    }
    ASSERT_EQ(truncate(P("acct.csv").c_str(), 0), 0);
    Append("acct.csv", 40, 45);
    EXPECT_EQ(rig.PollTotal(), 45u);
    EXPECT_EQ(rig.counts().health.malformed_lines, 0u);
  }
}

// Regression (rotation storm): the exporter had seen neither file when a poll found copytruncate's
// half-written copy and the original (not yet truncated) in the same scan. Both were new, both
// were read from 0. Now a new file is fingerprinted when found, so the second one of the scan is
// recognised as a copy of the first, whichever order the glob gives.
TEST_F(TailerTest, CopyAndOriginalFirstSeenInTheSameScanCountOnce) {
  struct Case {
    const char* label;
    const char* copy_name;  // sorts before or after "acct.csv"
    std::size_t copied_first;
  };
  const Case cases[] = {{"copy scanned first, half written", "acct-1.csv", 2000},
                        {"copy scanned first, complete", "acct-1.csv", 0},
                        {"copy scanned second, half written", "acct.csv.1.csv", 2000}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const auto hour = std::chrono::milliseconds(3600 * 1000);
    TailerRig rig(dir_.string(), /*from_start=*/true, /*close_grace=*/hour);
    Append("acct.csv", 0, 40);
    std::string content;
    {
      std::ifstream in(P("acct.csv"), std::ios::binary);
      content.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::size_t first = c.copied_first == 0 ? content.size() : c.copied_first;
    {
      std::ofstream copy(P(c.copy_name), std::ios::binary);
      copy << content.substr(0, first);
    }
    EXPECT_EQ(rig.PollTotal(), 40u);
    {
      std::ofstream copy(P(c.copy_name), std::ios::binary | std::ios::app);
      copy << content.substr(first);
    }
    EXPECT_EQ(rig.PollTotal(), 40u);
    ASSERT_EQ(truncate(P("acct.csv").c_str(), 0), 0);
    Append("acct.csv", 40, 45);
    EXPECT_EQ(rig.PollTotal(), 45u);
    EXPECT_EQ(rig.counts().health.malformed_lines, 0u);
  }
}

// A file that leaves the globs long enough to be closed (or is missed by one glob scan while it
// is being renamed) and comes back under another name is the same inode with the same start:
// it resumes at its offset. An inode number reused by a new file has another start: read from 0.
TEST_F(TailerTest, InodeSeenAgainResumesOnlyIfItsStartIsUnchanged) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 10);
  EXPECT_EQ(rig.PollTotal(), 10u);
  fs::rename(P("acct.csv"), P("outside.txt"));
  EXPECT_EQ(rig.PollTotal(), 10u);  // gone from the globs, at its end, grace 0: closed
  Append("outside.txt", 10, 12);
  fs::rename(P("outside.txt"), P("acct-1.csv"));
  EXPECT_EQ(rig.PollTotal(), 12u);
  // Delete it; a new file may get the same inode number; it must be read whole.
  fs::rename(P("acct-1.csv"), P("outside.txt"));
  EXPECT_EQ(rig.PollTotal(), 12u);
  fs::remove(P("outside.txt"));
  Append("acct.csv", 100, 105);
  EXPECT_EQ(rig.PollTotal(), 17u);
}

// Restart whose first glob scan misses a restored file (renamed at that instant): when it shows
// up in a later scan it still resumes at its saved position.
TEST_F(TailerTest, RestoredFileMissedByTheFirstScanResumes) {
  nlohmann::json snap;
  {
    TailerRig rig(dir_.string());
    Append("acct.csv", 0, 10);
    EXPECT_EQ(rig.PollTotal(), 10u);
    snap = rig.Snapshot();
  }
  fs::rename(P("acct.csv"), P("outside.txt"));
  TailerRig again(dir_.string());
  again.Restore(snap);
  EXPECT_EQ(again.PollTotal(), 10u);
  Append("outside.txt", 10, 13);
  fs::rename(P("outside.txt"), P("acct-1.csv"));
  EXPECT_EQ(again.PollTotal(), 13u);
}

// Crash while the copy of a still-open original is being read: the original's suspension is in
// the snapshot, so after the restart the range the copy covered is not read again from it.
TEST_F(TailerTest, SuspensionByACopySurvivesRestart) {
  nlohmann::json snap;
  {
    TailerRig rig(dir_.string());
    Append("acct.csv", 0, 10);
    EXPECT_EQ(rig.PollTotal(), 10u);
    Append("acct.csv", 10, 15);
    fs::copy_file(P("acct.csv"), P("acct-1.csv"));
    EXPECT_EQ(rig.PollTotal(), 15u);  // 10..15 through the copy; the original is suspended
    snap = rig.Snapshot();
  }
  TailerRig again(dir_.string());
  again.Restore(snap);
  EXPECT_EQ(again.PollTotal(), 15u);  // the original is not truncated yet
  ASSERT_EQ(truncate(P("acct.csv").c_str(), 0), 0);
  Append("acct.csv", 15, 18);
  EXPECT_EQ(again.PollTotal(), 18u);
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

// A last line without its line end is not read, and counts as unread (the behind-bytes gauge and
// the one-shot summary) until its end arrives.
TEST_F(TailerTest, PartialLastLineCountsAsUnreadUntilItsEnd) {
  TailerRig rig(dir_.string());
  Append("acct.csv", 0, 1);
  std::string line = Line(1);
  ASSERT_EQ(line.back(), '\n');
  const std::string torn = line.substr(0, line.size() - 2);  // the record, without its CRLF
  {
    std::ofstream f(P("acct.csv"), std::ios::app | std::ios::binary);
    f << torn;
  }
  EXPECT_EQ(rig.PollTotal(), 1u);
  EXPECT_EQ(rig.counts().health.bytes_behind, torn.size());
  EXPECT_EQ(rig.tailer().UnreadTails(), (std::vector<UnreadTail>{{P("acct.csv"), torn.size()}}));
  // Polling again changes nothing: the tailer waits.
  EXPECT_EQ(rig.PollTotal(), 1u);
  EXPECT_EQ(rig.counts().health.bytes_behind, torn.size());
  {
    std::ofstream f(P("acct.csv"), std::ios::app | std::ios::binary);
    f << "\r\n";
  }
  EXPECT_EQ(rig.PollTotal(), 2u);
  EXPECT_EQ(rig.counts().health.bytes_behind, 0u);
  EXPECT_TRUE(rig.tailer().UnreadTails().empty());
}

// Files read to their end are not listed; each file with a torn tail is, under its own path.
TEST_F(TailerTest, UnreadTailsNameEachFileWithATornTail) {
  TailerRig rig(dir_.string());
  Append("acct-a.csv", 0, 2);
  Append("acct-b.csv", 2, 3);
  Append("acct-c.csv", 3, 4);
  {
    std::ofstream f(P("acct-b.csv"), std::ios::app | std::ios::binary);
    f << "d,2025-11-22";
  }
  {
    std::ofstream f(P("acct-c.csv"), std::ios::app | std::ios::binary);
    f << "b";
  }
  EXPECT_EQ(rig.PollTotal(), 4u);
  EXPECT_EQ(rig.tailer().UnreadTails(),
            (std::vector<UnreadTail>{{P("acct-b.csv"), 12}, {P("acct-c.csv"), 1}}));
  EXPECT_EQ(rig.counts().health.bytes_behind, 13u);
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

// Copies a fixture of tests/data into the test's directory. A missing fixture fails the test (it
// is part of the repository, or was not regenerated: tests/data/gen_acct.py fixtures).
void CopyFixture(const std::string& name, const fs::path& to) {
  const fs::path data = OUTPOST_TESTDATA_DIR;
  ASSERT_TRUE(fs::exists(data / name))
      << "missing test fixture " << (data / name)
      << " (regenerate with: python3 tests/data/gen_acct.py fixtures)";
  fs::copy_file(data / name, to / name);
}

// tests/data/README.md gives these counts.
TEST_F(TailerTest, TestdataFilesGiveReadmeCounts) {
  ASSERT_NO_FATAL_FAILURE(CopyFixture("acct-default.csv", dir_));
  ASSERT_NO_FATAL_FAILURE(CopyFixture("acct-imprinted-unixtime.csv", dir_));
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

// The fields of one CSV line (RFC 4180 quotes; no line end inside a field in the fixtures).
std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

// acct-categories.csv (every bounce category, real receivers' long replies, quoted fields, times
// in several zones): every line is counted as the record its type column says, none is
// malformed, and each bounce is counted under its bounceCat.
TEST_F(TailerTest, CategoriesFixtureIsReadWhole) {
  ASSERT_NO_FATAL_FAILURE(CopyFixture("acct-categories.csv", dir_));
  std::ifstream in(P("acct-categories.csv"), std::ios::binary);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = SplitCsvLine(line);
  const auto cat_column = static_cast<std::size_t>(
      std::find(header.begin(), header.end(), "bounceCat") - header.begin());
  ASSERT_LT(cat_column, header.size());
  std::map<std::string, std::uint64_t> by_type, bounces_by_cat;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = SplitCsvLine(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    ++by_type[f[0]];
    if (f[0] == "b") ++bounces_by_cat[f[cat_column]];
  }
  ASSERT_GE(bounces_by_cat.size(), 10u);
  TailerRig rig(dir_.string());
  rig.PollTotal();
  const AcctCounts& c = rig.counts();
  EXPECT_EQ(c.health.malformed_lines, 0u);
  EXPECT_EQ(c.health.unknown_type_records, 0u);
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kDelivered), by_type["d"]);
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kBounced), by_type["b"]);
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kTransient), by_type["t"]);
  EXPECT_EQ(c.TotalOfType(acct::RecordType::kTransientQueue), by_type["tq"]);
  for (const auto& [category, n] : bounces_by_cat) {
    EXPECT_EQ(c.BouncesOfCategory(category), n) << category;
  }
}

}  // namespace
}  // namespace outpost::exporter
