// Shared helper for the libFuzzer targets in fuzz/: FUZZ_CHECK(cond, what) aborts (a libFuzzer
// "crash", with the input saved) when an invariant of the code under test does not hold.
//
// Why not assert(): the fuzz build is RelWithDebInfo (NDEBUG), and the checks are the point of the
// targets, so they must never compile away.
//
// Thread-safety: stateless.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                                 \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   what);                                                                      \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

namespace outpost::fuzz {

inline std::string_view AsText(const unsigned char* data, std::size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace outpost::fuzz
