// Time for the delivery engine: one interface so that every time-based decision of the queue
// (retry due times, rate limiters, backoff timers, expiry) can be driven by a simulated clock in
// tests, without sleeping.
//
// An Instant carries both clocks: `wall` (system time: accounting timestamps, time in queue and
// expiry, which must survive restarts because time_queued is stored in the spool) and `mono`
// (steady time: rates, retry timers, wake-ups, which must not jump when the wall clock is set).
// SimulatedClock advances both together.
//
// Thread-safety: SystemClock is stateless and thread-safe; SimulatedClock is not thread-safe
// (tests drive it from one thread).
#pragma once

#include <chrono>
#include <cstdint>

namespace outpost::queue {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Nanos = std::chrono::nanoseconds;

struct Instant {
  WallTime wall;
  MonoTime mono;
  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  }
};

// Thread-safety: implementations say; the interface itself holds no state.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
};

// The real clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  Instant Now() const override;
};

// A clock that moves only when told to. Not thread-safe.
class SimulatedClock final : public Clock {
 public:
  // Starts at `wall` (default 2025-01-01T00:00:00Z) and an arbitrary steady origin.
  explicit SimulatedClock(WallTime wall = WallTime(std::chrono::seconds(1735689600)));
  Instant Now() const override { return now_; }
  void Advance(Nanos by);
  // Moves forward to `mono` (no-op when it is in the past).
  void AdvanceTo(MonoTime mono);

 private:
  Instant now_;
};

}  // namespace outpost::queue
