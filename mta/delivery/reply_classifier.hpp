// The reply classifier: turns an SMTP reply into PowerMTA's bounce category (bounceCat) and tells
// whether the reply matches a queue's <smtp-pattern-list> (mode=backoff / mode=normal).
//
// Order (docs/powermta.md, "Bounce categories"): configured <bounce-category-patterns> first,
// then the default text rules (rate limited / unusual rate -> policy-related, before everything
// else; spam/blacklist/blocked/RBL -> spam-related; quota/mailbox full -> quota-issues; relay ->
// relaying-issues; denied/rejected/refused -> policy-related), then the default rules by enhanced
// status code (x.1.1 bad-mailbox, x.1.2 bad-domain, x.3.5 bad-configuration, x.4.1
// no-answer-from-host, x.4.2 bad-connection, x.4.4/x.4.6 routing-errors, x.4.7 message-expired,
// x.7.1 policy-related), else `other`. Successful deliveries are `success`. Hard bounces:
// bad-mailbox, inactive-mailbox, bad-domain.
//
// Details (extensions of the order above, see reply_classifier.cpp for the exact table): a positive
// reply is `success` before anything else. Configured patterns and smtp-pattern-lists are searched
// (regex_search) in Reply::Full() ("550 5.1.1 text"). The default text rules are searched in
// Reply::text, case-insensitively, and also hold PowerMTA's further defaults in its order: virus ->
// virus-related, message content -> content-related, disabled/inactive mailbox ->
// inactive-mailbox, unknown user / mailbox unavailable / no such user -> bad-mailbox, domain
// unknown -> bad-domain, prohibited/banned/policy -> policy-related, syntax error / bad sequence
// -> protocol-errors, unroutable -> routing-errors. Mailbox texts come before relay and
// denied/rejected, so "Recipient address rejected: User unknown" is bad-mailbox. The rate-limit
// rule comes first because receivers' rate-limit replies (Gmail's 421 4.7.28, Outlook's 451
// 4.7.650) are policy-related in the accounting data even when their text says "spam";
// "unsolicited" is not a spam word. x.7.N other than x.7.1 is still `other` by code (PowerMTA's
// code list); operators who want every 4.7.N policy-related add a <bounce-category-patterns> line
// such as `/^4\d\d 4\.7\./ policy-related`. tests/unit/delivery/reply_classifier_test.cpp checks
// every record of the accounting fixtures in tests/data against its bounceCat.
//
// The category is a BounceCategory (bounce_category.hpp); its name is written only at the edge
// (accounting, mta/acct/outcome_record.cpp). <bounce-category-patterns> names are turned into the
// enum at construction: PowerMTA's names, or an operator's own name interned
// (InternBounceCategory), which is never a hard bounce.
//
// Regexes are compiled once at construction (from the config), never on the hot path.
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "mta/delivery/bounce_category.hpp"
#include "mta/delivery/smtp_client.hpp"

namespace outpost::delivery {

// dsnStatus text, e.g. "5.1.1 (bad destination mailbox address)" for "5.1.1" (RFC 3463 names).
std::string DsnStatusText(const std::string& enhanced_or_class);

class ReplyClassifier {
 public:
  explicit ReplyClassifier(const config::Config& config);

  delivery::BounceCategory BounceCategory(const Reply& reply) const;
  // bad-mailbox, inactive-mailbox, bad-domain (never an operator's own category).
  static bool IsHardBounce(delivery::BounceCategory category);
  // The mode a matching pattern of list `list_name` asks for (kNone when nothing matches).
  config::PatternMode MatchPatterns(const std::string& list_name, const Reply& reply) const;

 private:
  struct CompiledPattern {
    std::regex regex;
    delivery::BounceCategory category = delivery::BounceCategory::kOther;
    config::PatternMode mode = config::PatternMode::kNone;
  };
  std::vector<CompiledPattern> category_patterns_;
  std::vector<std::pair<std::string, std::vector<CompiledPattern>>> pattern_lists_;
};

}  // namespace outpost::delivery
