#include "mta/acct/accounting_writer.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/csv.hpp"

namespace outpost::acct {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kHeaderLine = DefaultHeader() + "\r\n";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits a whole file into CSV records (each a vector of fields).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::vector<std::string> fields;
    csv::SplitResult r = csv::SplitRecord(rest, fields);
    EXPECT_EQ(r.status, csv::SplitStatus::kRecord) << "torn or malformed line in file";
    if (r.status != csv::SplitStatus::kRecord) break;
    rows.push_back(fields);
    rest.remove_prefix(r.consumed);
  }
  return rows;
}

Record MakeRecord(RecordType type, const std::string& rcpt) {
  Record r;
  r.type = type;
  r[Field::kTimeLogged] = "2026-11-22 10:47:00+0000";
  r[Field::kOrig] = "sender@example.com";
  r[Field::kRcpt] = rcpt;
  r[Field::kDsnStatus] = "2.0.0 (success)";
  r[Field::kVmta] = "vmta1";
  return r;
}

// A local time point from fields, as the rotated names are written in local time.
Clock::time_point LocalTime(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  return Clock::from_time_t(std::mktime(&tm));
}

class AcctTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outpost-acct-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_.path = (dir_ / "acct.csv").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AccountingWriter> Open() {
    std::string error;
    auto w = AccountingWriter::Open(file_, &error);
    EXPECT_NE(w, nullptr) << error;
    return w;
  }

  // Every file in `dir` (sorted by name), the live file last.
  std::vector<fs::path> AllFiles(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file() && e.path() != fs::path(file_.path)) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    if (fs::exists(file_.path)) out.push_back(file_.path);
    return out;
  }

  // Reads every file; checks each starts with the header; returns rcpt -> times seen.
  std::map<std::string, int> CountRecords(const std::vector<fs::path>& files) {
    std::map<std::string, int> seen;
    for (const auto& f : files) {
      std::string text = ReadFile(f);
      EXPECT_EQ(text.compare(0, kHeaderLine.size(), kHeaderLine), 0) << f << " lacks the header";
      auto rows = ParseCsv(text);
      for (std::size_t i = 1; i < rows.size(); ++i) {
        EXPECT_NE(rows[i][0], "type") << f << ": header repeated inside the file";
        seen[rows[i][4]]++;
      }
    }
    return seen;
  }

  fs::path dir_;
  config::AcctFile file_;
};

TEST_F(AcctTest, HeaderOnNewFileOnly) {
  {
    auto w = Open();
    EXPECT_EQ(ReadFile(file_.path), kHeaderLine) << "header written at open";
    w->Write(MakeRecord(RecordType::kDelivered, "a@x.example"));
  }
  {
    auto w = Open();  // appending to an existing file: no second header
    w->Write(MakeRecord(RecordType::kDelivered, "b@x.example"));
  }
  std::string text = ReadFile(file_.path);
  auto rows = ParseCsv(text);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "type");
  EXPECT_EQ(rows[1][4], "a@x.example");
  EXPECT_EQ(rows[2][4], "b@x.example");
  // An existing but empty file gets the header.
  fs::remove(file_.path);
  std::ofstream(file_.path).close();
  auto w = Open();
  EXPECT_EQ(ReadFile(file_.path), kHeaderLine);
}

TEST_F(AcctTest, LinesAreCrlfAndFollowTheDefaultHeader) {
  auto w = Open();
  w->Write(MakeRecord(RecordType::kBounced, "c@x.example"));
  w->Flush();
  std::string text = ReadFile(file_.path);
  std::string expected = kHeaderLine;
  AppendRecordLine(MakeRecord(RecordType::kBounced, "c@x.example"), expected);
  EXPECT_EQ(text, expected);
  EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
  EXPECT_EQ(text.substr(kHeaderLine.size(), 2), "b,");
  EXPECT_EQ(w->Stats().records_written, 1u);
}

TEST_F(AcctTest, RecordsFilter) {
  struct Case {
    const char* label;
    std::vector<std::string> records;
    std::vector<std::string> kept;
  };
  const Case cases[] = {
      {"empty keeps all", {}, {"d", "b", "t", "tq", "r", "f", "rb"}},
      {"d,b only", {"d", "b"}, {"d", "b"}},
      {"rb is not b", {"b", "f"}, {"b", "f"}},
      {"the return path's", {"rb", "f"}, {"f", "rb"}},
      {"t is not tq", {"t"}, {"t"}},
      {"r only", {"r"}, {"r"}},
  };
  const RecordType all[] = {RecordType::kDelivered,   RecordType::kBounced,
                            RecordType::kTransient,   RecordType::kTransientQueue,
                            RecordType::kReceived,    RecordType::kFeedback,
                            RecordType::kRemoteBounce};
  for (const Case& c : cases) {
    fs::remove(file_.path);
    file_.records = c.records;
    auto w = Open();
    for (RecordType t : all) w->Write(MakeRecord(t, "x@y.example"));
    w->Flush();
    auto rows = ParseCsv(ReadFile(file_.path));
    std::vector<std::string> got;
    for (std::size_t i = 1; i < rows.size(); ++i) got.push_back(rows[i][0]);
    EXPECT_EQ(got, c.kept) << c.label;
    EXPECT_EQ(w->Stats().records_filtered, std::size(all) - c.kept.size()) << c.label;
  }
}

