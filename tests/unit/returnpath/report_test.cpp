// Reading real and sample reports: tests/data/returnpath/ holds a DSN made by the installed
// Postfix (make_postfix_dsn.sh) and samples of the other styles written from their public formats.
#include "mta/returnpath/report.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/verp.hpp"

namespace outpost::returnpath {
namespace {

std::string Sample(const std::string& name) {
  std::ifstream in(OUTPOST_SOURCE_DIR "/tests/data/returnpath/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct BounceCase {
  const char* file;
  const char* envelope_rcpt;
  const char* format;
  const char* recipient;
  const char* status;
  int code;
  const char* text_part;  // a piece of the reply text
  const char* job;
  const char* message_id;
  const char* sender;
  const char* env_id = "";
  const char* vmta = "";
};

class BounceTest : public ::testing::TestWithParam<BounceCase> {};

TEST_P(BounceTest, RecoversRecipientReplyAndOriginal) {
  const BounceCase& c = GetParam();
  const Report r = ParseBounce(Sample(c.file), c.envelope_rcpt);
  ASSERT_TRUE(r.understood) << c.file << ": " << r.problem;
  EXPECT_EQ(r.format, c.format);
  ASSERT_EQ(r.failed.size(), 1u);
  const FailedRecipient& f = r.failed[0];
  EXPECT_EQ(f.recipient, c.recipient);
  EXPECT_EQ(f.status, c.status);
  EXPECT_EQ(f.reply_code, c.code);
  EXPECT_NE(f.reply_text.find(c.text_part), std::string::npos) << f.reply_text;
  EXPECT_EQ(f.diagnostic.rfind("smtp;", 0), 0u) << f.diagnostic;
  EXPECT_EQ(r.job_id, c.job);
  EXPECT_EQ(r.message_id, c.message_id);
  EXPECT_EQ(r.original_sender, c.sender);
  EXPECT_EQ(r.env_id, c.env_id);
  EXPECT_EQ(r.vmta, c.vmta);
}

INSTANTIATE_TEST_SUITE_P(
    Samples, BounceTest,
    ::testing::Values(
        BounceCase{"postfix-dsn.eml", "bounces+ann=receiver.example@bounce.sender.example", "dsn",
                   "ann@receiver.example", "5.1.1", 550, "User unknown in virtual mailbox",
                   "nov-news", "<nov-news-0001@sender.example>",
                   "bounces+ann=receiver.example@bounce.sender.example", "nov-news-0001"},
        BounceCase{"exim-bounce.eml", "bounces+bob=lists.example.org@bounce.sender.example", "exim",
                   "bob@lists.example.org", "5.2.1", 550, "mailbox disabled", "dec-offers",
                   "<dec-offers-0042@sender.example>",
                   "bounces+bob=lists.example.org@bounce.sender.example"},
        BounceCase{"exchange-ndr.eml", "bounces@bounce.sender.example", "exchange",
                   "carol@corp.example.com", "5.1.10", 550, "RecipientNotFound", "q3-reports",
                   "<q3-report-7@sender.example>", "bounces@bounce.sender.example", "",
                   "vmta-blue"},
        BounceCase{"gmail-bounce.eml", "bounces+dave=gmail.com@bounce.sender.example", "gmail",
                   "dave@gmail.com", "5.1.1", 550, "does not exist. Please try", "basket-reminders",
                   "<basket-991@sender.example>", "bounces+dave=gmail.com@bounce.sender.example"},
        BounceCase{"yahoo-bounce.eml", "bounces+erin=yahoo.com@bounce.sender.example", "yahoo",
                   "erin@yahoo.com", "", 554, "doesn't have a yahoo.com account",
                   "basket-reminders", "<basket-992@sender.example>",
                   "bounces+erin=yahoo.com@bounce.sender.example"}),
    [](const ::testing::TestParamInfo<BounceCase>& info) {
      std::string name = info.param.file;
      return name.substr(0, name.find('-'));
    });

TEST(Bounce, PostfixDsnKeepsItsFields) {
  const Report r = ParseBounce(Sample("postfix-dsn.eml"), "x@bounce.sender.example");
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].original_recipient, "rfc822;ann@receiver.example");
  EXPECT_EQ(r.failed[0].remote_mta, "127.0.0.1");
  EXPECT_EQ(r.failed[0].diagnostic,
            "smtp;550 5.1.1 <ann@receiver.example>: Recipient address rejected: User unknown in "
            "virtual mailbox table");
  // X-Postfix-Sender names the original envelope sender, whatever the report was sent to.
  EXPECT_EQ(r.original_sender, "bounces+ann=receiver.example@bounce.sender.example");
}

TEST(Bounce, DsnWithoutFailuresIsNotARemoteBounce) {
  const std::string dsn =
      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n"
      "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
      "Final-Recipient: rfc822; a@example.com\nAction: delayed\nStatus: 4.4.1\n\n--b--\n";
  const Report r = ParseBounce(dsn, "bounces@bounce.example");
  EXPECT_FALSE(r.understood);
  EXPECT_TRUE(r.failed.empty());
}

TEST(Bounce, DsnWithoutRecipientFallsBackToVerp) {
  const std::string dsn =
      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
      "Original-Recipient: rfc822; <>\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n";
  const Report r = ParseBounce(dsn, "bounces-zoe=example.com@bounce.example");
  ASSERT_TRUE(r.understood) << r.problem;
  EXPECT_EQ(r.failed[0].recipient, "zoe@example.com");
  EXPECT_EQ(r.failed[0].status, "5.1.1");
}

// A terse plain-text bounce that names nobody, sent to a VERP address: the address names the
// recipient; the reply comes from the text.
TEST(Bounce, TextBounceWithoutAddressIsReadFromTheVerpEnvelope) {
  const std::string text =
      "From: MAILER-DAEMON@mx.example\r\nSubject: Undeliverable\r\n\r\n"
      "Your message could not be delivered.\r\n"
      "Remote server said: 550 5.1.1 mailbox does not exist\r\n";
  const Report r = ParseBounce(text, "bounces+Zoe=Example.com@bounce.example");
  ASSERT_TRUE(r.understood) << r.problem;
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.format, "verp");
  EXPECT_EQ(r.failed[0].recipient, "zoe@example.com");
  EXPECT_EQ(r.failed[0].reply_code, 550);
  EXPECT_EQ(r.failed[0].status, "5.1.1");
  // Without VERP the same text is not a bounce anyone can attribute.
  EXPECT_FALSE(ParseBounce(text, "bounces@bounce.example").understood);
}

