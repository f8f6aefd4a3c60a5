// Splits the command-phase byte stream into lines. A line ends ONLY at CRLF: a bare LF or bare CR
// stays inside the line (and the command parser then rejects it as an invalid character), so a
// client and Outpost can never disagree about where a command ends.
//
// Limit: RFC 5321 section 4.5.3.1.4 caps a command line at 512 octets including CRLF. A longer
// line is discarded up to its CRLF (across reads, never buffered whole) and reported once as
// kTooLong when its end arrives, so the reply (500 5.5.2) stays in sync with the client.
//
// Thread-safety: not thread-safe (one per session).
#pragma once

#include <cstddef>
#include <string_view>

namespace outpost::smtp {

class LineReader {
 public:
  static constexpr std::size_t kMaxCommandLine = 512;  // including CRLF

  enum class Status {
    kLine,      // `line` holds one line without its CRLF
    kTooLong,   // an over-long line just ended (its bytes were discarded)
    kNeedMore,  // no complete line; `consumed` bytes (possibly 0) may be dropped
  };

  explicit LineReader(std::size_t max_line = kMaxCommandLine) : max_line_(max_line) {}

  // Looks at the start of `data`. Always sets `consumed` (bytes the caller must drop).
  Status Next(std::string_view data, std::string_view& line, std::size_t& consumed);

  void set_max_line(std::size_t max_line) { max_line_ = max_line; }
  std::size_t max_line() const { return max_line_; }
  bool discarding() const { return discarding_; }

 private:
  std::size_t max_line_;
  bool discarding_ = false;
};

// Position of the first CRLF in `data` at or after `from`, or npos.
std::size_t FindCrlf(std::string_view data, std::size_t from = 0);

}  // namespace outpost::smtp
