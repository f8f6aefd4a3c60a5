#include "mta/smtp/auth_failure_tracker.hpp"

#include <algorithm>

namespace outpost::smtp {

AuthFailureTracker::AuthFailureTracker(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {}

std::size_t AuthFailureTracker::KeyHash::operator()(const Key& k) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (std::uint8_t b : k) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h);
}

AuthFailureTracker::Key AuthFailureTracker::KeyFor(const IpAddress& ip) {
  Key k{};
  k[0] = ip.v6 ? 6 : 4;
  const std::size_t n = ip.v6 ? 8 : 4;  // IPv6: the /64
  std::copy(ip.bytes.begin(), ip.bytes.begin() + n, k.begin() + 1);
  return k;
}

void AuthFailureTracker::Expire(Entry& e, std::int64_t window_seconds, std::int64_t now) {
  if (e.blocked_until != 0) {
    if (now < e.blocked_until) return;
  } else if (now - e.window_start < window_seconds) {
    return;
  }
  e.failures = 0;
  e.blocked_until = 0;
  e.window_start = now;
}

bool AuthFailureTracker::Blocked(const IpAddress& ip, int max_failures, std::int64_t window_seconds,
                                 std::int64_t now) {
  if (max_failures <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(KeyFor(ip));
  if (it == entries_.end()) return false;
  Expire(it->second, window_seconds, now);
  // A lowered cap (reload) applies to counts already made.
  return it->second.blocked_until != 0 || it->second.failures >= max_failures;
}

bool AuthFailureTracker::RecordFailure(const IpAddress& ip, int max_failures,
                                       std::int64_t window_seconds, std::int64_t now) {
  if (max_failures <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const Key key = KeyFor(ip);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= capacity_) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    Entry e;
    e.window_start = now;
    e.lru = lru_.begin();
    it = entries_.emplace(key, e).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    Expire(it->second, window_seconds, now);
  }
  Entry& e = it->second;
  ++e.failures;
  if (e.blocked_until == 0 && e.failures >= max_failures) {
    e.blocked_until = now + window_seconds;
    return true;
  }
  return false;
}

std::size_t AuthFailureTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace outpost::smtp