// record-fields: the header is `type` plus the union of the columns the file's types fill, in
// the order given; each record fills only its own type's columns.
TEST_F(AcctTest, RecordFieldsChooseTheColumns) {
  file_.records = {"d", "b"};
  file_.record_fields = {{"d", {"rcpt", "dsnStatus"}, 3}, {"b", {"rcpt", "bounceCat", "vmta"}, 4}};
  auto w = Open();
  Record d = MakeRecord(RecordType::kDelivered, "a@x.example");
  Record b = MakeRecord(RecordType::kBounced, "b@x.example");
  b[Field::kBounceCat] = "bad-mailbox";
  w->Write(d);
  w->Write(b);
  w->Flush();
  auto rows = ParseCsv(ReadFile(file_.path));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"type", "rcpt", "dsnStatus", "bounceCat", "vmta"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"d", "a@x.example", "2.0.0 (success)", "", ""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"b", "b@x.example", "", "bad-mailbox", "vmta1"}));
}

TEST_F(AcctTest, RecordFieldsStarAndTypesWithoutALineKeepEveryColumn) {
  const Layout all = Layout::Default();
  file_.record_fields = {{"d", {}, 3}};  // `record-fields d *`; the other types have no line
  EXPECT_EQ(LayoutFor(file_).Header(), all.Header());
  file_.records = {"d"};
  file_.record_fields = {{"d", {"jobId"}, 3}};
  EXPECT_EQ(LayoutFor(file_).Header(), "type,jobId");
  file_.records = {"d", "t"};  // t has no line: its columns are the default ones
  const Layout mixed = LayoutFor(file_);
  // Neither d nor t is an f record: no feedbackType column.
  EXPECT_EQ(mixed.columns.size(), all.columns.size() - 1);
  EXPECT_EQ(std::count(mixed.columns.begin(), mixed.columns.end(), Field::kFeedbackType), 0);
  EXPECT_EQ(mixed.columns.front(), Field::kJobId) << "d's columns first, in the order given";
  EXPECT_FALSE(mixed.fills[static_cast<std::size_t>(RecordType::kDelivered)]
                          [static_cast<std::size_t>(Field::kRcpt)]);
  EXPECT_TRUE(mixed.fills[static_cast<std::size_t>(RecordType::kTransient)]
                         [static_cast<std::size_t>(Field::kRcpt)]);
}

// A file written with other columns is moved aside at open: no record under a wrong header.
TEST_F(AcctTest, ChangedColumnsMoveTheOldFileAside) {
  {
    auto w = Open();
    w->Write(MakeRecord(RecordType::kDelivered, "old@x.example"));
  }
  file_.records = {"d"};
  file_.record_fields = {{"d", {"rcpt"}, 3}};
  {
    auto w = Open();
    w->Write(MakeRecord(RecordType::kDelivered, "new@x.example"));
  }
  auto files = AllFiles(dir_);
  ASSERT_EQ(files.size(), 2u) << "the old file was rotated aside";
  EXPECT_EQ(ReadFile(files[0]).compare(0, kHeaderLine.size(), kHeaderLine), 0);
  EXPECT_NE(ReadFile(files[0]).find("old@x.example"), std::string::npos);
  EXPECT_EQ(ReadFile(files[1]), "type,rcpt\r\nd,new@x.example\r\n");
  {
    auto w = Open();  // same columns again: appended, not rotated
    w->Write(MakeRecord(RecordType::kDelivered, "more@x.example"));
  }
  EXPECT_EQ(AllFiles(dir_).size(), 2u);
  EXPECT_EQ(ReadFile(file_.path), "type,rcpt\r\nd,new@x.example\r\nd,more@x.example\r\n");
}

