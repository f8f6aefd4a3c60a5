// Alert-driven actions (mta/mgmt/alert_actions.hpp): Alertmanager's payload, matching,
// idempotence (resends and a second alert do not stack), undo on resolve, expiry by `for` on a
// simulated clock, reload, restart from the state file, and the bearer token check of POST
// /api/alerts.
#include "mta/mgmt/alert_actions.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

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

// A second engine on the same state file, as a restart (or a kill -9) leaves it.
struct Restarted {
  Fixture f;
  AlertActions actions;
  Restarted(const Fixture& before, const std::string& path) : actions(f.clock, f.metrics, path) {
    f.clock.Advance(
        std::chrono::duration_cast<Nanos>(before.clock.Now().wall - f.clock.Now().wall));
  }
};

std::string StatePath(const char* name) {
  const std::string path = ::testing::TempDir() + "/alert_actions_test_" + name;
  std::remove(path.c_str());
  std::remove((path + ".damaged").c_str());
  return path;
}

TEST(AlertActionsRestart, ActiveActionsAreTakenAgainAndTheResolveStillUndoes) {
  const std::string path = StatePath("restore");
  Fixture f;
  AlertActions before(f.clock, f.metrics, path);
  AlertAction spent_rule = PauseRule("spent");
  spent_rule.duration = std::chrono::seconds(60);
  spent_rule.target = "yahoo.com";
  spent_rule.match = {{"alertname", "Yahoo"}};
  before.SetRules({PauseRule(), spent_rule}, f.run);
  before.Restore(f.run);  // no file yet
  before.Receive({MakeAlert(true, "a"), MakeAlert(true, "b")}, f.run);
  before.Receive({Alert{true, {{"alertname", "Yahoo"}}, "y"}}, f.run);
  f.clock.Advance(std::chrono::seconds(60));
  before.Tick(f.run);  // `spent` expires: y may not take it again until it resolves

  Restarted r(f, path);
  r.f.clock.Advance(std::chrono::seconds(30));
  r.actions.SetRules({PauseRule(), spent_rule}, r.f.run);
  r.actions.Restore(r.f.run);
  EXPECT_EQ(r.f.steps, std::vector<std::string>{"pause-queue gmail.com"});
  const json status = r.actions.Render();
  ASSERT_EQ(status["active"].size(), 1U);
  EXPECT_EQ(status["active"][0]["since"], "2025-01-01T00:00:00Z") << "when it was first taken";
  EXPECT_EQ(status["active"][0]["firing_alerts"], 2);
  EXPECT_EQ(status["active"][0]["alert"]["labels"]["provider"], "gmail");
  EXPECT_EQ(status["recent"][0]["why"], "restored");

  r.actions.Receive({Alert{true, {{"alertname", "Yahoo"}}, "y"}}, r.f.run);
  EXPECT_EQ(r.f.steps.size(), 1U) << "the spent alert stays spent";
  r.actions.Receive({MakeAlert(false, "a")}, r.f.run);
  EXPECT_EQ(r.f.steps.size(), 1U) << "b still fires";
  r.actions.Receive({MakeAlert(false, "b")}, r.f.run);
  EXPECT_EQ(r.f.steps.back(), "undo pause-queue gmail.com");

  Restarted again(r.f, path);
  again.actions.SetRules({PauseRule(), spent_rule}, again.f.run);
  again.actions.Restore(again.f.run);
  EXPECT_TRUE(again.f.steps.empty()) << "the undo was saved too";
}

TEST(AlertActionsRestart, AnActionWhoseRuleIsGoneOrChangedIsDropped) {
  const std::string path = StatePath("dropped");
  Fixture f;
  AlertActions before(f.clock, f.metrics, path);
  AlertAction other = PauseRule("yahoo-pause");
  other.target = "yahoo.com";
  before.SetRules({PauseRule(), other}, f.run);
  before.Restore(f.run);
  before.Receive({MakeAlert(true)}, f.run);

  Restarted r(f, path);
  AlertAction changed = PauseRule();
  changed.verb = AlertVerb::kBackoffQueue;
  r.actions.SetRules({changed}, r.f.run);  // yahoo-pause gone, gmail-pause changed
  r.actions.Restore(r.f.run);
  EXPECT_TRUE(r.f.steps.empty());
  EXPECT_TRUE(r.actions.Render()["active"].empty());

  Restarted again(r.f, path);
  again.actions.SetRules({PauseRule(), other}, again.f.run);
  again.actions.Restore(again.f.run);
  EXPECT_TRUE(again.f.steps.empty()) << "dropped ones are gone from the file";
}

TEST(AlertActionsRestart, ADamagedStateFileIsSetAside) {
  const std::string path = StatePath("damaged");
  {
    std::ofstream out(path);
    out << "{\"active\": [tor";
  }
  Fixture f;
  AlertActions actions(f.clock, f.metrics, path);
  actions.SetRules({PauseRule()}, f.run);
  actions.Restore(f.run);
  EXPECT_TRUE(f.steps.empty());
  EXPECT_TRUE(std::ifstream(path + ".damaged").good());
  actions.Receive({MakeAlert(true)}, f.run);
  EXPECT_TRUE(std::ifstream(path).good()) << "saved afresh";
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
