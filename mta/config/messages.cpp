// The parser's messages for names it does not know: an unknown directive or section, told apart
// from a real PowerMTA name that Outpost does not implement (powermta_names.cpp), with scope
// advice only when moving the line keeps its meaning and "did you mean" only for a likely typo.
// Also Shown(), which cuts values echoed in messages to a readable length.
//
// Thread-safety: stateless functions over immutable tables.
#include <algorithm>

#include "mta/config/internal.hpp"

namespace outpost::config {

namespace {

constexpr std::size_t kShownMax = 60;

std::string ScopeText(const ScopeSpec& s) {
  return s.scope == Scope::kGlobal ? std::string("the global scope")
                                   : "<" + std::string(s.tag) + ">";
}

struct Candidate {
  std::string name;
  bool powermta_only = false;
};

// The closest of `candidates` to `name` when it is close enough to be a typo; null otherwise.
const Candidate* Closest(const std::string& name, const std::vector<Candidate>& candidates) {
  const Candidate* best = nullptr;
  std::size_t best_distance = std::string::npos;
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 4);
  for (const Candidate& c : candidates) {
    // The distance is at least the length difference: skip what cannot be within the limit, so
    // a long garbage word costs no |name| x |candidate| table per directive name (found by
    // fuzz/config_fuzzer: a 4 KB unknown word took milliseconds).
    const std::size_t gap =
        name.size() > c.name.size() ? name.size() - c.name.size() : c.name.size() - name.size();
    if (gap > limit) continue;
    const std::size_t d = EditDistance(name, c.name);
    if (d < best_distance) {
      best_distance = d;
      best = &c;
    }
  }
  return best != nullptr && best_distance <= limit ? best : nullptr;
}

std::string Hint(const Candidate* c) {
  if (c == nullptr) return "";
  if (c->powermta_only) {
    return " (did you mean '" + c->name + "'? It is a PowerMTA name that Outpost does not " +
           "support yet)";
  }
  return " (did you mean '" + c->name + "'?)";
}

constexpr const char* kSeeDocs = "see docs/config.md";

}  // namespace

std::string Shown(std::string_view value) {
  std::string out;
  const std::size_t keep = value.size() > kShownMax + 20 ? kShownMax : value.size();
  out.reserve(keep + 32);
  for (std::size_t i = 0; i < keep; ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    out.push_back(value[i] == '\t' ? ' ' : u < 0x20 || u == 0x7f ? '?' : value[i]);
  }
  if (keep < value.size()) out += "... (" + std::to_string(value.size()) + " characters)";
  return out;
}

std::string UnknownDirectiveMessage(const ScopeSpec& scope, const std::string& name) {
  const std::string shown = Shown(name);
  const PowerMtaName* pmta = FindPowerMtaDirective(name);
  const bool pmta_here = pmta != nullptr && (pmta->scopes & PowerMtaScopeBit(scope.scope)) != 0;
  std::string elsewhere;
  for (const ScopeSpec& other : Scopes()) {
    if (&other != &scope && FindDirective(other, name) != nullptr) {
      elsewhere += std::string(elsewhere.empty() ? "" : " or ") + ScopeText(other);
    }
  }
  // Moving the line elsewhere keeps its meaning only when PowerMTA does not use the same name
  // here for something else (max-smtp-out in <virtual-mta> is the virtual MTA's own total).
  if (!elsewhere.empty() && !pmta_here) {
    return "'" + shown + "' is not allowed in " + ScopeText(scope) + "; it belongs in " + elsewhere;
  }
  if (pmta != nullptr) {
    std::string message = "'" + shown + "' is a PowerMTA directive not supported by Outpost";
    if (!elsewhere.empty()) {
      message += " in " + ScopeText(scope) + " (Outpost has it in " + elsewhere +
                 ", where it does not do the same)";
    }
    if (pmta->note != nullptr) message += ": " + std::string(pmta->note);
    return message + " (" + kSeeDocs + ")";
  }
  std::vector<Candidate> candidates;
  for (const DirectiveSpec& d : *scope.directives) candidates.push_back({d.name, false});
  const Candidate* best = Closest(name, candidates);
  if (best == nullptr) {
    for (const ScopeSpec& other : Scopes()) {
      for (const DirectiveSpec& d : *other.directives) candidates.push_back({d.name, false});
    }
    for (const PowerMtaName& n : PowerMtaDirectives()) candidates.push_back({n.name, true});
    best = Closest(name, candidates);
  }
  return "unknown directive '" + shown + "' in " + ScopeText(scope) + Hint(best);
}

std::string UnknownSectionMessage(const std::string& tag) {
  const std::string shown = Shown(tag);
  if (const PowerMtaName* pmta = FindPowerMtaSection(tag)) {
    std::string message = "<" + shown + "> is a PowerMTA section not supported by Outpost";
    if (pmta->note != nullptr) message += ": " + std::string(pmta->note);
    return message + " (" + kSeeDocs + "); its contents are skipped";
  }
  std::vector<Candidate> candidates;
  for (const ScopeSpec& s : Scopes()) {
    if (s.scope != Scope::kGlobal) candidates.push_back({s.tag, false});
  }
  for (const PowerMtaName& n : PowerMtaSections()) candidates.push_back({n.name, true});
  return "unknown section <" + shown + ">" + Hint(Closest(tag, candidates));
}

}  // namespace outpost::config
