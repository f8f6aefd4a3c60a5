// FindByte: memchr with positions instead of pointers, for the byte scanners of the data path
// (the DATA reader, the client's body encoder) that search runs up to the next CR or LF.
//
// Thread-safety: a pure function; thread-safe.
#pragma once

#include <cstddef>
#include <cstring>

namespace outpost {

// The position of the first `c` in p[from, to), or `to` when there is none (or from >= to).
inline std::size_t FindByte(const char* p, std::size_t from, std::size_t to, char c) {
  if (from >= to) return to;
  const void* at = std::memchr(p + from, c, to - from);
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - p) : to;
}

}  // namespace outpost
