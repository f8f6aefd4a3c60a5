// rb (remote bounce) and f (feedback) records: counted by provider, bounce category / feedback
// type and vmta, from Outpost's files (default header, no feedbackType column) and from
// PowerMTA's own (its f records carry feedbackType).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/provider_map.hpp"
#include "exporter/acct_counts.hpp"
#include "exporter/acct_line_parser.hpp"

namespace outpost::exporter {
namespace {

// Lines as outpostd's mta/returnpath/records.cpp writes them (default header).
constexpr const char* kOutpostLines =
    "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,"
    "srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,"
    "envId,queue,vmtaPool\r\n"
    "rb,2026-12-04 10:00:00+0000,,bounces@bounce.example,ann@gmail.com,rfc822;ann@gmail.com,"
    "failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 no such user,"
    "gmail-smtp-in.l.google.com,bad-mailbox,smtp,mx.google.com (192.0.2.7),,,,,,vmta1,"
    "spring,,,\r\n"
    "rb,2026-12-04 10:00:01+0000,,bounces@bounce.example,bob@hotmail.com,,failed,"
    "5.2.2 (mailbox full),\"smtp;552 5.2.2 over quota, try later\",,quota-issues,smtp,,,,,,,"
    "vmta2,spring,,,\r\n"
    "f,2026-12-04 10:05:00+0000,,bounces@bounce.example,cat@yahoo.com,,,,,fbl.yahoo.com,,smtp,"
    "fbl.yahoo.com (192.0.2.9),,,,,,vmta1,spring,,,\r\n";

// PowerMTA's own accounting file with rb and f in it: the union of their columns, f's
// feedbackType among them (field names as its User's Guide gives them).
constexpr const char* kPowerMtaLines =
    "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,bounceCat,vmta,format,feedbackType,userAgent,"
    "reportingMta\r\n"
    "rb,1733306400,bounces@example.com,dan@outlook.com,5.1.10,smtp;550 5.1.10 RESOLVER.ADR."
    "RecipientNotFound,bad-mailbox,pmta-vmta-a,,,,\r\n"
    "rb,1733306401,bounces@example.com,eve@example.org,5.1.2,smtp;550 5.1.2 bad domain,"
    "bad-domain,pmta-vmta-a,,,,\r\n"
    "f,1733306402,bounces@example.com,fay@aol.com,,,,pmta-vmta-b,arf,abuse,Yahoo!-Mail-Feedback/"
    "2.0,mta.yahoo.com\r\n"
    "f,1733306403,bounces@example.com,gus@gmail.com,,,,pmta-vmta-b,arf,Not-Spam,Example/1.0,"
    "mx.example\r\n"
    "f,1733306404,bounces@example.com,hal@gmail.com,,,,,arf,opt-out,Example/1.0,mx.example\r\n";

// Feeds `text` through a parser into `counts` as the tailer does (rcpt domain -> provider).
void Feed(std::string_view text, AcctCounts& counts, ProviderResolver& resolver) {
  AcctLineParser parser;
  ParsedRecord rec;
  while (!text.empty()) {
    ParseResult r = parser.Parse(text, rec);
    ASSERT_NE(r.kind, LineKind::kIncomplete);
    ASSERT_NE(r.kind, LineKind::kMalformed) << text.substr(0, 80);
    if (r.kind == LineKind::kRecord) counts.Add(rec, resolver.Resolve(RecipientDomain(rec.rcpt)));
    text.remove_prefix(r.consumed);
  }
}

// "name{l1=v1,...}" -> value for every series of the named family.
std::map<std::string, double> Series(const AcctCounts& counts, const std::string& family) {
  std::vector<prometheus::MetricFamily> fams;
  counts.AppendFamilies(fams);
  std::map<std::string, double> out;
  for (const auto& f : fams) {
    if (f.name != family) continue;
    EXPECT_EQ(f.type, prometheus::MetricType::Counter);
    for (const auto& m : f.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      out[key] = m.counter.value;
    }
  }
  return out;
}

class ReturnPathCountsTest : public ::testing::Test {
 protected:
  ProviderMap map_ = ProviderMap::Defaults();
  ProviderResolver resolver_{map_};
  AcctCounts counts_{map_, CountsLimits{}};
};

TEST_F(ReturnPathCountsTest, OutpostRecordsCountByProviderCategoryAndVmta) {
  Feed(kOutpostLines, counts_, resolver_);
  EXPECT_EQ(
      Series(counts_, "outpost_acct_remote_bounces_total"),
      (std::map<std::string, double>{{"category=bad-mailbox,provider=gmail,vmta=vmta1", 1},
                                     {"category=quota-issues,provider=microsoft,vmta=vmta2", 1}}));
  // Outpost's f records have no feedbackType column: "unknown".
  EXPECT_EQ(
      Series(counts_, "outpost_acct_feedback_reports_total"),
      (std::map<std::string, double>{{"feedback_type=unknown,provider=yahoo,vmta=vmta1", 1}}));
  // Still counted by type as before.
  EXPECT_EQ(counts_.TotalOfType(acct::RecordType::kRemoteBounce), 2u);
  EXPECT_EQ(counts_.TotalOfType(acct::RecordType::kFeedback), 1u);
  // Remote bounces are not synchronous bounces.
  EXPECT_EQ(counts_.BouncesOfCategory("bad-mailbox"), 0u);
}

TEST_F(ReturnPathCountsTest, PowerMtaRecordsCountWithFeedbackType) {
  Feed(kPowerMtaLines, counts_, resolver_);
  EXPECT_EQ(Series(counts_, "outpost_acct_remote_bounces_total"),
            (std::map<std::string, double>{
                {"category=bad-domain,provider=other,vmta=pmta-vmta-a", 1},
                {"category=bad-mailbox,provider=microsoft,vmta=pmta-vmta-a", 1}}));
  // Registered types keep their name (any case); an unregistered one is "unknown".
  EXPECT_EQ(
      Series(counts_, "outpost_acct_feedback_reports_total"),
      (std::map<std::string, double>{{"feedback_type=abuse,provider=aol,vmta=pmta-vmta-b", 1},
                                     {"feedback_type=not-spam,provider=gmail,vmta=pmta-vmta-b", 1},
                                     {"feedback_type=unknown,provider=gmail,vmta=none", 1}}));
  EXPECT_EQ(counts_.RemoteBouncesOfCategory("bad-mailbox"), 1u);
  EXPECT_EQ(counts_.FeedbackOfType("abuse"), 1u);
}

TEST_F(ReturnPathCountsTest, UnknownCategoryAndCappedVmtaStayBounded) {
  AcctCounts capped(map_, CountsLimits{.max_vmtas = 1, .max_source_ips = 4});
  Feed(
      "type,rcpt,bounceCat,vmta\r\n"
      "rb,a@gmail.com,free text from a remote server,v1\r\n"
      "rb,b@gmail.com,bad-mailbox,v2\r\n",
      capped, resolver_);
  EXPECT_EQ(Series(capped, "outpost_acct_remote_bounces_total"),
            (std::map<std::string, double>{{"category=bad-mailbox,provider=gmail,vmta=other", 1},
                                           {"category=other,provider=gmail,vmta=v1", 1}}));
}

TEST_F(ReturnPathCountsTest, CountsSurviveTheStateFile) {
  Feed(kOutpostLines, counts_, resolver_);
  Feed(kPowerMtaLines, counts_, resolver_);
  AcctCounts restored(map_, CountsLimits{});
  std::string error;
  ASSERT_TRUE(restored.FromJson(counts_.ToJson(), &error)) << error;
  for (const char* fam :
       {"outpost_acct_remote_bounces_total", "outpost_acct_feedback_reports_total"}) {
    EXPECT_EQ(Series(restored, fam), Series(counts_, fam)) << fam;
  }
  // A state file from before rb/f were counted by label still restores.
  nlohmann::json old = counts_.ToJson();
  old.erase("returnpath");
  AcctCounts from_old(map_, CountsLimits{});
  EXPECT_TRUE(from_old.FromJson(old, &error)) << error;
  EXPECT_TRUE(Series(from_old, "outpost_acct_remote_bounces_total").empty());
}

}  // namespace
}  // namespace outpost::exporter
