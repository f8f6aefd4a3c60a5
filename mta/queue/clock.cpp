#include "mta/queue/clock.hpp"

namespace outpost::queue {

Instant SystemClock::Now() const {
  return Instant{std::chrono::system_clock::now(), std::chrono::steady_clock::now()};
}

SimulatedClock::SimulatedClock(WallTime wall) : now_{wall, MonoTime(std::chrono::hours(1000))} {}

void SimulatedClock::Advance(Nanos by) {
  if (by.count() <= 0) return;
  now_.wall += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
  now_.mono += by;
}

void SimulatedClock::AdvanceTo(MonoTime mono) {
  if (mono > now_.mono) Advance(mono - now_.mono);
}

}  // namespace outpost::queue
