#include "common/clock.hpp"

namespace outpost {

Instant SystemClock::Now() const {
  return Instant{std::chrono::system_clock::now(), std::chrono::steady_clock::now()};
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

SimulatedClock::SimulatedClock(WallTime wall)
    : wall_origin_(wall), mono_origin_(MonoTime(std::chrono::hours(1000))) {}

Instant SimulatedClock::Now() const {
  const Nanos offset(offset_ns_.load(std::memory_order_acquire));
  return Instant{
      wall_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(offset),
      mono_origin_ + offset};
}

void SimulatedClock::Advance(Nanos by) {
  if (by.count() <= 0) return;
  offset_ns_.fetch_add(by.count(), std::memory_order_acq_rel);
}

void SimulatedClock::AdvanceTo(MonoTime mono) {
  const std::int64_t target = (mono - mono_origin_).count();
  std::int64_t current = offset_ns_.load(std::memory_order_acquire);
  while (target > current &&
         !offset_ns_.compare_exchange_weak(current, target, std::memory_order_acq_rel)) {
  }
}

}  // namespace outpost
