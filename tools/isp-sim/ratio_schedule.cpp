#include "tools/isp-sim/ratio_schedule.hpp"

namespace outpost::isp_sim {

std::optional<std::uint32_t> RatioSchedule::ParsePpm(std::string_view text) {
  bool percent = false;
  if (!text.empty() && text.back() == '%') {
    percent = true;
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  // Integer part and up to 12 fraction digits, as an exact scaled integer.
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (whole > 100) return std::nullopt;
  }
  std::uint64_t frac = 0;  // in units of 1e-8
  std::uint64_t scale = 100'000'000;
  bool any_digit = i > 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      any_digit = true;
      scale /= 10;
      if (scale == 0) return std::nullopt;  // more precision than we can hold
      frac += static_cast<std::uint64_t>(text[i] - '0') * scale;
    }
  }
  if (i != text.size() || !any_digit) return std::nullopt;
  // value * 1e8 = whole * 1e8 + frac; ppm = value * 1e6 (or value * 1e4 for percent).
  std::uint64_t scaled = whole * 100'000'000 + frac;
  std::uint64_t ppm = percent ? (scaled + 5'000) / 10'000 : (scaled + 50) / 100;
  if (ppm > kMillion) return std::nullopt;
  return static_cast<std::uint32_t>(ppm);
}

bool RatioSchedule::PicksEvent(std::uint64_t n) const {
  if (n == 0) return false;
  return ExpectedPicks(n) > ExpectedPicks(n - 1);
}

std::uint64_t RatioSchedule::ExpectedPicks(std::uint64_t n) const {
  // Split n to avoid overflow of n * ppm for very large n.
  std::uint64_t q = n / kMillion;
  std::uint64_t r = n % kMillion;
  return q * ppm_ + (r * ppm_) / kMillion;
}

}  // namespace outpost::isp_sim
