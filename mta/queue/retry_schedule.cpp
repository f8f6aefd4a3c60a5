#include "mta/queue/retry_schedule.hpp"

#include <algorithm>

namespace outpost::queue {

const char* QueueModeName(QueueMode mode) {
  return mode == QueueMode::kBackoff ? "backoff" : "normal";
}

config::Seconds RetryDelay(std::uint32_t attempts, const EffectiveDomainPolicy& policy,
                           QueueMode mode) {
  if (mode == QueueMode::kBackoff) return policy.backoff_retry_after;
  if (policy.retry_after.empty()) return config::Seconds(600);
  const std::size_t n = std::max<std::uint32_t>(attempts, 1) - 1;
  return policy.retry_after[std::min(n, policy.retry_after.size() - 1)];
}

std::int64_t ExpiresAt(std::int64_t time_queued, const EffectiveDomainPolicy& policy) {
  return time_queued + policy.bounce_after.count();
}

}  // namespace outpost::queue
