#include "common/csv.hpp"

#include <gtest/gtest.h>

#include "common/acct_format.hpp"

namespace outpost::csv {
namespace {

struct SplitCase {
  const char* label;
  std::string input;
  SplitStatus status;
  std::size_t consumed;
  std::vector<std::string> fields;
};

class SplitRecordTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(SplitRecordTest, Splits) {
  const SplitCase& c = GetParam();
  std::vector<std::string> fields;
  SplitResult r = SplitRecord(c.input, fields);
  EXPECT_EQ(r.status, c.status) << c.label;
  EXPECT_EQ(r.consumed, c.consumed) << c.label;
  if (c.status == SplitStatus::kRecord) {
    EXPECT_EQ(fields, c.fields) << c.label;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SplitRecordTest,
    ::testing::Values(
        SplitCase{"plain_crlf", "a,b,c\r\nnext", SplitStatus::kRecord, 7, {"a", "b", "c"}},
        SplitCase{"plain_lf", "a,b\n", SplitStatus::kRecord, 4, {"a", "b"}},
        SplitCase{"empty_fields", ",,\r\n", SplitStatus::kRecord, 4, {"", "", ""}},
        SplitCase{"quoted_comma", "\"x,y\",z\r\n", SplitStatus::kRecord, 9, {"x,y", "z"}},
        SplitCase{
            "doubled_quote", "\"say \"\"hi\"\"\"\r\n", SplitStatus::kRecord, 14, {"say \"hi\""}},
        SplitCase{"quoted_newline", "\"a\r\nb\",c\r\n", SplitStatus::kRecord, 10, {"a\r\nb", "c"}},
        SplitCase{"no_line_end", "a,b", SplitStatus::kIncomplete, 0, {}},
        SplitCase{"cr_at_end", "a,b\r", SplitStatus::kIncomplete, 0, {}},
        SplitCase{"open_quote", "\"a,b\r\n", SplitStatus::kIncomplete, 0, {}},
        SplitCase{"junk_after_quote", "\"a\"x,b\r\nok\r\n", SplitStatus::kMalformed, 8, {}},
        SplitCase{"quote_inside_bare", "ab\"c,d\n", SplitStatus::kMalformed, 7, {}}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(AppendField, QuotesOnlyWhenNeeded) {
  std::string out;
  AppendField("plain", out);
  out += '|';
  AppendField("a,b", out);
  out += '|';
  AppendField("say \"hi\"", out);
  EXPECT_EQ(out, "plain|\"a,b\"|\"say \"\"hi\"\"\"");
}

TEST(AcctFormat, RecordLineRoundTrips) {
  acct::Record r;
  r.type = acct::RecordType::kTransient;
  r[acct::Field::kDsnDiag] = "smtp;421-4.7.28 rate, \"limited\"";
  r[acct::Field::kQueue] = "gmail.com/vmta1";
  std::string line;
  acct::AppendRecordLine(r, line);
  ASSERT_EQ(line.substr(line.size() - 2), "\r\n");
  std::vector<std::string> fields;
  SplitResult s = SplitRecord(line, fields);
  ASSERT_EQ(s.status, SplitStatus::kRecord);
  EXPECT_EQ(s.consumed, line.size());
  ASSERT_EQ(fields.size(), acct::kFieldCount);
  EXPECT_EQ(fields[0], "t");
  EXPECT_EQ(fields[static_cast<int>(acct::Field::kDsnDiag)], r[acct::Field::kDsnDiag]);
  EXPECT_EQ(fields[static_cast<int>(acct::Field::kQueue)], "gmail.com/vmta1");
}

TEST(AcctFormat, DefaultHeaderMatchesReference) {
  EXPECT_EQ(acct::DefaultHeader(),
            "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,"
            "bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,"
            "dlvSize,vmta,jobId,envId,queue,vmtaPool,feedbackType");
  EXPECT_EQ(acct::ParseFieldName("dlvSourceIp"), acct::Field::kDlvSourceIp);
  EXPECT_EQ(acct::ParseRecordType("tq"), acct::RecordType::kTransientQueue);
  EXPECT_FALSE(acct::ParseRecordType("x").has_value());
}

}  // namespace
}  // namespace outpost::csv
