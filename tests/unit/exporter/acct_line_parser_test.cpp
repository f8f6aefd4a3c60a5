#include "exporter/acct_line_parser.hpp"

#include <gtest/gtest.h>

#include "common/csv.hpp"
#include "common/time_format.hpp"

namespace outpost::exporter {
namespace {

constexpr const char* kHeader =
    "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,"
    "srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,"
    "envId,queue,vmtaPool\r\n";

struct ParseCase {
  const char* label;
  std::string line;
  LineKind kind;
  std::string rcpt;
  std::string vmta;
  std::int64_t size;
};

class ParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseTest, Parses) {
  const ParseCase& c = GetParam();
  AcctLineParser p;
  ParsedRecord rec;
  ParseResult r = p.Parse(c.line, rec);
  EXPECT_EQ(r.kind, c.kind) << c.label;
  if (c.kind == LineKind::kIncomplete) {
    EXPECT_EQ(r.consumed, 0u) << c.label;
  } else {
    EXPECT_EQ(r.consumed, c.line.size()) << c.label;
  }
  if (c.kind == LineKind::kRecord) {
    EXPECT_EQ(rec.rcpt, c.rcpt) << c.label;
    EXPECT_EQ(rec.vmta, c.vmta) << c.label;
    EXPECT_EQ(rec.size, c.size) << c.label;
  }
}

const std::string kD =
    "d,2025-11-22 10:00:02+0000,2025-11-22 10:00:00+0000,news@example.com,ann@gmail.com,,relayed,"
    "2.0.0 (success),smtp;250 ok,mx (192.0.2.27),success,smtp,app (198.51.100.163),smtp,"
    "203.0.113.10,192.0.2.27,\"PIPELINING,8BITMIME\",4211,vmta1,job,,gmail.com/vmta1,pool1";

INSTANTIATE_TEST_SUITE_P(
    Table, ParseTest,
    ::testing::Values(
        ParseCase{"crlf_record", kD + "\r\n", LineKind::kRecord, "ann@gmail.com", "vmta1", 4211},
        ParseCase{"lf_record", kD + "\n", LineKind::kRecord, "ann@gmail.com", "vmta1", 4211},
        ParseCase{"partial_line_waits", kD, LineKind::kIncomplete, "", "", 0},
        ParseCase{"cr_at_end_waits", kD + "\r", LineKind::kIncomplete, "", "", 0},
        ParseCase{"header_line", kHeader, LineKind::kHeader, "", "", 0},
        ParseCase{"too_few_fields", "d,2025-11-22 10:00:02+0000,x\r\n", LineKind::kMalformed, "",
                  "", 0},
        ParseCase{"stray_quote", "d,ab\"c,x\r\n", LineKind::kMalformed, "", "", 0},
        ParseCase{"bad_time", "d,yesterday" + kD.substr(kD.find(",2025-11-22 10:00:00")) + "\r\n",
                  LineKind::kMalformed, "", "", 0},
        ParseCase{"unknown_type", "zz" + kD.substr(1) + "\r\n", LineKind::kUnknownType, "", "", 0},
        ParseCase{"quoted_local_part",
                  "d,2025-11-22 10:00:07+0000,2025-11-22 09:59:59+0000,\"Quoted, "
                  "Sender\"@example.com,\"x\"\"y\"@gmx.de,,relayed,2.0.0,smtp;250,m,success,smtp,"
                  "a,smtp,203.0.113.10,192.0.2.50,\"8BITMIME,SIZE\",88123,\"vm,1\",,ENV-42,"
                  "gmx.de/vmta1,pool1\r\n",
                  LineKind::kRecord, "x\"y@gmx.de", "vm,1", 88123},
        ParseCase{"quoted_newline_in_diag",
                  "t,1763805604,1763805600,o,eve@hotmail.com,,delayed,4.7.0,\"smtp;451\r\nmore\","
                  "m,policy-related,smtp,a,smtp,203.0.113.11,192.0.2.81,,4211,vmta2,J1,,q,p\r\n",
                  LineKind::kRecord, "eve@hotmail.com", "vmta2", 4211}));

TEST(AcctLineParser, HeaderDecidesColumnsWithUnknownAndImprintedColumns) {
  AcctLineParser p;
  ParsedRecord rec;
  std::string header =
      "type,timeLogged,timeImprinted,vmta,header_X-Job,rcpt,dlvSize,header_Subject\n";
  ASSERT_EQ(p.Parse(header, rec).kind, LineKind::kHeader);
  std::string line = "b,1763805603,1763805600,vmta3,J1,zed@aol.com,77,\"Hello, world\"\n";
  ParseResult r = p.Parse(line, rec);
  ASSERT_EQ(r.kind, LineKind::kRecord);
  EXPECT_EQ(rec.type, acct::RecordType::kBounced);
  EXPECT_EQ(rec.time_logged, 1763805603);
  EXPECT_EQ(rec.time_queued, -1);  // no timeQueued column
  EXPECT_EQ(rec.vmta, "vmta3");
  EXPECT_EQ(rec.rcpt, "zed@aol.com");
  EXPECT_EQ(rec.size, 77);
}

// The return path's records (#17): rb is its own type (counted as remote_bounce), f feedback.
TEST(AcctLineParser, RemoteBounceAndFeedbackTypes) {
  AcctLineParser p;
  ParsedRecord rec;
  ASSERT_EQ(p.Parse("type,timeLogged,rcpt,bounceCat\n", rec).kind, LineKind::kHeader);
  ASSERT_EQ(p.Parse("rb,1763805603,ann@gmail.com,bad-mailbox\n", rec).kind, LineKind::kRecord);
  EXPECT_EQ(rec.type, acct::RecordType::kRemoteBounce);
  EXPECT_EQ(rec.rcpt, "ann@gmail.com");
  ASSERT_EQ(p.Parse("f,1763805603,bob@yahoo.com,\n", rec).kind, LineKind::kRecord);
  EXPECT_EQ(rec.type, acct::RecordType::kFeedback);
}

struct TimeCase {
  const char* label;
  const char* text;
};

class TimeTest : public ::testing::TestWithParam<TimeCase> {};

// The fast path must agree with the shared parser on every input form.
TEST_P(TimeTest, AgreesWithParseAcctTime) {
  const TimeCase& c = GetParam();
  EXPECT_EQ(ParseAcctTimeFast(c.text), timefmt::ParseAcctTime(c.text)) << c.label;
}

INSTANTIATE_TEST_SUITE_P(Table, TimeTest,
                         ::testing::Values(TimeCase{"utc", "2025-11-22 10:00:02+0000"},
                                           TimeCase{"east_offset", "2025-08-24 16:00:14+0530"},
                                           TimeCase{"west_offset", "2024-02-29 23:59:59-0800"},
                                           TimeCase{"pre_epoch_leap", "1969-12-31 23:59:59+0000"},
                                           TimeCase{"unix_seconds", "1763805602"},
                                           TimeCase{"no_offset", "2025-11-22 10:00:02"},
                                           TimeCase{"bad_month", "2025-13-22 10:00:02+0000"},
                                           TimeCase{"letters", "2025-1x-22 10:00:02+0000"},
                                           TimeCase{"garbage", "abc"}));

TEST(AcctLineParser, AgreesWithCsvSplitRecordOnConformingInput) {
  // Differential check against the shared RFC 4180 splitter for the needed columns.
  std::vector<std::string> lines = {
      kD + "\r\n",
      "b,2025-11-22 10:00:04+0000,2025-11-22 "
      "10:00:00+0000,n@e.com,\"a,b\"\"c@outlook.com\",,failed,"
      "5.1.1,\"smtp;550 x, y\",m,bad-mailbox,smtp,a,smtp,203.0.113.11,192.0.2.80,\"P,S\",4211,"
      "vmta2,job,,outlook.com/vmta2,pool1\r\n"};
  for (const std::string& line : lines) {
    std::vector<std::string> fields;
    ASSERT_EQ(csv::SplitRecord(line, fields).status, csv::SplitStatus::kRecord);
    AcctLineParser p;
    ParsedRecord rec;
    ASSERT_EQ(p.Parse(line, rec).kind, LineKind::kRecord);
    EXPECT_EQ(rec.rcpt, fields[4]);
    EXPECT_EQ(rec.bounce_cat, fields[10]);
    EXPECT_EQ(rec.source_ip, fields[14]);
    EXPECT_EQ(rec.vmta, fields[18]);
    EXPECT_EQ(rec.queue, fields[21]);
  }
}

TEST(Domains, FromRecipientAndQueue) {
  EXPECT_EQ(RecipientDomain("ann@gmail.com"), "gmail.com");
  EXPECT_EQ(RecipientDomain("<a@b@x.org>"), "x.org");
  EXPECT_EQ(RecipientDomain("nobody"), "");
  EXPECT_EQ(QueueDomain("example.net/vmta1"), "example.net");
}

}  // namespace
}  // namespace outpost::exporter
