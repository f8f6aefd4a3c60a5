// Time for the whole of outpostd: one interface, so that every time-based decision (retry due
// times, rate limiters, backoff timers, expiry, metric windows, cache lifetimes, compaction age)
// can be driven by a simulated clock in tests, without sleeping.
//
// An Instant carries both clocks: `wall` (system time: accounting timestamps, time in queue and
// expiry, which must survive restarts because time_queued is stored in the spool) and `mono`
// (steady time: rates, retry timers, wake-ups, windows, which must not jump when the wall clock is
// set). SimulatedClock advances both together.
//
// Asio's timers (SMTP session deadlines, the scheduler's wake-up timer) run on the real steady
// clock by design: they wait for real sockets. What they time is decided from a Clock.
//
// Thread-safety: both implementations are thread-safe (SimulatedClock is one atomic offset, so a
// test may advance it while worker threads read it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace outpost {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Nanos = std::chrono::nanoseconds;

struct Instant {
  WallTime wall;
  MonoTime mono;
  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  }
  std::int64_t mono_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(mono.time_since_epoch()).count();
  }
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
  // Steady time only (cheaper where the wall clock is not needed).
  virtual MonoTime NowMono() const { return Now().mono; }
  std::int64_t MonoSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(NowMono().time_since_epoch()).count();
  }
};

// The real clocks.
class SystemClock final : public Clock {
 public:
  Instant Now() const override;
  MonoTime NowMono() const override { return std::chrono::steady_clock::now(); }
  // One process-wide instance, for components whose caller passes no clock.
  static const SystemClock& Instance();
};

// A clock that moves only when told to.
class SimulatedClock final : public Clock {
 public:
  // Starts at `wall` (default 2025-01-01T00:00:00Z) and a steady origin of 1000 hours (a whole
  // number of seconds, minutes and hours, so windowed metrics start bucket-aligned).
  explicit SimulatedClock(WallTime wall = WallTime(std::chrono::seconds(1735689600)));
  Instant Now() const override;
  void Advance(Nanos by);
  // Moves forward to `mono` (no-op when it is in the past).
  void AdvanceTo(MonoTime mono);

 private:
  WallTime wall_origin_;
  MonoTime mono_origin_;
  std::atomic<std::int64_t> offset_ns_{0};
};

}  // namespace outpost
