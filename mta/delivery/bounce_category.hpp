// Bounce categories: PowerMTA's bounceCat values (docs/powermta.md), as a closed
// enum. The reply classifier (reply_classifier.hpp) decides a reply's category; accounting prints
// its name; <bounce-category-patterns> may only name one of these (config/directives.cpp checks).
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace outpost::delivery {

enum class BounceCategory : std::uint8_t {
  kSuccess,
  kBadConfiguration,
  kBadConnection,
  kBadDomain,
  kBadMailbox,
  kContentRelated,
  kInactiveMailbox,
  kInvalidSender,
  kMessageExpired,
  kNoAnswerFromHost,
  kOther,
  kPolicyRelated,
  kProtocolErrors,
  kQuotaIssues,
  kRelayingIssues,
  kRoutingErrors,
  kSpamRelated,
  kVirusRelated,
};

// "success", "bad-mailbox", ... as written in the accounting file's bounceCat column.
std::string_view BounceCategoryName(BounceCategory category);
// The inverse; nullopt for an unknown name.
std::optional<BounceCategory> ParseBounceCategory(std::string_view name);

}  // namespace outpost::delivery