TEST_F(AcctTest, Rfc4180Quoting) {
  struct Case {
    const char* label;
    std::string value;
    std::string on_disk;
  };
  const Case cases[] = {
      {"plain", "plain text", "plain text"},
      {"comma", "a,b", "\"a,b\""},
      {"quote", "say \"hi\"", "\"say \"\"hi\"\"\""},
      {"line break", "line1\r\nline2", "\"line1\r\nline2\""},
  };
  for (const Case& c : cases) {
    fs::remove(file_.path);
    auto w = Open();
    Record r = MakeRecord(RecordType::kBounced, "q@x.example");
    r[Field::kDsnDiag] = c.value;
    w->Write(r);
    w->Flush();
    std::string text = ReadFile(file_.path);
    EXPECT_NE(text.find("," + c.on_disk + ","), std::string::npos) << c.label;
    auto rows = ParseCsv(text);
    ASSERT_EQ(rows.size(), 2u) << c.label;
    EXPECT_EQ(rows[1][8], c.value) << c.label << " reads back unchanged";
  }
}

TEST_F(AcctTest, NothingReachesTheFileBeforeFlushOrTick) {
  auto w = Open();
  w->Write(MakeRecord(RecordType::kDelivered, "a@x.example"));
  EXPECT_EQ(ReadFile(file_.path), kHeaderLine) << "buffered, not yet written";
  EXPECT_GT(w->Stats().buffered_bytes, 0u);
  w->Tick(LocalTime(2026, 11, 22, 10, 0, 0));
  EXPECT_EQ(ParseCsv(ReadFile(file_.path)).size(), 2u) << "Tick flushes";
  EXPECT_EQ(w->Stats().buffered_bytes, 0u);
}

