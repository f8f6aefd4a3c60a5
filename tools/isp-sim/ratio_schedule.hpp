// RatioSchedule: a deterministic, counter-based schedule that picks a given fraction of events.
//
// The simulator must let tests assert exact counts, so ratios are not random. A ratio r is held
// exactly in parts per million (p = round(r * 1e6)); the n-th event (n = 1, 2, ...) is picked iff
//     floor(n * p / 1e6) > floor((n - 1) * p / 1e6).
// Invariant: after N events exactly floor(N * p / 1e6) have been picked, and picks are spread
// evenly (ratio 0.25 picks events 4, 8, 12, ...; ratio 0.3 picks 4, 7, 10, 14, ...; ratio 1 picks
// every event; ratio 0 none). `ExpectedPicks(N)` is that closed form, for tests and docs.
//
// Error policy: ParsePpm returns nullopt for text that is not a decimal in [0, 1].
// Limits: resolution is one part per million.
//
// Thread-safety: not thread-safe (a plain counter); the simulator uses it from one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace outpost::isp_sim {

class RatioSchedule {
 public:
  static constexpr std::uint64_t kMillion = 1'000'000;

  RatioSchedule() = default;
  explicit RatioSchedule(std::uint32_t ppm) : ppm_(ppm > kMillion ? kMillion : ppm) {}

  // Parses "0.3", "1", "0", ".05", "30%" into parts per million (exact decimal arithmetic).
  static std::optional<std::uint32_t> ParsePpm(std::string_view text);

  // Whether the n-th event (1-based) is picked; a pure function of n.
  bool PicksEvent(std::uint64_t n) const;
  // Advances the counter by one event and says whether that event is picked.
  bool Next() { return PicksEvent(++events_); }
  // Number of picks among the first n events: floor(n * ppm / 1e6).
  std::uint64_t ExpectedPicks(std::uint64_t n) const;

  std::uint32_t ppm() const { return ppm_; }
  std::uint64_t events() const { return events_; }

 private:
  std::uint32_t ppm_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace outpost::isp_sim
