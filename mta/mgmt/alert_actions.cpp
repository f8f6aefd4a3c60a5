#include "mta/mgmt/alert_actions.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "mta/log/log.hpp"
#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {
namespace {

using config::AlertVerb;
using nlohmann::json;

// Whether Tick() asserts the action again (it reaches queues created after it was taken).
bool Reasserted(AlertVerb verb) {
  return verb == AlertVerb::kPauseQueue || verb == AlertVerb::kBackoffQueue ||
         verb == AlertVerb::kPauseVmta;
}

std::string FingerprintOf(const std::map<std::string, std::string>& labels) {
  std::string text;
  for (const auto& [k, v] : labels) text += k + "=" + v + ";";
  return text;
}

// obj[key] when it is a string, else `fallback` (never throws).
std::string StringOr(const json& obj, const char* key, const std::string& fallback) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::optional<Alert> ParseAlert(const json& a, const std::string& group_status,
                                std::string* error) {
  if (!a.is_object() || !a.contains("labels") || !a["labels"].is_object()) {
    *error = "each alert needs a 'labels' object";
    return std::nullopt;
  }
  Alert alert;
  for (const auto& [k, v] : a["labels"].items()) {
    if (!v.is_string()) {
      *error = "label '" + k + "' is not a string";
      return std::nullopt;
    }
    alert.labels[k] = v.get<std::string>();
  }
  const std::string status = StringOr(a, "status", group_status);
  if (status != "firing" && status != "resolved") {
    *error = "an alert's status must be firing or resolved";
    return std::nullopt;
  }
  alert.firing = status == "firing";
  alert.fingerprint = StringOr(a, "fingerprint", "");
  if (alert.fingerprint.empty()) alert.fingerprint = FingerprintOf(alert.labels);
  return alert;
}

std::string Describe(const config::AlertAction& rule) {
  std::string text = std::string(config::AlertVerbName(*rule.verb)) + " " + rule.target;
  if (!rule.pool.empty()) text += " " + rule.pool;
  return text;
}

json EventJson(const config::AlertAction& rule, const char* event, const char* why,
               const std::map<std::string, std::string>& labels, std::int64_t now) {
  json j = {{"time", IsoTime(now)},
            {"rule", rule.name},
            {"action", config::AlertVerbName(*rule.verb)},
            {"target", rule.target},
            {"event", event},
            {"why", why},
            {"alertname", labels.count("alertname") ? labels.at("alertname") : ""}};
  if (!rule.pool.empty()) j["pool"] = rule.pool;
  return j;
}

bool SameAction(const config::AlertAction& a, const config::AlertAction& b) {
  return a.verb == b.verb && a.target == b.target && a.pool == b.pool;
}

}  // namespace

std::optional<std::vector<Alert>> ParseNotification(const json& body, std::string* error) {
  if (!body.is_object()) {
    *error = "expected Alertmanager's webhook JSON object";
    return std::nullopt;
  }
  if (StringOr(body, "version", "") != "4") {
    *error = "unsupported payload version (expected Alertmanager's \"4\")";
    return std::nullopt;
  }
  if (!body.contains("alerts") || !body["alerts"].is_array()) {
    *error = "the payload has no 'alerts' array";
    return std::nullopt;
  }
  const std::string group_status = StringOr(body, "status", "firing");
  std::vector<Alert> alerts;
  for (const json& a : body["alerts"]) {
    std::optional<Alert> alert = ParseAlert(a, group_status, error);
    if (!alert) return std::nullopt;
    alerts.push_back(std::move(*alert));
  }
  return alerts;
}

bool Matches(const config::AlertAction& rule, const Alert& alert) {
  if (rule.match.empty()) return false;
  return std::all_of(rule.match.begin(), rule.match.end(), [&](const auto& m) {
    const auto it = alert.labels.find(m.first);
    return it != alert.labels.end() && it->second == m.second;
  });
}

