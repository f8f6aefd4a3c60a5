#include "mta/delivery/dot_stuff.hpp"

#include <algorithm>

#include "common/find_byte.hpp"

namespace outpost::delivery {

void EncodeDotStuffed(std::string_view data, std::size_t target, DotStuffState& state,
                      std::string& out) {
  const char* p = data.data();
  const std::size_t n = data.size();
  std::size_t i = state.pos;
  bool line_start = state.line_start;
  // This call consumes at most about `target` input bytes (each yields at least one output byte):
  // CR and LF are searched for within that window only, each position kept until the scan passes
  // it, so the work is linear in what is consumed whatever the mix of line ends.
  const std::size_t window = std::min(n, i + std::max<std::size_t>(target, 1) + 2);
  std::size_t next_cr = i;  // the next CR at or after the scan when >= i (window: none); else stale
  std::size_t next_lf = i;
  bool cr_known = false;
  bool lf_known = false;
  while (i < n && out.size() < target) {
    if (line_start && p[i] == '.') out.push_back('.');
    // One run of ordinary bytes, bounded so that one call never copies much past `target`.
    const std::size_t room = target > out.size() ? target - out.size() : 1;
    const std::size_t limit = std::min({n, i + room, window});
    if (!cr_known || next_cr < i) {
      next_cr = FindByte(p, i, window, '\r');
      cr_known = true;
    }
    if (!lf_known || next_lf < i) {
      next_lf = FindByte(p, i, window, '\n');
      lf_known = true;
    }
    const std::size_t end = std::min({limit, next_cr, next_lf});
    out.append(p + i, end - i);
    if (end == limit && (end == n || (p[end] != '\r' && p[end] != '\n'))) {
      // Cut inside a line (or the input ended without a line end).
      if (end > i) line_start = false;
      i = end;
      if (i >= window) break;
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
