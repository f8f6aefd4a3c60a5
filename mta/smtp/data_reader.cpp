#include "mta/smtp/data_reader.hpp"

#include <algorithm>

#include "common/find_byte.hpp"

namespace outpost::smtp {

DataReader::DataReader(std::string* out, std::uint64_t max_size, BareLineEnds bare_line_ends)
    : out_(out), max_size_(max_size), bare_line_ends_(bare_line_ends) {}

DataReader::Error DataReader::error() const {
  if (bare_line_ending_) return Error::kBareLineEnding;
  if (max_size_ != 0 && size_ > max_size_) return Error::kTooBig;
  if (line_too_long_) return Error::kLineTooLong;
  return Error::kNone;
}

void DataReader::Append(const char* data, std::size_t n) {
  // Past the limit the message is refused anyway: keep counting, stop storing.
  size_ += n;
  if (max_size_ == 0 || size_ <= max_size_) out_->append(data, n);
}

void DataReader::EndLine() {
  if (line_length_ > kMaxTextLine) line_too_long_ = true;
  line_length_ = 0;
}

void DataReader::BareLineEnd(const char* as_is) {
  state_ = State::kInLine;  // never a line start: no terminator, no dot-unstuffing after it
  if (bare_line_ends_ == BareLineEnds::kNormalize) {
    Append("\r\n", 2);
    EndLine();
    return;
  }
  bare_line_ending_ = true;
  Append(as_is, 1);
  ++line_length_;
}

std::size_t DataReader::Feed(std::string_view data) {
  const char* p = data.data();
  const std::size_t n = data.size();
  std::size_t i = 0;
  std::size_t next_cr = 0;  // the next CR at or after i + 1 when > i (n: none); else unknown
  std::size_t next_lf = 0;  // the same for LF
  while (i < n && state_ != State::kDone) {
    const char c = p[i];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;
          ++i;
          continue;
        }
        state_ = State::kInLine;
        continue;  // reprocess c in kInLine
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
          ++i;
          continue;
        }
        // The leading dot was stuffing; c belongs to the line. Normalizing, a "." line ended by a
        // bare LF keeps its dot (such clients do not stuff).
        if (c == '\n' && bare_line_ends_ == BareLineEnds::kNormalize) {
          Append(".", 1);
          ++line_length_;
        }
        state_ = State::kInLine;
        continue;
      case State::kDotCr:
        if (c == '\n') {
          ++i;
          state_ = State::kDone;
          continue;
        }
        // ".\r" followed by something else: a bare CR (normalizing, the "." line keeps its dot).
        if (bare_line_ends_ == BareLineEnds::kNormalize) {
          Append(".", 1);
          ++line_length_;
        }
        BareLineEnd("\r");
        continue;
      case State::kCr:
        if (c == '\n') {
          Append("\r\n", 2);
          EndLine();
          state_ = State::kLineStart;
          ++i;
          continue;
        }
        BareLineEnd("\r");
        continue;
      case State::kInLine: {
        if (c == '\r') {
          state_ = State::kCr;
          ++i;
          continue;
        }
        if (c == '\n') {
          // Bare LF: never a line end (so "\n.\r\n" cannot end the message).
          BareLineEnd("\n");
          ++i;
          continue;
        }
        // The run up to the next CR or LF. Their positions are found with memchr (not byte by
        // byte: bench/RESULTS.md, "Profiles") and kept until the scan passes them, so a buffer
        // is searched once whatever its mix of line ends (no rescans: linear time).
        if (next_cr <= i) next_cr = FindByte(p, i + 1, n, '\r');
        if (next_lf <= i) next_lf = FindByte(p, i + 1, n, '\n');
        const std::size_t j = std::min(next_cr, next_lf);
        Append(p + i, j - i);
        line_length_ += j - i;
        i = j;
        continue;
      }
      case State::kDone:
        break;
    }
  }
  return i;
}

const char* DataReaderErrorName(DataReader::Error error) {
  switch (error) {
    case DataReader::Error::kNone:
      return "none";
    case DataReader::Error::kBareLineEnding:
      return "bare CR or LF";
    case DataReader::Error::kTooBig:
      return "message too big";
    case DataReader::Error::kLineTooLong:
      return "line too long";
  }
  return "?";
}

}  // namespace outpost::smtp