AlertActions::AlertActions(const Clock& clock, AlertActionMetrics metrics, std::string state_path)
    : clock_(clock), metrics_(metrics), state_path_(std::move(state_path)) {}

const config::AlertAction* AlertActions::Rule(const std::string& name) const {
  for (const config::AlertAction& r : rules_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

void AlertActions::SetRules(std::vector<config::AlertAction> rules, const ActionRunner& run) {
  std::lock_guard lock(mu_);
  rules_ = std::move(rules);
  std::vector<std::string> gone;
  for (auto& [name, active] : active_) {
    const config::AlertAction* rule = Rule(name);
    if (rule == nullptr || !rule->verb || !SameAction(*rule, active.rule)) {
      gone.push_back(name);
      continue;
    }
    active.rule = *rule;
    active.until.reset();
    if (rule->duration) active.until = active.since + rule->duration->count();
  }
  for (const std::string& name : gone) Undo(name, "reload", run);
  for (auto it = spent_.begin(); it != spent_.end();) {
    it = Rule(it->first) == nullptr ? spent_.erase(it) : std::next(it);
  }
  metrics_.alert_actions_active.series().Set(static_cast<std::int64_t>(active_.size()));
  Persist();
}

json AlertActions::Receive(const std::vector<Alert>& alerts, const ActionRunner& run) {
  std::lock_guard lock(mu_);
  metrics_.alert_notifications_total.series().Add(1);
  json done = json::array();
  for (const Alert& alert : alerts) {
    for (const config::AlertAction& rule : rules_) {
      if (!rule.verb || !Matches(rule, alert)) continue;
      done.push_back(alert.firing ? Fire(rule, alert, run) : Resolve(rule, alert, run));
    }
  }
  metrics_.alert_actions_active.series().Set(static_cast<std::int64_t>(active_.size()));
  Persist();
  return done;
}

json AlertActions::Fire(const config::AlertAction& rule, const Alert& alert,
                        const ActionRunner& run) {
  json answer = {{"rule", rule.name}, {"action", Describe(rule)}};
  if (spent_[rule.name].count(alert.fingerprint) != 0) {
    answer["result"] = "expired (taken again after the alert resolves)";
    return answer;
  }
  const auto it = active_.find(rule.name);
  if (it != active_.end()) {
    it->second.firing.insert(alert.fingerprint);
    answer["result"] = "already active";
    return answer;
  }
  if (!Run(rule, /*undo=*/false, "firing", alert.labels, run)) {
    answer["result"] = "failed";
    return answer;
  }
  Active active{rule, {alert.fingerprint}, alert.labels, clock_.Now().unix_seconds(), {}};
  if (rule.duration) active.until = active.since + rule.duration->count();
  active_.emplace(rule.name, std::move(active));
  answer["result"] = "taken";
  return answer;
}

json AlertActions::Resolve(const config::AlertAction& rule, const Alert& alert,
                           const ActionRunner& run) {
  json answer = {{"rule", rule.name}, {"action", Describe(rule)}};
  spent_[rule.name].erase(alert.fingerprint);
  const auto it = active_.find(rule.name);
  if (it == active_.end() || it->second.firing.erase(alert.fingerprint) == 0) {
    answer["result"] = "not active";
    return answer;
  }
  if (!it->second.firing.empty()) {
    answer["result"] = "still held by other firing alerts";
  } else if (rule.undo_on_resolve) {
    Undo(rule.name, "resolved", run);
    answer["result"] = "undone";
  } else if (!it->second.until) {
    OUTPOST_LOG(kInfo, "alerts") << "alert-action " << rule.name << ": " << Describe(rule)
                                 << " stays in effect (undo-on-resolve no)";
    active_.erase(it);
    answer["result"] = "left in effect (undo-on-resolve no)";
  } else {
    answer["result"] = "in effect until its 'for' expires";
  }
  return answer;
}

void AlertActions::Tick(const ActionRunner& run) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_.Now().unix_seconds();
  std::vector<std::string> expired;
  for (const auto& [name, active] : active_) {
    if (active.until && now >= *active.until) {
      expired.push_back(name);
    } else if (Reasserted(*active.rule.verb)) {
      run(ActionStep{*active.rule.verb, active.rule.target, active.rule.pool, name, false, true});
    }
  }
  for (const std::string& name : expired) {
    spent_[name].insert(active_[name].firing.begin(), active_[name].firing.end());
    Undo(name, "expired", run);
  }
  metrics_.alert_actions_active.series().Set(static_cast<std::int64_t>(active_.size()));
  Persist();
}

void AlertActions::Undo(const std::string& name, const char* why, const ActionRunner& run) {
  const auto it = active_.find(name);
  if (it == active_.end()) return;
  Run(it->second.rule, /*undo=*/true, why, it->second.labels, run);
  active_.erase(it);
}

bool AlertActions::Run(const config::AlertAction& rule, bool undo, const char* why,
                       const std::map<std::string, std::string>& labels, const ActionRunner& run) {
  const std::string error =
      run(ActionStep{*rule.verb, rule.target, rule.pool, rule.name, undo, false});
  const char* action = config::AlertVerbName(*rule.verb);
  const std::int64_t now = clock_.Now().unix_seconds();
  const std::string alertname = labels.count("alertname") ? labels.at("alertname") : "?";
  if (!error.empty()) {
    metrics_.alert_action_failures_total.Add(action, 1);
    OUTPOST_LOG(kWarning, "alerts")
        << "alert-action " << rule.name << " (" << alertname << ", " << why
        << "): " << (undo ? "undoing " : "") << Describe(rule) << " failed: " << error;
    json event = EventJson(rule, undo ? "undo failed" : "failed", why, labels, now);
    event["error"] = error;
    Remember(std::move(event));
    return false;
  }
  (undo ? metrics_.alert_action_undos_total : metrics_.alert_actions_total).Add(action, 1);
  OUTPOST_LOG(kInfo, "alerts") << "alert-action " << rule.name << " (" << alertname << ", " << why
                               << "): " << (undo ? "undid " : "took ") << Describe(rule);
  Remember(EventJson(rule, undo ? "undone" : "taken", why, labels, now));
  return true;
}

void AlertActions::Remember(json event) {
  recent_.push_front(std::move(event));
  if (recent_.size() > kRecent) recent_.pop_back();
}

json AlertActions::StateJson() const {
  json active = json::array();
  for (const auto& [name, a] : active_) {
    active.push_back({{"rule", name},
                      {"action", config::AlertVerbName(*a.rule.verb)},
                      {"target", a.rule.target},
                      {"pool", a.rule.pool},
                      {"firing", a.firing},
                      {"labels", a.labels},
                      {"since", a.since}});
  }
  json spent = json::object();
  for (const auto& [name, fingerprints] : spent_) {
    if (!fingerprints.empty()) spent[name] = fingerprints;
  }
  return {{"version", 1}, {"active", active}, {"spent", spent}};
}

void AlertActions::Persist() {
  if (state_path_.empty() || !restored_) return;  // never over a file not read yet
  std::string text = StateJson().dump() + "\n";
  if (text == saved_) return;
  std::string error;
  if (!ReplaceFileAtomically(state_path_, text, &error)) {
    if (error != save_error_) {
      OUTPOST_LOG(kError, "alerts") << "cannot save the active alert-driven actions: " << error;
    }
    save_error_ = error;
    return;
  }
  saved_ = std::move(text);
  save_error_.clear();
}

void AlertActions::Restore(const ActionRunner& run) {
  if (state_path_.empty()) return;
  std::lock_guard lock(mu_);
  restored_ = true;
  std::ifstream in(state_path_);
  if (!in) return;  // nothing was active (or never saved)
  std::stringstream text;
  text << in.rdbuf();
  saved_ = text.str();
  const json state = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!state.is_object() || !state.value("active", json()).is_array() ||
      !state.value("spent", json::object()).is_object()) {
    const std::string aside = state_path_ + ".damaged";
    std::rename(state_path_.c_str(), aside.c_str());
    OUTPOST_LOG(kError, "alerts") << state_path_ << " is damaged (set aside as " << aside
                                  << "): no alert-driven action restored";
    return;
  }
  for (const json& entry : state["active"]) RestoreOne(entry, run);
  const json spent = state.value("spent", json::object());
  for (const auto& [name, fingerprints] : spent.items()) {
    if (Rule(name) == nullptr || !fingerprints.is_array()) continue;
    for (const json& f : fingerprints) {
      if (f.is_string()) spent_[name].insert(f.get<std::string>());
    }
  }
  metrics_.alert_actions_active.series().Set(static_cast<std::int64_t>(active_.size()));
  Persist();
}

