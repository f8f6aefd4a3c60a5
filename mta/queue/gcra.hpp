// GCRA (generic cell rate algorithm): the exact rate limiter behind every shaping limit of a queue
// (max-connect-rate, max-msg-rate and their backoff-* variants, source-ip-max-msg-rate).
//
// A rate is `count` events per `per`. The limiter keeps one number, the theoretical arrival time
// (TAT) of the next event. An event at time t is allowed iff t >= TAT - tau, where the emission
// interval is T = per/count and the burst tolerance is tau = (burst-1)*T; taking it sets
// TAT = max(TAT, t) + T.
//
// Exactness: all arithmetic is done on time scaled by `count` (128-bit integers), so T is never
// rounded: 3/s allows events exactly at 0, 1/3 s, 2/3 s, 1 s, ... with no drift, ever.
// Burst semantics (proved by tests/unit/queue/gcra_test.cpp): with burst B, any half-open window
// [t, t + per) contains at most count + B - 1 events, and a steady caller gets exactly count events
// per period. The queue uses B = 1 (the default): events are spaced at least T apart, so no
// window of length `per` ever holds more than `count` events ("800/h" is never 801 in any hour).
//
// Times are nanoseconds on a steady clock (see clock.hpp); a rate with count 0 is unlimited.
// Thread-safety: not thread-safe (a plain value type).
#pragma once

#include <cstdint>

#include "common/clock.hpp"
#include "mta/config/config.hpp"

namespace outpost::queue {

class Gcra {
 public:
  Gcra() = default;
  explicit Gcra(config::Rate rate, std::uint32_t burst = 1);

  bool unlimited() const { return count_ == 0; }
  // Changes the rate (e.g. a queue entering backoff) keeping the TAT, so events already taken
  // still count.
  void SetRate(config::Rate rate);

  // How many events (at most `want`) would be allowed at `now`; does not take them.
  std::uint64_t Available(MonoTime now, std::uint64_t want) const;
  // Takes `n` events at `now`. Callers take at most Available(now, n); taking more is allowed
  // (the limiter goes into debt and later events wait longer) but loses exactness.
  void Take(MonoTime now, std::uint64_t n);
  // Takes one event when allowed; returns whether it was.
  bool TryTake(MonoTime now);
  // The earliest time at which one event is allowed (`now` when it already is).
  MonoTime NextAllowed(MonoTime now) const;

 private:
  __extension__ using Int128 = __int128;
  Int128 Scaled(MonoTime t) const;

  std::uint64_t count_ = 0;
  std::int64_t per_ns_ = 1;
  std::uint32_t burst_ = 1;
  Int128 tat_ = 0;  // TAT * count_, in nanoseconds of the steady clock's epoch
};

}  // namespace outpost::queue
