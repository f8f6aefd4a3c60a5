// The DATA encoder of the SMTP client: turns a message (as spooled: CRLF line ends, not
// dot-stuffed) into its wire form, in bounded pieces.
//
// EncodeDotStuffed() appends to `out` the wire form of data[pos...] until `out` holds at least
// `target` bytes or the input ends, and returns the new position. Rules (RFC 5321 section 4.5.2):
// a line that starts with '.' gets one more '.'; every line end is CRLF on the wire — a bare CR or
// a bare LF in the input (which the injection side refuses, but an operator-injected spool entry
// might hold) is sent as CRLF, never raw, so the receiver cannot see a premature end of data. A
// CRLF is never split between two calls. The caller adds the final "CRLF.CRLF" with
// FinishDotStuffed() once the input is consumed.
//
// Performance: whole runs between line ends are copied with memchr/append, not byte by byte: this
// loop carried 46 % of outpostd's CPU samples when relaying 1 MB messages (bench/RESULTS.md,
// "Profiles").
//
// Thread-safety: pure functions over caller-owned state; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace outpost::delivery {

struct DotStuffState {
  std::size_t pos = 0;     // next input byte
  bool line_start = true;  // the next output byte starts a line
};

// Appends the wire form of `data` from state.pos until out.size() >= target or the input ends.
void EncodeDotStuffed(std::string_view data, std::size_t target, DotStuffState& state,
                      std::string& out);

// Appends the end of data: CRLF when the last line had no line end, then ".\r\n".
void FinishDotStuffed(const DotStuffState& state, std::string& out);

}  // namespace outpost::delivery