TEST_F(AcctTest, RotationBySizeLosesAndDuplicatesNothing) {
  file_.max_size = 2000;
  auto w = Open();
  const auto t0 = LocalTime(2026, 11, 22, 10, 0, 0);
  w->Tick(t0);
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    w->Write(MakeRecord(RecordType::kDelivered, "r" + std::to_string(i) + "@x.example"));
    if (i % 7 == 0) w->Flush();
    if (i % 50 == 0) w->Tick(t0 + seconds(i));  // distinct names for some rotations
  }
  w->Flush();
  auto files = AllFiles(dir_);
  EXPECT_GT(files.size(), 5u);
  EXPECT_EQ(w->Stats().rotations, files.size() - 1);
  for (const auto& f : files) EXPECT_LE(fs::file_size(f), 2000u) << f;
  auto seen = CountRecords(files);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kRecords));
  for (const auto& [rcpt, n] : seen) EXPECT_EQ(n, 1) << rcpt;
  // Collisions within one second get -N suffixes.
  EXPECT_TRUE(fs::exists(dir_ / "acct-2026-11-22-100000.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "acct-2026-11-22-100000-1.csv"));
}

TEST_F(AcctTest, RotationByIntervalUsesTheSimulatedClock) {
  file_.move_interval = hours(1);
  auto w = Open();
  const auto t0 = LocalTime(2026, 11, 22, 10, 0, 0);
  w->Tick(t0);  // the file counts as opened now
  for (int i = 0; i < 10; ++i)
    w->Write(MakeRecord(RecordType::kDelivered, "a" + std::to_string(i)));
  w->Tick(t0 + minutes(59));
  EXPECT_EQ(w->Stats().rotations, 0u);
  for (int i = 0; i < 10; ++i) w->Write(MakeRecord(RecordType::kBounced, "b" + std::to_string(i)));
  w->Tick(t0 + minutes(60) + seconds(5));
  EXPECT_EQ(w->Stats().rotations, 1u);
  const fs::path rotated = dir_ / "acct-2026-11-22-110005.csv";
  ASSERT_TRUE(fs::exists(rotated));
  EXPECT_EQ(ReadFile(file_.path), kHeaderLine) << "fresh file with a header";
  for (int i = 0; i < 5; ++i) w->Write(MakeRecord(RecordType::kTransient, "c" + std::to_string(i)));
  w->Tick(t0 + minutes(90));  // 30 minutes into the new file: no rotation
  EXPECT_EQ(w->Stats().rotations, 1u);
  w->Tick(t0 + minutes(121));
  EXPECT_EQ(w->Stats().rotations, 2u);
  EXPECT_TRUE(fs::exists(dir_ / "acct-2026-11-22-120100.csv"));
  // An empty file is not rotated, it only restarts its interval.
  w->Tick(t0 + minutes(190));
  EXPECT_EQ(w->Stats().rotations, 2u);
  auto seen = CountRecords(AllFiles(dir_));
  EXPECT_EQ(seen.size(), 25u);
  for (const auto& [rcpt, n] : seen) EXPECT_EQ(n, 1) << rcpt;
  EXPECT_EQ(ParseCsv(ReadFile(rotated)).size(), 21u);
}

TEST_F(AcctTest, MoveToPutsRotatedFilesElsewhere) {
  file_.move_interval = minutes(10);
  file_.move_to = (dir_ / "archive").string();
  auto w = Open();
  ASSERT_TRUE(fs::is_directory(*file_.move_to)) << "created at open";
  const auto t0 = LocalTime(2026, 1, 2, 3, 4, 5);
  w->Tick(t0);
  w->Write(MakeRecord(RecordType::kDelivered, "m@x.example"));
  w->Tick(t0 + minutes(10));
  const fs::path moved = fs::path(*file_.move_to) / "acct-2026-01-02-031405.csv";
  ASSERT_TRUE(fs::exists(moved));
  EXPECT_EQ(ParseCsv(ReadFile(moved)).size(), 2u);
  EXPECT_EQ(ReadFile(file_.path), kHeaderLine);
  // Nothing else beside the live file.
  int beside = 0;
  for (const auto& e : fs::directory_iterator(dir_)) beside += e.is_regular_file();
  EXPECT_EQ(beside, 1);
}

TEST_F(AcctTest, DeleteAfterRemovesOldRotatedFilesOnly) {
  file_.delete_after = hours(24);
  auto touch = [&](const std::string& name) { std::ofstream(dir_ / name) << "x"; };
  touch("acct-2026-11-20-090000.csv");    // older than a day at the tick below: deleted
  touch("acct-2026-11-20-090000-2.csv");  // same, with a suffix
  touch("acct-2026-11-21-120000.csv");    // younger: kept
  touch("acct-notes.csv");                // not a rotated name: kept
  touch("other-2026-11-01-000000.csv");   // another file's: kept
  auto w = Open();
  w->Tick(LocalTime(2026, 11, 22, 10, 0, 0));
  EXPECT_FALSE(fs::exists(dir_ / "acct-2026-11-20-090000.csv"));
  EXPECT_FALSE(fs::exists(dir_ / "acct-2026-11-20-090000-2.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "acct-2026-11-21-120000.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "acct-notes.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "other-2026-11-01-000000.csv"));
  EXPECT_TRUE(fs::exists(file_.path));
  w->Tick(LocalTime(2026, 11, 22, 12, 0, 1));
  EXPECT_FALSE(fs::exists(dir_ / "acct-2026-11-21-120000.csv"));
}

TEST_F(AcctTest, WriteErrorKeepsRecordsBuffered) {
  auto w = Open();
  w->Write(MakeRecord(RecordType::kDelivered, "keep@x.example"));
  const auto size_before = fs::file_size(file_.path);
  // A file-size limit at the current size makes the write fail for real (EFBIG).
  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = size_before + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  EXPECT_FALSE(w->Durable()) << "a record that is only buffered is not durable";
  w->Flush();
  WriterStats during = w->Stats();
  const bool durable_during = w->Durable();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(during.healthy);
  EXPECT_EQ(during.write_errors, 1u);
  EXPECT_GT(during.buffered_bytes, 0u);
  EXPECT_EQ(during.records_written, 0u);
  EXPECT_EQ(fs::file_size(file_.path), size_before) << "no torn line left behind";
  EXPECT_FALSE(durable_during) << "the scheduler must not mark the spool done now";
  w->Flush();
  WriterStats after = w->Stats();
  EXPECT_TRUE(w->Durable());
  EXPECT_TRUE(after.healthy);
  EXPECT_EQ(after.buffered_bytes, 0u);
  auto seen = CountRecords({file_.path});
  EXPECT_EQ(seen["keep@x.example"], 1);
}

TEST_F(AcctTest, OpenFailsWithAMessage) {
  file_.path = (dir_ / "missing" / "acct.csv").string();
  std::string error;
  EXPECT_EQ(AccountingWriter::Open(file_, &error), nullptr);
  EXPECT_NE(error.find(file_.path), std::string::npos) << error;
}

TEST_F(AcctTest, AccountingLogWritesEveryFile) {
  config::AcctFile all;
  all.path = (dir_ / "all.csv").string();
  config::AcctFile bounces;
  bounces.path = (dir_ / "bounces.csv").string();
  bounces.records = {"b"};
  std::string error;
  auto log = AccountingLog::Open({all, bounces}, &error);
  ASSERT_NE(log, nullptr) << error;
  log->Write(MakeRecord(RecordType::kDelivered, "d@x.example"));
  log->Write(MakeRecord(RecordType::kBounced, "b@x.example"));
  log->Flush();
  EXPECT_EQ(ParseCsv(ReadFile(all.path)).size(), 3u);
  EXPECT_EQ(ParseCsv(ReadFile(bounces.path)).size(), 2u);
  auto stats = log->Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].records_filtered, 1u);
}

}  // namespace
}  // namespace outpost::acct
