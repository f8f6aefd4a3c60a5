#include "mta/delivery/bounce_category.hpp"

#include <array>
#include <utility>

namespace outpost::delivery {
namespace {

constexpr std::array<std::pair<BounceCategory, std::string_view>, 18> kNames{{
    {BounceCategory::kSuccess, "success"},
    {BounceCategory::kBadConfiguration, "bad-configuration"},
    {BounceCategory::kBadConnection, "bad-connection"},
    {BounceCategory::kBadDomain, "bad-domain"},
    {BounceCategory::kBadMailbox, "bad-mailbox"},
    {BounceCategory::kContentRelated, "content-related"},
    {BounceCategory::kInactiveMailbox, "inactive-mailbox"},
    {BounceCategory::kInvalidSender, "invalid-sender"},
    {BounceCategory::kMessageExpired, "message-expired"},
    {BounceCategory::kNoAnswerFromHost, "no-answer-from-host"},
    {BounceCategory::kOther, "other"},
    {BounceCategory::kPolicyRelated, "policy-related"},
    {BounceCategory::kProtocolErrors, "protocol-errors"},
    {BounceCategory::kQuotaIssues, "quota-issues"},
    {BounceCategory::kRelayingIssues, "relaying-issues"},
    {BounceCategory::kRoutingErrors, "routing-errors"},
    {BounceCategory::kSpamRelated, "spam-related"},
    {BounceCategory::kVirusRelated, "virus-related"},
}};

}  // namespace

std::string_view BounceCategoryName(BounceCategory category) {
  for (const auto& [c, name] : kNames) {
    if (c == category) return name;
  }
  return "other";
}

std::optional<BounceCategory> ParseBounceCategory(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

}  // namespace outpost::delivery
