// Alert-driven actions: Alertmanager's notifications (its webhook payload, version 4) turned into
// the actions that <alert-action> rules declare (docs/config.md, "Alert-driven actions";
// docs/status-api.md, "POST /api/alerts").
//
// What it does. A firing alert whose labels match a rule takes the rule's action (pause a queue,
// put it in backoff, pause a virtual MTA or a job, reroute a provider's new mail, ...) once: the
// rule's action is active while any of the alerts that took it (by Alertmanager's fingerprint)
// still fires, so Alertmanager's resends, and a second alert matching the same rule, do not stack
// it. It is undone when the last of them resolves (undo-on-resolve yes, the default), or when its
// `for` has passed, whichever comes first; after a `for` expiry the same alert does not take it
// again until it has resolved. While an action is active, Tick() asserts it again (pause and
// backoff also reach queues created after it was taken, e.g. a virtual MTA's new queues).
//
// Reload: SetRules() keeps the active actions whose rule still exists with the same action (the
// new undo-on-resolve and `for` apply, counted from when it was taken) and undoes the others.
//
// Restart. With a state file (the daemon's is SPOOL/alert-actions), the active actions (rule,
// action, the firing alerts' fingerprints and labels, since when) and the alerts spent by a `for`
// are written to it whenever they change (ReplaceFileAtomically: a kill -9 leaves the old or the
// new set). Restore(), at start-up, takes each again whose rule still exists with the same action
// (queue pauses and modes are not persistent themselves) and drops, with a log line, those whose
// rule is gone or changed; so after a restart the queue stays paused and the alert's resolve
// still undoes it. A damaged file is set aside as alert-actions.damaged (logged).
//
// Every action taken, undone or failed is logged (category "alerts"), kept in the `recent` list of
// Render() (the last kRecent events) and counted on the bus (OUTPOST_ALERT_ACTION_METRICS).
//
// Thread-safety: Receive(), Tick() and SetRules() on the io thread (the runner calls the
// scheduler); Render() from any thread (one mutex).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/bus/stats.hpp"
#include "mta/config/config.hpp"

// clang-format off
#define OUTPOST_ALERT_ACTION_METRICS(X)                                                           \
  X(Counter, alert_actions_total, "action", "actions",                                            \
    "Alert-driven actions taken, by action (pause-queue, reroute, ...).")                         \
  X(Counter, alert_action_undos_total, "action", "actions",                                       \
    "Alert-driven actions undone (alert resolved, `for` expired or rule gone), by action.")       \
  X(Counter, alert_action_failures_total, "action", "actions",                                    \
    "Alert-driven actions or undos the scheduler refused, by action.")                            \
  X(Counter, alert_notifications_total, "", "notifications",                                      \
    "Alertmanager notifications accepted on POST /api/alerts.")                                   \
  X(Counter, alert_notifications_unauthorized_total, "", "requests",                              \
    "POST /api/alerts refused for a missing or wrong bearer token (401).")                        \
  X(Gauge, alert_actions_active, "", "actions", "Alert-driven actions in effect now.")
// clang-format on

namespace outpost::mgmt {

OUTPOST_DEFINE_STATS(AlertActionMetrics, OUTPOST_ALERT_ACTION_METRICS);

// One alert of a notification.
struct Alert {
  bool firing = true;
  std::map<std::string, std::string> labels;
  std::string fingerprint;  // Alertmanager's; made from the labels when absent
};

// Alertmanager's webhook payload (version "4": {"status", "alerts": [{"status", "labels",
// "fingerprint", ...}]}). nullopt and `error` for anything else.
std::optional<std::vector<Alert>> ParseNotification(const nlohmann::json& body, std::string* error);

// What the scheduler is asked to do: a rule's action, or its undo.
struct ActionStep {
  config::AlertVerb verb = config::AlertVerb::kPauseQueue;
  std::string target;
  std::string pool;
  std::string rule;  // the rule's name (a reroute's key)
  bool undo = false;
  bool reassert = false;  // Tick()'s repeat of an active action (not logged or counted)
};
// Runs a step on the io thread; "" when done, else why it failed.
using ActionRunner = std::function<std::string(const ActionStep&)>;

class AlertActions {
 public:
  static constexpr std::size_t kRecent = 50;

  // `state_path`: where the active actions persist ("" = not at all).
  AlertActions(const Clock& clock, AlertActionMetrics metrics, std::string state_path = "");

  // Io thread. Reload: see the header comment.
  void SetRules(std::vector<config::AlertAction> rules, const ActionRunner& run);
  // Io thread: one notification's alerts. Returns what was done, for the HTTP answer.
  nlohmann::json Receive(const std::vector<Alert>& alerts, const ActionRunner& run);
  // Io thread, once at start-up after the first SetRules(): the actions of the state file taken
  // again (see the header comment). Nothing is written to the state file before.
  void Restore(const ActionRunner& run);
  // Io thread, once a second: undo what expired, assert the rest again.
  void Tick(const ActionRunner& run);
  // {"rules": N, "totals": {...}, "active": [...], "recent": [...]} (docs/status-api.md).
  nlohmann::json Render() const;

 private:
  struct Active {
    config::AlertAction rule;
    std::set<std::string> firing;               // fingerprints of the alerts holding it
    std::map<std::string, std::string> labels;  // the first alert's
    std::int64_t since = 0;                     // unix seconds
    std::optional<std::int64_t> until;
  };

  const config::AlertAction* Rule(const std::string& name) const;
  nlohmann::json Fire(const config::AlertAction& rule, const Alert& alert, const ActionRunner& run);
  nlohmann::json Resolve(const config::AlertAction& rule, const Alert& alert,
                         const ActionRunner& run);
  // Undoes and forgets an active action; `why` is logged ("resolved", "expired", "reload").
  void Undo(const std::string& name, const char* why, const ActionRunner& run);
  bool Run(const config::AlertAction& rule, bool undo, const char* why,
           const std::map<std::string, std::string>& labels, const ActionRunner& run);
  void Remember(nlohmann::json event);
  // Restore()'s one entry of the state file; false when its rule is gone or changed (logged).
  bool RestoreOne(const nlohmann::json& entry, const ActionRunner& run);
  // Writes the state file when the active set or the spent alerts changed since the last write.
  void Persist();
  nlohmann::json StateJson() const;

  const Clock& clock_;
  AlertActionMetrics metrics_;
  const std::string state_path_;
  bool restored_ = false;                               // Restore() ran: Persist() may write
  std::string saved_;                                   // the state file's content as last written
  std::string save_error_;                              // the last write's error, logged once
  std::vector<config::AlertAction> rules_;              // io thread only
  std::map<std::string, std::set<std::string>> spent_;  // rule -> fingerprints expired by `for`

  mutable std::mutex mu_;                 // guards the two below (Render() reads them)
  std::map<std::string, Active> active_;  // by rule name
  std::deque<nlohmann::json> recent_;
};

// True when every one of the rule's LABEL=VALUE pairs equals the alert's label.
bool Matches(const config::AlertAction& rule, const Alert& alert);

}  // namespace outpost::mgmt
