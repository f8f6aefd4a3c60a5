#include "mta/queue/retry_schedule.hpp"

#include <algorithm>

namespace outpost::queue {

const char* QueueModeName(QueueMode mode) {
  return mode == QueueMode::kBackoff ? "backoff" : "normal";
}

config::Seconds RetryDelay(std::uint32_t attempts, const EffectiveDomainPolicy& policy,
                           QueueMode mode) {
  const std::vector<config::Seconds>& list =
      mode == QueueMode::kBackoff ? policy.backoff_retry_after : policy.retry_after;
  if (list.empty()) return config::Seconds(mode == QueueMode::kBackoff ? 3600 : 600);
  const std::size_t n = std::max<std::uint32_t>(attempts, 1) - 1;
  return list[std::min(n, list.size() - 1)];
}

std::int64_t ExpiresAt(std::int64_t time_queued, const EffectiveDomainPolicy& policy) {
  return time_queued + policy.bounce_after.count();
}

}  // namespace outpost::queue
