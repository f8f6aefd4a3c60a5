// Comparing secrets (passwords, API keys, bearer tokens) without an early exit, so the time a
// comparison takes does not reveal how much of the secret a guess had right.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <string_view>

namespace outpost {

// True when a == b. Only the lengths' equality shows in the timing, never the first difference.
inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace outpost