bool AlertActions::RestoreOne(const json& entry, const ActionRunner& run) {
  if (!entry.is_object()) return false;
  const std::string name = StringOr(entry, "rule", "");
  const std::string action = StringOr(entry, "action", "?");
  const std::string target = StringOr(entry, "target", "");
  const config::AlertAction* rule = Rule(name);
  if (rule == nullptr || !rule->verb || config::AlertVerbName(*rule->verb) != action ||
      rule->target != target || rule->pool != StringOr(entry, "pool", "")) {
    OUTPOST_LOG(kWarning, "alerts")
        << "alert-action " << name << ": " << action << " " << target << " dropped at start-up: "
        << (rule == nullptr ? "the rule is no longer in the configuration"
                            : "the rule's action changed");
    return false;
  }
  const auto since = entry.find("since");
  Active active{*rule, {}, {}, clock_.Now().unix_seconds(), {}};
  if (since != entry.end() && since->is_number_integer()) active.since = since->get<std::int64_t>();
  for (const json& f : entry.value("firing", json::array())) {
    if (f.is_string()) active.firing.insert(f.get<std::string>());
  }
  const json labels = entry.value("labels", json::object());
  for (const auto& [k, v] : labels.items()) {
    if (v.is_string()) active.labels[k] = v.get<std::string>();
  }
  if (active.firing.empty() || !Run(*rule, /*undo=*/false, "restored", active.labels, run)) {
    return false;
  }
  if (rule->duration) active.until = active.since + rule->duration->count();
  active_.emplace(name, std::move(active));
  return true;
}