TEST(Bounce, AutoReplyToAVerpAddressIsNotABounce) {
  const std::string reply =
      "From: ann@example.com\r\nSubject: Out of office\r\n\r\nI am away until Monday.\r\n";
  EXPECT_FALSE(ParseBounce(reply, "bounces+ann=example.com@bounce.example").understood);
}

TEST(Verp, RoundTripsWhatOutpostEncodes) {
  for (const char* delimiters : {"+=", "-="}) {
    EXPECT_EQ(VerpRecipient(VerpSender("bounces@b.example", "ann.lee@example.com", delimiters)),
              "ann.lee@example.com");
  }
}

TEST(Bounce, HumanReplyIsNotUnderstood) {
  const Report r = ParseBounce(Sample("human-reply.eml"), "bounces@bounce.sender.example");
  EXPECT_FALSE(r.understood);
  EXPECT_FALSE(r.problem.empty());
}

TEST(Bounce, HostileNestingIsBoundedAndNotUnderstood) {
  std::string message;
  for (int i = 0; i < 200; ++i) {
    message += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
               std::to_string(i) + "\n";
  }
  const Report r = ParseBounce(message, "bounces@bounce.example");
  EXPECT_FALSE(r.understood);
  EXPECT_NE(r.problem.find("nested"), std::string::npos) << r.problem;
}

struct FeedbackCase {
  const char* file;
  const char* format;
  const char* complainer;
  const char* feedback_type;
  const char* job;
  const char* message_id;
  const char* sender;
  const char* vmta = "";
};

class FeedbackTest : public ::testing::TestWithParam<FeedbackCase> {};

TEST_P(FeedbackTest, RecoversComplainerAndOriginal) {
  const FeedbackCase& c = GetParam();
  const Report r = ParseFeedback(Sample(c.file), "fbl@fbl.sender.example");
  ASSERT_TRUE(r.understood) << c.file << ": " << r.problem;
  EXPECT_EQ(r.format, c.format);
  EXPECT_EQ(r.complainer, c.complainer);
  EXPECT_EQ(r.feedback_type, c.feedback_type);
  EXPECT_EQ(r.job_id, c.job);
  EXPECT_EQ(r.message_id, c.message_id);
  EXPECT_EQ(r.original_sender, c.sender);
  EXPECT_EQ(r.vmta, c.vmta);
}

INSTANTIATE_TEST_SUITE_P(
    Samples, FeedbackTest,
    ::testing::Values(
        FeedbackCase{"arf-abuse.eml", "arf", "frank@isp.example", "abuse", "nov-news",
                     "<nov-news-0077@sender.example>",
                     "bounces+frank=isp.example@bounce.sender.example"},
        // Microsoft JMRP: no feedback-report part; the recipient is in X-HmXmrOriginalRecipient.
        FeedbackCase{"jmrp-complaint.eml", "jmrp", "grace@outlook.example", "abuse", "nov-news",
                     "<nov-news-0078@sender.example>", "bounces@bounce.sender.example",
                     "vmta-green"},
        // Yahoo: no Original-Rcpt-To and a redacted To:; the recipient comes from VERP.
        FeedbackCase{"yahoo-arf.eml", "arf", "heidi@yahoo.com", "abuse", "nov-news",
                     "<nov-news-0079@sender.example>",
                     "bounces+heidi=yahoo.com@bounce.sender.example"}),
    [](const ::testing::TestParamInfo<FeedbackCase>& info) {
      std::string name = info.param.file;
      return name.substr(0, name.find('.')).replace(name.find('-'), 1, "_");
    });

TEST(Feedback, ABounceIsNotAComplaint) {
  const Report r = ParseFeedback(Sample("postfix-dsn.eml"), "fbl@fbl.sender.example");
  EXPECT_FALSE(r.understood);
  EXPECT_FALSE(r.problem.empty());
}

TEST(Verp, DecodesPlusOrDashEncodedRecipient) {
  EXPECT_EQ(VerpRecipient("bounces+ann=example.com@bounce.example.net"), "ann@example.com");
  EXPECT_EQ(VerpRecipient("b-Ann.Lee=Example.COM@bounce.example.net"), "ann.lee@example.com");
  EXPECT_EQ(VerpRecipient("bounces@bounce.example.net"), "");
  EXPECT_EQ(VerpRecipient("bounces+ann@bounce.example.net"), "");
  EXPECT_EQ(VerpRecipient("bounces+ann=localhost@bounce.example.net"), "");
  EXPECT_EQ(VerpRecipient(""), "");
}

}  // namespace
}  // namespace outpost::returnpath
