#include "mta/smtp/pattern_routes.hpp"

namespace outpost::smtp {

using Subject = config::RoutePattern::Subject;

RouteList::RouteList(const config::PatternList& list) {
  rules_.reserve(list.patterns.size());
  for (const config::RoutePattern& p : list.patterns) {
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (p.icase) flags |= std::regex::icase;
    // The config loader compiled each regex already (CheckRegex), so this cannot throw.
    rules_.push_back(Rule{p.subject, p.header, std::regex(p.regex, flags), p.virtual_mta});
    has_header_rules_ = has_header_rules_ || p.subject == Subject::kHeader;
  }
}

bool RouteList::Matches(const Rule& rule, std::string_view value) const {
  return std::regex_search(value.begin(), value.end(), rule.regex);
}

std::size_t RouteList::Signature(std::string_view mail_from, std::string_view rcpt) const {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (rule.subject == Subject::kHeader) continue;
    if (Matches(rule, rule.subject == Subject::kMailFrom ? mail_from : rcpt)) return i;
  }
  return kNoMatch;
}

std::optional<std::string> RouteList::Route(std::string_view mail_from, std::string_view rcpt,
                                            const HeaderLookup& header) const {
  for (const Rule& rule : rules_) {
    bool match = false;
    if (rule.subject == Subject::kHeader) {
      const std::optional<std::string> value = header(rule.header);
      match = value && Matches(rule, *value);
    } else {
      match = Matches(rule, rule.subject == Subject::kMailFrom ? mail_from : rcpt);
    }
    if (match) return rule.virtual_mta;
  }
  return std::nullopt;
}

PatternRoutes::PatternRoutes(const config::Config& config) : source_(&config) {
  lists_.reserve(config.pattern_lists.size());
  for (const config::PatternList& list : config.pattern_lists) {
    lists_.emplace_back(list.name, RouteList(list));
  }
}

const RouteList* PatternRoutes::Find(const std::string& name) const {
  for (const auto& [list_name, list] : lists_) {
    if (list_name == name) return &list;
  }
  return nullptr;
}

}  // namespace outpost::smtp