json AlertActions::Render() const {
  std::lock_guard lock(mu_);
  json active = json::array();
  for (const auto& [name, a] : active_) {
    json labels = a.labels;
    json j = {{"rule", name},
              {"action", config::AlertVerbName(*a.rule.verb)},
              {"target", a.rule.target},
              {"alert",
               {{"alertname", a.labels.count("alertname") ? a.labels.at("alertname") : ""},
                {"labels", labels}}},
              {"firing_alerts", a.firing.size()},
              {"since", IsoTime(a.since)},
              {"until", a.until ? json(IsoTime(*a.until)) : json(nullptr)},
              {"undo_on_resolve", a.rule.undo_on_resolve}};
    if (!a.rule.pool.empty()) j["pool"] = a.rule.pool;
    active.push_back(std::move(j));
  }
  const json totals = {{"active", active_.size()},
                       {"taken", metrics_.alert_actions_total.Snapshot().Sum()},
                       {"undone", metrics_.alert_action_undos_total.Snapshot().Sum()},
                       {"failed", metrics_.alert_action_failures_total.Snapshot().Sum()}};
  return {{"rules", rules_.size()},
          {"totals", totals},
          {"active", active},
          {"recent", json(std::vector<json>(recent_.begin(), recent_.end()))}};
}

}  // namespace outpost::mgmt
