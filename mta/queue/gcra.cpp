#include "mta/queue/gcra.hpp"

#include <algorithm>

namespace outpost::queue {
namespace {
std::int64_t PerNanos(config::Rate rate) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(rate.per).count();
}
}  // namespace

Gcra::Gcra(config::Rate rate, std::uint32_t burst)
    : count_(rate.count),
      per_ns_(std::max<std::int64_t>(1, PerNanos(rate))),
      burst_(std::max<std::uint32_t>(1, burst)) {}

void Gcra::SetRate(config::Rate rate) {
  const std::uint64_t new_count = rate.count;
  if (new_count == count_ && PerNanos(rate) == per_ns_) return;
  if (count_ != 0 && new_count != 0) {
    // Rescale the TAT to the new count, rounding up so the new rate is never exceeded.
    Int128 tat_ns = (tat_ + static_cast<Int128>(count_) - 1) / static_cast<Int128>(count_);
    tat_ = tat_ns * static_cast<Int128>(new_count);
  } else {
    tat_ = 0;  // from or to unlimited: start fresh
  }
  count_ = new_count;
  per_ns_ = std::max<std::int64_t>(1, PerNanos(rate));
}

Gcra::Int128 Gcra::Scaled(MonoTime t) const {
  return static_cast<Int128>(t.time_since_epoch().count()) * static_cast<Int128>(count_);
}

std::uint64_t Gcra::Available(MonoTime now, std::uint64_t want) const {
  if (want == 0) return 0;
  if (unlimited()) return want;
  const Int128 tau = static_cast<Int128>(burst_ - 1) * per_ns_;
  const Int128 t = Scaled(now);
  if (t + tau < tat_) return 0;
  const Int128 base = std::max(tat_, t);
  const Int128 k = (t + tau - base) / per_ns_ + 1;
  return k >= static_cast<Int128>(want) ? want : static_cast<std::uint64_t>(k);
}

void Gcra::Take(MonoTime now, std::uint64_t n) {
  if (unlimited() || n == 0) return;
  tat_ = std::max(tat_, Scaled(now)) + static_cast<Int128>(n) * per_ns_;
}

bool Gcra::TryTake(MonoTime now) {
  if (Available(now, 1) == 0) return false;
  Take(now, 1);
  return true;
}

MonoTime Gcra::NextAllowed(MonoTime now) const {
  if (unlimited() || Available(now, 1) > 0) return now;
  const Int128 tau = static_cast<Int128>(burst_ - 1) * per_ns_;
  const Int128 need = tat_ - tau;  // scaled; smallest t with t*count >= need
  const Int128 c = static_cast<Int128>(count_);
  const Int128 ns = (need + c - 1) / c;
  return MonoTime(MonoTime::duration(static_cast<std::int64_t>(ns)));
}

}  // namespace outpost::queue
