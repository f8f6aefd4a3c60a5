// The retry schedule: a pure function from (attempts made, policy, queue mode) to the wait before
// the next attempt. Tested by computing whole schedules (tests/unit/queue/retry_schedule_test.cpp).
//
// Normal mode: retry-after is a list; after attempt n (1-based) the wait is list[n-1], the last
// entry repeating ("10m,20m,1h" gives 10m, 20m, 1h, 1h, ...). Backoff mode: backoff-retry-after,
// a list read the same way. Expiry is separate (bounce-after counts from time_queued): see
// ExpiresAt().
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "mta/queue/domain_policy.hpp"

namespace outpost::queue {

enum class QueueMode : std::uint8_t { kNormal, kBackoff };
const char* QueueModeName(QueueMode mode);

// `attempts` is the number of attempts made so far (>= 1 after the first failure; 0 is treated as
// 1).
config::Seconds RetryDelay(std::uint32_t attempts, const EffectiveDomainPolicy& policy,
                           QueueMode mode);

// UNIX seconds at which a recipient queued at `time_queued` expires.
std::int64_t ExpiresAt(std::int64_t time_queued, const EffectiveDomainPolicy& policy);

}  // namespace outpost::queue
