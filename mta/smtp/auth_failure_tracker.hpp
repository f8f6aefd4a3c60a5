// Counts failed AUTHs per client address across sessions, so reconnecting does not reset the
// count a password guesser runs into.
//
// What it does: RecordFailure() counts a failed AUTH from an address; Blocked() says whether
// AUTH from that address is refused right now. An address's window starts at its first failure;
// the failure that brings its count to `max_failures` within `window` blocks it for `window` from
// that moment. When a window (or a block) has passed, the count starts again from zero. A
// successful AUTH does not reset the count (one valid account must not unlock guessing at
// others).
//
// Keys: an IPv4 address; an IPv6 address's /64 (one host usually owns a whole /64, so counting
// single v6 addresses would cap nothing).
//
// Invariants: at most `capacity` addresses are tracked; when a new address would exceed it, the
// least recently failed one is forgotten (LRU). Time is the caller's (UNIX seconds), so tests use a
// simulated clock.
//
// Tunables: max-auth-failures-per-ip (0 disables: nothing is recorded or blocked) and
// auth-failure-window, passed on each call so a reload takes effect at once.
//
// Limits (XXX): a guesser spreading failures over more than `capacity` addresses pushes older
// entries (blocked ones included) out of the table; the per-session cap and
// smtp-in-auth-failure-delay still slow each of them. State is in memory only (a restart forgets
// it).
//
// Thread-safety: thread-safe (one mutex); sessions on any thread may share one tracker.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/cidr.hpp"

namespace outpost::smtp {

class AuthFailureTracker {
 public:
  static constexpr std::size_t kDefaultCapacity = 10000;

  explicit AuthFailureTracker(std::size_t capacity = kDefaultCapacity);
  AuthFailureTracker(const AuthFailureTracker&) = delete;
  AuthFailureTracker& operator=(const AuthFailureTracker&) = delete;

  // True while AUTH from `ip` is refused. `now` in UNIX seconds.
  bool Blocked(const IpAddress& ip, int max_failures, std::int64_t window_seconds,
               std::int64_t now);
  // Counts one failed AUTH from `ip`; true when this failure reached the cap (now blocked).
  bool RecordFailure(const IpAddress& ip, int max_failures, std::int64_t window_seconds,
                     std::int64_t now);

  std::size_t size() const;

 private:
  using Key = std::array<std::uint8_t, 17>;  // family byte + address (IPv6: first 8 bytes)
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Entry {
    int failures = 0;
    std::int64_t window_start = 0;
    std::int64_t blocked_until = 0;  // 0: not blocked
    std::list<Key>::iterator lru;    // position in lru_ (front: most recently failed)
  };

  static Key KeyFor(const IpAddress& ip);
  // Clears an entry whose window or block has passed.
  static void Expire(Entry& e, std::int64_t window_seconds, std::int64_t now);

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::list<Key> lru_;
};

}  // namespace outpost::smtp
