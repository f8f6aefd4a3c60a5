// The <pattern-list>s of one configuration, compiled: which virtual MTA a source's message goes
// through, by its sender, its recipient or a header (config::PatternList).
//
// The lines of a list are tried in file order and the first that matches decides: a `mail-from`
// line tests the envelope sender, a `rcpt-to` line the recipient, a `header NAME` line the first
// NAME field of the message as it arrived (unfolded; a message without the field does not
// match). A regex matches when it is found anywhere in the value (ECMAScript search).
//
// Outpost keeps one virtual MTA per message, while a `rcpt-to` line routes one recipient. So the
// SMTP session keeps in one transaction only recipients for which the list decides the same way:
// Signature() is the index of the first `mail-from` or `rcpt-to` line that matches a recipient
// (header lines are unknown until DATA); recipients with the same signature always end up with
// the same virtual MTA, whatever the headers. A recipient with another signature is answered
// 452 4.5.3 and the client sends it in a later transaction (RFC 5321 section 3.3).
//
// Thread-safety: immutable once built; share freely.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "mta/config/config.hpp"

namespace outpost::smtp {

class RouteList {
 public:
  explicit RouteList(const config::PatternList& list);

  static constexpr std::size_t kNoMatch = static_cast<std::size_t>(-1);
  // The first `mail-from` or `rcpt-to` line matching (sender, recipient); kNoMatch if none.
  std::size_t Signature(std::string_view mail_from, std::string_view rcpt) const;
  // The virtual MTA the list chooses; nullopt when no line matches. `header` gives the value of a
  // field by lower-case name (nullopt: absent).
  using HeaderLookup = std::function<std::optional<std::string>(const std::string& name)>;
  std::optional<std::string> Route(std::string_view mail_from, std::string_view rcpt,
                                   const HeaderLookup& header) const;
  bool has_header_rules() const { return has_header_rules_; }

 private:
  struct Rule {
    config::RoutePattern::Subject subject;
    std::string header;
    std::regex regex;
    std::string virtual_mta;
  };
  bool Matches(const Rule& rule, std::string_view value) const;

  std::vector<Rule> rules_;
  bool has_header_rules_ = false;
};

// Every list of a configuration, by name.
class PatternRoutes {
 public:
  explicit PatternRoutes(const config::Config& config);
  const RouteList* Find(const std::string& name) const;  // null when there is none
  const config::Config* source() const { return source_; }

 private:
  const config::Config* source_;
  std::vector<std::pair<std::string, RouteList>> lists_;
};

}  // namespace outpost::smtp
