// Reads the DATA phase (after 354): an incremental state machine fed raw bytes as they arrive.
//
// Invariants (the anti-smuggling rules): the message ends ONLY at CRLF "." CRLF (a "." line that
// begins right after a CRLF, or at the very start of the data). `\n.\n`, `\r.\r`, `\n.\r\n`,
// `\r\n.\n` never end it. A bare CR (CR not followed by LF) or bare LF (LF not preceded by CR)
// anywhere marks the message bad, but reading continues to the real end so the session stays in
// sync; the session then answers 550 5.6.11 "Bare CR or LF not allowed" (RFC 3463 class 5.6.x,
// message content/media errors; XXX check the exact subcode against the IANA registry) and keeps
// nothing.
//
// `bare-line-end normalize` (BareLineEnds::kNormalize, per <source>): a bare CR or LF is stored as
// CRLF instead of refusing the message. The smuggling rule does not change: the line after a
// normalized line end is not a line start for the terminator nor for dot-unstuffing (clients
// that write bare LFs do not stuff the dots after them), so "\n.\n", "\n.\r\n" and "\r.\r" are
// stored as a "." line (which the SMTP client dot-stuffs when relaying) and never end DATA.
// Why the default stays `reject`: a message that mixes line ends is what smuggling attempts look
// like, and a receiver downstream may split lines differently than we do; `normalize` is for
// known clients that write Unix line ends (scripts piping files), like Postfix 3.9's
// smtpd_forbid_bare_newline_exclusions.
//
// Dot-stuffing: a leading "." of a line is removed (RFC 5321 4.5.2). The stored message has CRLF
// line ends, ends with CRLF when not empty, and excludes the terminating ".CRLF".
//
// Limits: `max_size` bytes of un-stuffed message (beyond: keep counting, stop storing; the session
// answers 552 5.3.4 after the end; 0 = no limit). Text lines longer than 998 octets plus CRLF
// (RFC 5321 4.5.3.1.6) are flagged; the session answers 554 5.6.0 after the end.
// Errors are reported in priority order: bare CR/LF, then size, then line length.
//
// Feed() reports how many bytes it consumed; when the end is reached it stops right after the
// terminator so the bytes after it (pipelined commands) are handed back to the command reader.
//
// Thread-safety: not thread-safe (one per DATA phase).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::smtp {

class DataReader {
 public:
  static constexpr std::size_t kMaxTextLine = 998;  // excluding CRLF

  enum class Error { kNone, kBareLineEnding, kTooBig, kLineTooLong };
  enum class BareLineEnds { kReject, kNormalize };

  // `out` receives the message; the caller may pre-reserve it. It is not cleared.
  DataReader(std::string* out, std::uint64_t max_size,
             BareLineEnds bare_line_ends = BareLineEnds::kReject);

  // Consumes bytes from `data` until the terminator (inclusive) or the end of `data`. Returns the
  // number of bytes consumed (== data.size() unless done()).
  std::size_t Feed(std::string_view data);

  bool done() const { return state_ == State::kDone; }
  Error error() const;
  // Un-stuffed message size, counted also beyond max_size.
  std::uint64_t size() const { return size_; }

 private:
  enum class State {
    kLineStart,  // after CRLF (or at the start)
    kInLine,
    kCr,     // inside a line, just saw CR
    kDot,    // line start, saw "."
    kDotCr,  // line start, saw ".", CR
    kDone,
  };

  void Append(const char* data, std::size_t n);
  void EndLine();
  // A bare CR or LF: flagged (kReject) or stored as CRLF (kNormalize). Leaves state_ kInLine.
  void BareLineEnd(const char* as_is);

  std::string* out_;
  std::uint64_t max_size_;
  BareLineEnds bare_line_ends_;
  std::uint64_t size_ = 0;
  std::size_t line_length_ = 0;
  State state_ = State::kLineStart;
  bool bare_line_ending_ = false;
  bool line_too_long_ = false;
};

const char* DataReaderErrorName(DataReader::Error error);

}  // namespace outpost::smtp
