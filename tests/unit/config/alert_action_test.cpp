// <alert-action NAME> and alert-action-token-file (docs/config.md, "Alert-driven actions"): one
// table-driven case per directive, and the errors of a rule that misses what it needs.
#include <gtest/gtest.h>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

constexpr const char* kVmtas =
    "<virtual-mta warm1>\n  smtp-source-host 127.0.0.1 warm1.example.com\n</virtual-mta>\n"
    "<virtual-mta-pool warm-pool>\n  virtual-mta warm1\n</virtual-mta-pool>\n";

LoadResult Load(const std::string& snippet) {
  return ParseConfig(std::string(kMinimal) + kVmtas + snippet, "test.conf");
}

std::string Rule(const std::string& body) {
  return "<alert-action r1>\n  match alertname=X\n" + body + "</alert-action>\n";
}

TEST(AlertActionConfig, ParsesEveryDirective) {
  LoadResult r = Load(
      "alert-action-token-file /etc/outpost/alert-token\n"
      "<alert-action Gmail-Deferrals>\n"
      "  match alertname=OutpostProviderDeferralRatioHigh severity=critical\n"
      "  match provider=gmail\n"
      "  action reroute gmail warm-pool\n"
      "  undo-on-resolve no\n"
      "  for 1h\n"
      "</alert-action>\n");
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->alert_action_token_file, "/etc/outpost/alert-token");
  ASSERT_EQ(r.config->alert_actions.size(), 1U);
  const AlertAction& a = r.config->alert_actions[0];
  EXPECT_EQ(a.name, "gmail-deferrals");
  EXPECT_EQ(a.match, (std::vector<std::pair<std::string, std::string>>{
                         {"alertname", "OutpostProviderDeferralRatioHigh"},
                         {"severity", "critical"},
                         {"provider", "gmail"}}));
  EXPECT_EQ(a.verb, AlertVerb::kReroute);
  EXPECT_EQ(a.target, "gmail");
  EXPECT_EQ(a.pool, "warm-pool");
  EXPECT_FALSE(a.undo_on_resolve);
  EXPECT_EQ(a.duration, std::chrono::seconds(3600));
}

struct VerbCase {
  const char* line;
  AlertVerb verb;
  const char* target;
};

TEST(AlertActionConfig, EveryVerb) {
  const VerbCase cases[] = {
      {"action pause-queue gmail.com/warm1", AlertVerb::kPauseQueue, "gmail.com/warm1"},
      {"action resume-queue Gmail.com", AlertVerb::kResumeQueue, "gmail.com"},
      {"action backoff-queue yahoo.com", AlertVerb::kBackoffQueue, "yahoo.com"},
      {"action pause-vmta warm1", AlertVerb::kPauseVmta, "warm1"},
      {"action resume-vmta warm1", AlertVerb::kResumeVmta, "warm1"},
      {"action pause-job Newsletter-42", AlertVerb::kPauseJob, "Newsletter-42"},
      {"action resume-job n42", AlertVerb::kResumeJob, "n42"},
      {"action reroute gmail.com,googlemail.com warm-pool", AlertVerb::kReroute,
       "gmail.com,googlemail.com"},
  };
  for (const VerbCase& c : cases) {
    LoadResult r = Load(Rule(std::string("  ") + c.line + "\n"));
    for (const ConfigError& e : r.errors) ADD_FAILURE() << c.line << ": " << e.ToString();
    ASSERT_TRUE(r.config) << c.line;
    ASSERT_EQ(r.config->alert_actions.size(), 1U);
    EXPECT_EQ(r.config->alert_actions[0].verb, c.verb) << c.line;
    EXPECT_EQ(r.config->alert_actions[0].target, c.target) << c.line;
    EXPECT_TRUE(r.config->alert_actions[0].undo_on_resolve) << "default yes";
    EXPECT_FALSE(r.config->alert_actions[0].duration) << "default none";
  }
}

struct ErrorCase {
  std::string text;
  const char* expected;  // part of the one error's message
};

TEST(AlertActionConfig, ErrorsNameTheLineAndTheProblem) {
  const ErrorCase cases[] = {
      {Rule("  action explode gmail.com\n"), "expected a verb"},
      {Rule("  action pause-queue\n"), "pause-queue takes one target"},
      {Rule("  action reroute gmail\n"), "reroute takes a provider or a domain list"},
      {Rule("  action pause-vmta nowhere\n"), "nowhere"},
      {Rule("  action reroute gmail nowhere-pool\n"), "nowhere-pool"},
      {Rule("  action reroute hotmale warm-pool\n"), "'hotmale' is neither a provider name"},
      {Rule("  action pause-queue a.com\n  match severity\n"), "is not LABEL=VALUE"},
      {Rule("  action pause-queue a.com\n  for soon\n"), "expected a duration"},
      {Rule("  action pause-queue a.com\n  undo-on-resolve maybe\n"), "expected yes/no"},
      {"<alert-action r2>\n  action pause-queue a.com\n</alert-action>\n", "has no 'match'"},
      {"<alert-action r3>\n  match a=b\n</alert-action>\n", "has no 'action'"},
  };
  for (const ErrorCase& c : cases) {
    LoadResult r = Load(c.text);
    ASSERT_EQ(r.errors.size(), 1U) << c.text;
    EXPECT_NE(r.errors[0].ToString().find(c.expected), std::string::npos) << r.errors[0].ToString();
    EXPECT_NE(r.errors[0].ToString().find("test.conf:"), std::string::npos);
  }
}

}  // namespace
}  // namespace outpost::config
