#include "mta/delivery/dot_stuff.hpp"

#include <algorithm>
#include <cstring>

namespace outpost::delivery {

void EncodeDotStuffed(std::string_view data, std::size_t target, DotStuffState& state,
                      std::string& out) {
  const char* p = data.data();
  const std::size_t n = data.size();
  std::size_t i = state.pos;
  bool line_start = state.line_start;
  while (i < n && out.size() < target) {
    if (line_start && p[i] == '.') out.push_back('.');
    // One run of ordinary bytes, bounded so that one call never copies much past `target`.
    const std::size_t room = target > out.size() ? target - out.size() : 1;
    const std::size_t limit = std::min(n, i + room);
    std::size_t end = limit;
    if (const void* lf = std::memchr(p + i, '\n', limit - i)) {
      end = static_cast<std::size_t>(static_cast<const char*>(lf) - p);
    }
    if (const void* cr = std::memchr(p + i, '\r', end - i)) {
      end = static_cast<std::size_t>(static_cast<const char*>(cr) - p);
    }
    out.append(p + i, end - i);
    if (end == limit && (end == n || (p[end] != '\r' && p[end] != '\n'))) {
      // Cut inside a line (or the input ended without a line end).
      if (end > i) line_start = false;
      i = end;
      continue;
    }
    // p[end] is CR or LF: one line end; CRLF, a bare CR and a bare LF all become CRLF.
    i = (p[end] == '\r' && end + 1 < n && p[end + 1] == '\n') ? end + 2 : end + 1;
    out.append("\r\n", 2);
    line_start = true;
  }
  state.pos = i;
  state.line_start = line_start;
}

void FinishDotStuffed(const DotStuffState& state, std::string& out) {
  if (!state.line_start) out.append("\r\n", 2);
  out.append(".\r\n", 3);
}

}  // namespace outpost::delivery
