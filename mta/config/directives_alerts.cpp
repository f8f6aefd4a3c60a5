// Alert-driven actions' part of the directive tables: the global `alert-action-token-file` and
// <alert-action NAME> sections (docs/config.md, "Alert-driven actions"). What the actions do at
// run time is mta/mgmt/alert_actions.hpp.
//
// Thread-safety: immutable tables built at first use.
#include <algorithm>
#include <array>
#include <cctype>

#include "common/provider_map.hpp"
#include "mta/config/internal.hpp"
#include "mta/config/setters.hpp"

namespace outpost::config::detail {

namespace {

using I = Implementation;

struct VerbName {
  const char* name;
  AlertVerb verb;
};
constexpr std::array<VerbName, 8> kVerbs = {{
    {"pause-queue", AlertVerb::kPauseQueue},
    {"resume-queue", AlertVerb::kResumeQueue},
    {"backoff-queue", AlertVerb::kBackoffQueue},
    {"pause-vmta", AlertVerb::kPauseVmta},
    {"resume-vmta", AlertVerb::kResumeVmta},
    {"pause-job", AlertVerb::kPauseJob},
    {"resume-job", AlertVerb::kResumeJob},
    {"reroute", AlertVerb::kReroute},
}};

AlertAction& Rule(ParseContext& c) { return c.config->alert_actions[c.index]; }

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text + " ") {
    if (std::isspace(static_cast<unsigned char>(ch)) == 0) {
      word += ch;
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  return words;
}

bool IsLabelName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
  });
}

// match LABEL=VALUE [LABEL=VALUE ...]
Result SetMatch(ParseContext& c, const std::string& v) {
  c.alert_match_seen.insert(c.index);
  const std::vector<std::string> words = Words(v);
  if (words.empty()) return std::string();
  for (const std::string& w : words) {
    const std::size_t eq = w.find('=');
    if (eq == std::string::npos || !IsLabelName(w.substr(0, eq)) || eq + 1 == w.size()) {
      return "'" + Shown(w) + "' is not LABEL=VALUE";
    }
    Rule(c).match.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return std::nullopt;
}

// action VERB TARGET [POOL]
Result SetAction(ParseContext& c, const std::string& v) {
  c.alert_action_seen.insert(c.index);
  const std::vector<std::string> words = Words(v);
  if (words.empty()) return std::string();
  const std::string verb = Lower(words[0]);
  const auto it =
      std::find_if(kVerbs.begin(), kVerbs.end(), [&](const VerbName& n) { return verb == n.name; });
  if (it == kVerbs.end()) return std::string();
  AlertAction& rule = Rule(c);
  rule.verb = it->verb;
  const bool reroute = it->verb == AlertVerb::kReroute;
  if (words.size() != (reroute ? 3U : 2U)) {
    return reroute ? std::string(
                         "reroute takes a provider or a domain list, then a pool: "
                         "reroute gmail warm-pool")
                   : verb + " takes one target";
  }
  rule.target = Lower(words[1]);
  if (it->verb == AlertVerb::kPauseJob || it->verb == AlertVerb::kResumeJob) {
    rule.target = words[1];  // job ids keep their case (X-Job)
  }
  if (it->verb == AlertVerb::kPauseVmta || it->verb == AlertVerb::kResumeVmta) {
    c.references.push_back({Reference::kVmta, rule.target, c.line, "action", {}});
  }
  if (reroute) {
    if (rule.target.find('.') == std::string::npos &&
        ProviderMap::Defaults().IndexOfProvider(rule.target) == 0) {
      return "'" + Shown(rule.target) +
             "' is neither a provider name (gmail, microsoft, yahoo, aol, apple, comcast, gmx) "
             "nor a domain list";
    }
    rule.pool = Lower(words[2]);
    c.references.push_back({Reference::kVmtaOrPool, rule.pool, c.line, "action", {}});
  }
  return std::nullopt;
}

Result SetUndoOnResolve(ParseContext& c, const std::string& v) {
  auto b = ParseBool(v);
  if (!b) return std::string();
  Rule(c).undo_on_resolve = *b;
  return std::nullopt;
}

Result SetFor(ParseContext& c, const std::string& v) {
  auto d = ParseDuration(v);
  if (!d || d->count() < 1) return std::string();
  Rule(c).duration = *d;
  return std::nullopt;
}

const std::vector<DirectiveSpec> kAlertAction = {
    {"match", "match LABEL=VALUE [LABEL=VALUE ...]", "none (required)",
     "The alert's labels that select this rule: every LABEL=VALUE given (on one line or "
     "several) must equal the alert's label exactly. Repeatable.",
     I::kDaemon, SetMatch, "expected LABEL=VALUE pairs like alertname=OutpostDeferralsHigh", true},
    {"action", "action VERB TARGET [POOL]", "none (required)",
     "What to do while the alert fires: `pause-queue Q`, `resume-queue Q`, `backoff-queue Q` (Q "
     "is DOMAIN/VMTA or DOMAIN), `pause-vmta V`, `resume-vmta V`, `pause-job J`, `resume-job J`, "
     "or `reroute PROVIDER|DOMAIN,DOMAIN... POOL` (new mail for the provider's or the listed "
     "domains goes through POOL).",
     I::kDaemon, SetAction,
     "expected a verb (pause-queue, resume-queue, backoff-queue, pause-vmta, resume-vmta, "
     "pause-job, resume-job, reroute) and its target"},
    {"undo-on-resolve", "undo-on-resolve BOOL", "yes",
     "Undo the action when Alertmanager reports the alert resolved (resume what was paused, "
     "normal mode after backoff, end a reroute).",
     I::kDaemon, SetUndoOnResolve, kExpBool},
    {"for", "for DURATION", "none (until resolved)",
     "Undo the action this long after it was taken, even if the alert still fires; resends of "
     "that same alert do not take it again until it has resolved.",
     I::kDaemon, SetFor, kExpDuration},
};

}  // namespace

Result OpenAlertAction(ParseContext& c, const std::string& arg, std::string* key) {
  AlertAction rule;
  rule.name = Lower(arg);
  rule.line = c.line;
  c.config->alert_actions.push_back(rule);
  c.index = c.config->alert_actions.size() - 1;
  *key = rule.name;
  if (!IsToken(arg)) return std::string(kExpName);
  return std::nullopt;
}

const std::vector<DirectiveSpec>& AlertActionDirectives() { return kAlertAction; }

}  // namespace outpost::config::detail

namespace outpost::config {

const char* AlertVerbName(AlertVerb verb) {
  for (const detail::VerbName& n : detail::kVerbs) {
    if (n.verb == verb) return n.name;
  }
  return "?";
}

}  // namespace outpost::config
