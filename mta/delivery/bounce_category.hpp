// Bounce categories: PowerMTA's bounceCat values (docs/powermta.md) as an enum, plus the
// categories operators name in <bounce-category-patterns> beyond PowerMTA's list
// (`/Account Inactive/ invalid-mailbox`). The reply classifier (reply_classifier.hpp) decides a
// reply's category; accounting prints its name.
//
// An operator's category is interned once (InternBounceCategory) and gets a value from
// kFirstCustom up; its name is kept for the life of the process, so a reload that drops it leaves
// outcomes already made printable. At most kMaxCustomBounceCategories distinct names are interned
// over the process's life (the config allows fewer per file); past that, a new name classifies as
// `other`. Custom categories are never hard bounces (ReplyClassifier::IsHardBounce).
//
// Thread-safety: the names table is append-only; interning takes a mutex, reading a name does not.
#pragma once

#include <cstddef>
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
  kFirstCustom = 32,  // operators' own categories: kFirstCustom + n
};

inline constexpr std::size_t kMaxCustomBounceCategories = 200;

// "success", "bad-mailbox", ... as written in the accounting file's bounceCat column.
std::string_view BounceCategoryName(BounceCategory category);
// The inverse; nullopt for a name that is neither PowerMTA's nor interned.
std::optional<BounceCategory> ParseBounceCategory(std::string_view name);
// PowerMTA's category of that name, else the operator's category of that name (interned on first
// use); nullopt when the table of operators' categories is full.
std::optional<BounceCategory> InternBounceCategory(std::string_view name);
// Is `name` one of PowerMTA's category names?
bool IsPowerMtaBounceCategory(std::string_view name);

}  // namespace outpost::delivery
