#include "mta/returnpath/records.hpp"

#include <gtest/gtest.h>

namespace outpost::returnpath {
namespace {

using acct::Field;

Report SampleBounce() {
  Report r;
  r.understood = true;
  r.original_sender = "bounces+ann=example.com@bounce.example";
  r.job_id = "nov";
  r.env_id = "env1";
  r.vmta = "vmta1";
  FailedRecipient f;
  f.recipient = "ann@example.com";
  f.original_recipient = "rfc822;ann@example.com";
  f.status = "5.1.1";
  f.reply_code = 550;
  f.reply_text = "user unknown";
  f.diagnostic = "smtp;550 5.1.1 user unknown";
  f.remote_mta = "mx.example.com";
  r.failed.push_back(f);
  return r;
}

spool::Envelope ReportEnvelope() {
  spool::Envelope e;
  e.source_ip = "192.0.2.7";
  e.source_helo = "mx.isp.example";
  return e;
}

TEST(Records, RemoteBounceUsesPowerMtaColumns) {
  const Report report = SampleBounce();
  const acct::Record r = RemoteBounceRecord(
      report, report.failed[0], delivery::BounceCategory::kBadMailbox, ReportEnvelope(), 0);
  EXPECT_EQ(r.type, acct::RecordType::kRemoteBounce);
  EXPECT_EQ(acct::RecordTypeCode(r.type), "rb");
  EXPECT_FALSE(r[Field::kTimeLogged].empty());
  EXPECT_EQ(r[Field::kOrig], "bounces+ann=example.com@bounce.example");
  EXPECT_EQ(r[Field::kRcpt], "ann@example.com");
  EXPECT_EQ(r[Field::kOrcpt], "rfc822;ann@example.com");
  EXPECT_EQ(r[Field::kDsnAction], "failed");
  EXPECT_EQ(r[Field::kDsnStatus].rfind("5.1.1 (", 0), 0u) << r[Field::kDsnStatus];
  EXPECT_EQ(r[Field::kDsnDiag], "smtp;550 5.1.1 user unknown");
  EXPECT_EQ(r[Field::kDsnMta], "mx.example.com");
  EXPECT_EQ(r[Field::kBounceCat], "bad-mailbox");
  EXPECT_EQ(r[Field::kSrcType], "smtp");
  EXPECT_EQ(r[Field::kSrcMta], "mx.isp.example (192.0.2.7)");
  EXPECT_EQ(r[Field::kVmta], "vmta1");
  EXPECT_EQ(r[Field::kJobId], "nov");
  EXPECT_EQ(r[Field::kEnvId], "env1");
}

TEST(Records, RemoteBounceWithoutStatusSaysFiveZeroZero) {
  Report report = SampleBounce();
  report.failed[0].status.clear();
  const acct::Record r = RemoteBounceRecord(report, report.failed[0],
                                            delivery::BounceCategory::kOther, ReportEnvelope(), 0);
  EXPECT_EQ(r[Field::kDsnStatus].rfind("5.0.0", 0), 0u) << r[Field::kDsnStatus];
}

TEST(Records, ReplyOfTakesTheClassFromTheStatusWithoutACode) {
  FailedRecipient f;
  f.status = "5.1.1";
  EXPECT_EQ(ReplyOf(f).code, 550);
  EXPECT_EQ(ReplyOf(f).enhanced, "5.1.1");
}

TEST(Records, FeedbackNamesTheComplainer) {
  Report report;
  report.understood = true;
  report.complainer = "frank@isp.example";
  report.original_sender = "bounces@bounce.example";
  report.reporting_mta = "feedback.isp.example";
  report.job_id = "nov";
  report.feedback_type = "not-spam";
  const acct::Record r = FeedbackRecord(report, ReportEnvelope(), 0);
  EXPECT_EQ(r[Field::kFeedbackType], "not-spam");
  EXPECT_EQ(acct::RecordTypeCode(r.type), "f");
  EXPECT_EQ(r[Field::kRcpt], "frank@isp.example");
  EXPECT_EQ(r[Field::kOrig], "bounces@bounce.example");
  EXPECT_EQ(r[Field::kDsnMta], "feedback.isp.example");
  EXPECT_EQ(r[Field::kJobId], "nov");
  EXPECT_TRUE(r[Field::kBounceCat].empty());
}

}  // namespace
}  // namespace outpost::returnpath
