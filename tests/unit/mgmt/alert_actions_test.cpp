// Alert-driven actions (mta/mgmt/alert_actions.hpp): Alertmanager's payload, matching,
// idempotence (resends and a second alert do not stack), undo on resolve, expiry by `for` on a
// simulated clock, reload, and the bearer token check of POST /api/alerts.
#include "mta/mgmt/alert_actions.hpp"

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "mta/mgmt/alert_actions_api.hpp"

namespace outpost::mgmt {
namespace {

using config::AlertAction;
using config::AlertVerb;
using nlohmann::json;

AlertAction PauseRule(const std::string& name = "gmail-pause") {
  AlertAction rule;
  rule.name = name;
  rule.match = {{"alertname", "Deferrals"}, {"provider", "gmail"}};
  rule.verb = AlertVerb::kPauseQueue;
  rule.target = "gmail.com";
  return rule;
}

Alert MakeAlert(bool firing, const std::string& fingerprint = "fp1",
                const std::string& provider = "gmail") {
  return Alert{firing, {{"alertname", "Deferrals"}, {"provider", provider}}, fingerprint};
}

// Records every step the engine asks the scheduler for.
struct Fixture {
  SimulatedClock clock;
  bus::Registry registry{clock};
  AlertActionMetrics metrics = AlertActionMetrics::Register(registry);
  AlertActions actions{clock, metrics};
  std::vector<std::string> steps;  // "pause-queue gmail.com", "undo pause-queue gmail.com"
  std::string fail;                // a non-empty answer makes every step fail
  ActionRunner run = [this](const ActionStep& s) {
    steps.push_back(std::string(s.reassert ? "again "
                                : s.undo   ? "undo "
                                           : "") +
                    config::AlertVerbName(s.verb) + " " + s.target);
    return fail;
  };
  std::int64_t Taken(const char* action) {
    return metrics.alert_actions_total.With(action)->value();
  }
  std::int64_t Undone(const char* action) {
    return metrics.alert_action_undos_total.With(action)->value();
  }
};

TEST(AlertNotification, ParsesAlertmanagersPayload) {
  const json body = json::parse(R"({
    "version": "4", "status": "firing", "receiver": "outpost-actions", "groupKey": "{}:{}",
    "alerts": [
      {"status": "firing", "labels": {"alertname": "Deferrals", "provider": "gmail"},
       "annotations": {"summary": "s"}, "startsAt": "2026-12-05T01:00:00Z",
       "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc"},
      {"status": "resolved", "labels": {"alertname": "Deferrals", "provider": "yahoo"}}
    ]})");
  std::string error;
  auto alerts = ParseNotification(body, &error);
  ASSERT_TRUE(alerts) << error;
  ASSERT_EQ(alerts->size(), 2U);
  EXPECT_TRUE((*alerts)[0].firing);
  EXPECT_EQ((*alerts)[0].fingerprint, "abc");
  EXPECT_EQ((*alerts)[0].labels.at("provider"), "gmail");
  EXPECT_FALSE((*alerts)[1].firing);
  EXPECT_FALSE((*alerts)[1].fingerprint.empty()) << "made from the labels";
}

TEST(AlertNotification, RefusesWhatIsNotThePayload) {
  std::string error;
  for (const char* text : {R"([])", R"({"version": "3", "alerts": []})", R"({"version": "4"})",
                           R"({"version": "4", "alerts": [{"labels": {"a": 1}}]})",
                           R"({"version": "4", "alerts": [{"status": "odd", "labels": {}}]})"}) {
    EXPECT_FALSE(ParseNotification(json::parse(text), &error)) << text;
    EXPECT_FALSE(error.empty());
  }
}

TEST(AlertActions, MatchesEveryLabelExactly) {
  const AlertAction rule = PauseRule();
  EXPECT_TRUE(Matches(rule, MakeAlert(true)));
  EXPECT_FALSE(Matches(rule, MakeAlert(true, "fp1", "yahoo")));
  EXPECT_FALSE(Matches(rule, Alert{true, {{"alertname", "Deferrals"}}, "x"}));
  AlertAction none = rule;
  none.match.clear();
  EXPECT_FALSE(Matches(none, MakeAlert(true))) << "a rule without match lines matches nothing";
}

TEST(AlertActions, FiringTwiceDoesNotStackAndResolveUndoes) {
  Fixture f;
  f.actions.SetRules({PauseRule()}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);  // Alertmanager's resend
  EXPECT_EQ(f.steps, std::vector<std::string>{"pause-queue gmail.com"});
  EXPECT_EQ(f.Taken("pause-queue"), 1);
  const json status = f.actions.Render();
  ASSERT_EQ(status["active"].size(), 1U);
  EXPECT_EQ(status["active"][0]["rule"], "gmail-pause");
  EXPECT_EQ(status["active"][0]["alert"]["alertname"], "Deferrals");
  EXPECT_EQ(status["active"][0]["until"], nullptr);

  f.actions.Receive({MakeAlert(false)}, f.run);
  EXPECT_EQ(f.steps.back(), "undo pause-queue gmail.com");
  EXPECT_EQ(f.Undone("pause-queue"), 1);
  EXPECT_TRUE(f.actions.Render()["active"].empty());
  EXPECT_EQ(f.actions.Render()["recent"][0]["event"], "undone");
}

TEST(AlertActions, TwoAlertsHoldOneActionUntilBothResolve) {
  Fixture f;
  f.actions.SetRules({PauseRule()}, f.run);
  f.actions.Receive({MakeAlert(true, "a"), MakeAlert(true, "b")}, f.run);
  f.actions.Receive({MakeAlert(false, "a")}, f.run);
  EXPECT_EQ(f.steps.size(), 1U) << "b still fires";
  f.actions.Receive({MakeAlert(false, "b")}, f.run);
  EXPECT_EQ(f.steps.back(), "undo pause-queue gmail.com");
}

TEST(AlertActions, UndoOnResolveNoLeavesItInEffect) {
  Fixture f;
  AlertAction rule = PauseRule();
  rule.undo_on_resolve = false;
  f.actions.SetRules({rule}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);
  f.actions.Receive({MakeAlert(false)}, f.run);
  EXPECT_EQ(f.steps, std::vector<std::string>{"pause-queue gmail.com"});
  EXPECT_TRUE(f.actions.Render()["active"].empty());
}

TEST(AlertActions, ForExpiresOnTheClockAndIsNotRetakenUntilResolved) {
  Fixture f;
  AlertAction rule = PauseRule();
  rule.duration = std::chrono::seconds(3600);
  f.actions.SetRules({rule}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);
  EXPECT_EQ(f.actions.Render()["active"][0]["until"], "2025-01-01T01:00:00Z");
  f.clock.Advance(std::chrono::seconds(3599));
  f.actions.Tick(f.run);
  EXPECT_EQ(f.steps.back(), "again pause-queue gmail.com") << "asserted again while active";
  f.clock.Advance(std::chrono::seconds(1));
  f.actions.Tick(f.run);
  EXPECT_EQ(f.steps.back(), "undo pause-queue gmail.com");
  EXPECT_TRUE(f.actions.Render()["active"].empty());
  const std::size_t steps = f.steps.size();
  f.actions.Receive({MakeAlert(true)}, f.run);  // resent while it still fires
  EXPECT_EQ(f.steps.size(), steps);
  f.actions.Receive({MakeAlert(false)}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);  // fires anew
  EXPECT_EQ(f.steps.back(), "pause-queue gmail.com");
}

TEST(AlertActions, AFailureIsCountedAndNotActive) {
  Fixture f;
  f.fail = "no such job: j1";
  f.actions.SetRules({PauseRule()}, f.run);
  const json done = f.actions.Receive({MakeAlert(true)}, f.run);
  EXPECT_EQ(done[0]["result"], "failed");
  EXPECT_EQ(f.metrics.alert_action_failures_total.With("pause-queue")->value(), 1);
  EXPECT_TRUE(f.actions.Render()["active"].empty());
  EXPECT_EQ(f.actions.Render()["recent"][0]["error"], "no such job: j1");
}

TEST(AlertActions, ReloadKeepsUnchangedRulesAndUndoesTheRest) {
  Fixture f;
  AlertAction other = PauseRule("yahoo-backoff");
  other.verb = AlertVerb::kBackoffQueue;
  other.target = "yahoo.com";
  f.actions.SetRules({PauseRule(), other}, f.run);
  f.actions.Receive({MakeAlert(true)}, f.run);
  EXPECT_EQ(f.actions.Render()["active"].size(), 2U);
  AlertAction changed = PauseRule();
  changed.duration = std::chrono::seconds(60);
  f.actions.SetRules({changed}, f.run);
  EXPECT_EQ(f.steps.back(), "undo backoff-queue yahoo.com");
  const json active = f.actions.Render()["active"];
  ASSERT_EQ(active.size(), 1U);
  EXPECT_EQ(active[0]["until"], "2025-01-01T00:01:00Z") << "the new `for`, from when it was taken";
}

TEST(AlertApi, BearerTokenMustMatchExactly) {
  EXPECT_TRUE(BearerMatches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerMatches("Bearer s3cretX", "s3cret"));
  EXPECT_FALSE(BearerMatches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(BearerMatches("", "s3cret"));
}

}  // namespace
}  // namespace outpost::mgmt
