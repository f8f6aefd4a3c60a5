// Queue naming and virtual MTA selection.
//
// A queue is keyed by (destination, virtual MTA) and named `domain/vmta` — one reversible grammar
// used verbatim in logs, accounting's `queue` field, metrics labels and the management API. The
// destination is the recipient's domain (lower case, no trailing dot) or, when the domain's
// merged policy sets `mx-rollup NAME` and its MX host set matches NAME's, that NAME: the matching
// domains share the queue and its limits (the decision needs DNS, so the queue manager makes it;
// see queue_manager.hpp).
// Mail without a virtual MTA goes to the default one, named `{default}` as in PowerMTA's
// displays (?).
//
// Virtual MTA choice: the envelope's `vmta` (already resolved by the SMTP layer from X-Virtual-MTA
// when the <source> allows it, else the source's default-virtual-mta) names a <virtual-mta> or a
// <virtual-mta-pool>; a pool rotates over its members, one member per message, round robin. An
// empty or unknown name means the default virtual MTA.
//
// Thread-safety: the free functions are pure; VmtaSelector is not thread-safe (rotation state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mta/config/config.hpp"

namespace outpost::queue {

inline constexpr std::string_view kDefaultVmta = "{default}";

// "user@Example.COM." -> "example.com"; "" when there is no '@'.
std::string RecipientDomain(std::string_view address);

struct QueueKey {
  std::string domain;  // destination or mx-rollup name
  std::string vmta;    // virtual MTA name (never a pool)
  bool operator==(const QueueKey&) const = default;
};

std::string FormatQueueName(const QueueKey& key);
// Splits at the last '/'; nullopt when either side is empty.
std::optional<QueueKey> ParseQueueName(std::string_view name);

struct VmtaChoice {
  std::string vmta;  // the member used
  std::string pool;  // the pool it came from, "" when none
};

// Thread-safety: not thread-safe.
class VmtaSelector {
 public:
  explicit VmtaSelector(const config::Config& config) : config_(&config) {}
  // Rebinds to a new configuration (reload); rotation positions are kept per pool name.
  void SetConfig(const config::Config& config) { config_ = &config; }
  VmtaChoice Select(const std::string& requested);

 private:
  const config::Config* config_;
  std::unordered_map<std::string, std::uint64_t> next_;  // pool name -> rotation position
};

}  // namespace outpost::queue
