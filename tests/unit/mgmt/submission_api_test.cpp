#include "mta/mgmt/submission_api.hpp"

#include <gtest/gtest.h>

#include "mta/mgmt/access.hpp"

namespace outpost::mgmt {
namespace {

constexpr std::uint64_t kMax = 1000;

std::string Body(const std::string& extra = "",
                 const std::string& recipients = R"([{"address": "a@example.com"}])") {
  return R"({"recipients": )" + recipients +
         R"(, "return_path": "b@example.org", "content": {"email_rfc822": "Subject: x\n\nhi\n"})" +
         extra + "}";
}

TEST(SubmissionParse, GoodRequestFillsTheSubmission) {
  const ParsedTransmission p = ParseTransmission(
      Body(
          R"(, "campaign_id": "J1", "options": {"virtual_mta": "pool1", "envid": "E1"})",
          R"([{"address": "a@example.com"}, {"address": {"email": "c@example.com"}}, "d@example.net"])"),
      kMax);
  ASSERT_EQ(p.status, 0) << p.error;
  const smtp::Submission& s = p.submission;
  EXPECT_EQ(s.mail_from, "b@example.org");
  EXPECT_EQ(s.recipients,
            (std::vector<std::string>{"a@example.com", "c@example.com", "d@example.net"}));
  EXPECT_EQ(s.content, "Subject: x\r\n\r\nhi\r\n");  // bare LF became CRLF
  EXPECT_EQ(s.job_id, "J1");
  EXPECT_EQ(s.vmta, "pool1");
  EXPECT_EQ(s.env_id, "E1");
}

TEST(SubmissionParse, MailFromIsAnAliasAndNullSenderIsAllowed) {
  const ParsedTransmission p = ParseTransmission(
      R"({"recipients": ["a@example.com"], "mail_from": "", "content": {"email_rfc822": "S: 1\r\n\r\nx"}})",
      kMax);
  ASSERT_EQ(p.status, 0) << p.error;
  EXPECT_EQ(p.submission.mail_from, "");
  EXPECT_EQ(p.submission.content, "S: 1\r\n\r\nx\r\n");
}

struct BadCase {
  const char* label;
  std::string body;
  int status;
  const char* says;
};

TEST(SubmissionParse, BadRequestsAreRefusedNamingTheProblem) {
  const std::string long_line(999, 'x');
  std::string many_lines;  // kMax and more, in short lines
  while (many_lines.size() <= kMax) many_lines += std::string(60, 'y') + "\\n";
  const std::vector<BadCase> cases = {
      {"not json", "{recipients", 400, "not valid JSON"},
      {"not an object", "[1]", 400, "JSON object"},
      {"no recipients", Body("", "[]"), 400, "recipients"},
      {"bad address", Body("", R"(["not-an-address"])"), 400, "bad recipient address"},
      {"address not a string", Body("", R"([{"address": 5}])"), 400, "must be a string"},
      {"no content", R"({"recipients": ["a@example.com"], "return_path": "b@example.org"})", 400,
       "content"},
      {"no return path", R"({"recipients": ["a@example.com"], "content": {"email_rfc822": "x"}})",
       400, "return_path"},
      {"both senders", Body(R"(, "mail_from": "x")"), 400, "not both"},
      {"bad return path",
       R"({"recipients": ["a@example.com"], "return_path": "x", "content": {"email_rfc822": "x"}})",
       400, "bad return_path"},
      {"unknown field", Body(R"(, "metadata": {})"), 400, "unknown field: metadata"},
      {"unknown option", Body(R"(, "options": {"open_tracking": true})"), 400, "unknown option"},
      {"substitution", Body(R"(, "substitution_data": {"a": 1})"), 400, "not supported"},
      {"per-recipient substitution",
       Body("", R"([{"address": "a@example.com", "substitution_data": {"n": "x"}}])"), 400,
       "not supported"},
      {"line too long",
       R"({"recipients": ["a@example.com"], "return_path": "", "content": {"email_rfc822": ")" +
           long_line + R"("}})",
       400, "998"},
      {"too large",
       R"({"recipients": ["a@example.com"], "return_path": "", "content": {"email_rfc822": ")" +
           many_lines + R"("}})",
       413, "most accepted"},
  };
  for (const BadCase& c : cases) {
    const ParsedTransmission p = ParseTransmission(c.body, kMax);
    EXPECT_EQ(p.status, c.status) << c.label;
    EXPECT_NE(p.error.find(c.says), std::string::npos) << c.label << ": " << p.error;
  }
}

