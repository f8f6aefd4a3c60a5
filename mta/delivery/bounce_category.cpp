#include "mta/delivery/bounce_category.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <string>
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

// Operators' categories by index (value - kFirstCustom). Entries are set once, under the mutex,
// and never freed: outcomes made under an older configuration still name theirs.
std::array<std::atomic<const std::string*>, kMaxCustomBounceCategories> custom_names{};
std::atomic<std::size_t> custom_count{0};
std::mutex intern_mutex;

constexpr auto kFirst = static_cast<std::size_t>(BounceCategory::kFirstCustom);

std::optional<BounceCategory> FindCustom(std::string_view name) {
  const std::size_t n = custom_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (*custom_names[i].load(std::memory_order_acquire) == name) {
      return static_cast<BounceCategory>(kFirst + i);
    }
  }
  return std::nullopt;
}

std::optional<BounceCategory> FindPowerMta(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

}  // namespace

std::string_view BounceCategoryName(BounceCategory category) {
  for (const auto& [c, name] : kNames) {
    if (c == category) return name;
  }
  const auto value = static_cast<std::size_t>(category);
  if (value >= kFirst && value - kFirst < custom_count.load(std::memory_order_acquire)) {
    return *custom_names[value - kFirst].load(std::memory_order_acquire);
  }
  return "other";
}

std::optional<BounceCategory> ParseBounceCategory(std::string_view name) {
  if (auto known = FindPowerMta(name)) return known;
  return FindCustom(name);
}

bool IsPowerMtaBounceCategory(std::string_view name) { return FindPowerMta(name).has_value(); }

std::optional<BounceCategory> InternBounceCategory(std::string_view name) {
  if (auto known = ParseBounceCategory(name)) return known;
  std::lock_guard lock(intern_mutex);
  if (auto known = FindCustom(name)) return known;  // interned meanwhile
  const std::size_t n = custom_count.load(std::memory_order_relaxed);
  if (n == kMaxCustomBounceCategories) return std::nullopt;
  custom_names[n].store(new std::string(name), std::memory_order_release);
  custom_count.store(n + 1, std::memory_order_release);
  return static_cast<BounceCategory>(kFirst + n);
}

}  // namespace outpost::delivery