TEST(SubmissionKeys, BearerOrBareKeyMatchesOnlyAWholeKey) {
  const std::vector<config::ApiKey> keys = {{"app1", "0123456789abcdef"},
                                            {"app2", "fedcba9876543210"}};
  ASSERT_NE(FindApiKey(keys, "Bearer fedcba9876543210"), nullptr);
  EXPECT_EQ(FindApiKey(keys, "Bearer fedcba9876543210")->name, "app2");
  EXPECT_EQ(FindApiKey(keys, "0123456789abcdef")->name, "app1");
  EXPECT_EQ(FindApiKey(keys, "Bearer 0123456789abcde"), nullptr);
  EXPECT_EQ(FindApiKey(keys, "Bearer 0123456789abcdef0"), nullptr);
  EXPECT_EQ(FindApiKey(keys, ""), nullptr);
}

TEST(SubmissionRate, TheBurstIsTheCountThenOneEachInterval) {
  RateLimiter limiter;
  const config::Rate rate{2, config::Seconds(10)};
  const auto at = [](double s) {
    return MonoTime(
        std::chrono::duration_cast<MonoTime::duration>(std::chrono::duration<double>(s)));
  };
  int retry = 0;
  EXPECT_TRUE(limiter.Take("k", rate, at(100), &retry));
  EXPECT_TRUE(limiter.Take("k", rate, at(100), &retry));
  EXPECT_FALSE(limiter.Take("k", rate, at(100), &retry));
  EXPECT_EQ(retry, 5);
  EXPECT_FALSE(limiter.Take("k", rate, at(104.5), &retry));
  EXPECT_EQ(retry, 1) << "0.5 s rounds up";
  EXPECT_TRUE(limiter.Take("other", rate, at(100), &retry));  // per key
  EXPECT_TRUE(limiter.Take("k", rate, at(105), &retry));      // one back after 5 s
  EXPECT_FALSE(limiter.Take("k", rate, at(105), &retry));
  EXPECT_TRUE(limiter.Take("k", rate, at(200), &retry));  // idle: the whole burst again
  EXPECT_TRUE(limiter.Take("k", rate, at(200), &retry));
  EXPECT_FALSE(limiter.Take("k", rate, at(200), &retry));
  EXPECT_TRUE(limiter.Take("k", config::Rate{3, config::Seconds(10)}, at(200), &retry))
      << "a new rate starts afresh";
  EXPECT_TRUE(limiter.Take("k", config::Rate{}, at(105), &retry));  // unlimited
}

TEST(SubmissionAccess, SubmitLevelMaySubmitOnly) {
  EXPECT_TRUE(Permits(config::AccessLevel::kSubmit, Need::kSubmit));
  EXPECT_FALSE(Permits(config::AccessLevel::kSubmit, Need::kMonitor));
  EXPECT_FALSE(Permits(config::AccessLevel::kSubmit, Need::kAdmin));
  EXPECT_TRUE(Permits(config::AccessLevel::kAdmin, Need::kSubmit));
  EXPECT_FALSE(Permits(config::AccessLevel::kMonitor, Need::kSubmit));
  EXPECT_TRUE(IsSubmissionPath("/api/v1/transmissions"));
}

}  // namespace
}  // namespace outpost::mgmt
