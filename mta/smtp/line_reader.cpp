#include "mta/smtp/line_reader.hpp"

#include <cstring>

namespace outpost::smtp {

std::size_t FindCrlf(std::string_view data, std::size_t from) {
  while (from < data.size()) {
    const void* hit = std::memchr(data.data() + from, '\n', data.size() - from);
    if (hit == nullptr) return std::string_view::npos;
    const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - data.data());
    if (lf > 0 && data[lf - 1] == '\r') return lf - 1;
    from = lf + 1;
  }
  return std::string_view::npos;
}

LineReader::Status LineReader::Next(std::string_view data, std::string_view& line,
                                    std::size_t& consumed) {
  consumed = 0;
  if (discarding_) {
    const std::size_t crlf = FindCrlf(data);
    if (crlf != std::string_view::npos) {
      discarding_ = false;
      consumed = crlf + 2;
      return Status::kTooLong;
    }
    // Keep a trailing CR: its LF may arrive in the next read.
    consumed = data.size();
    if (consumed > 0 && data.back() == '\r') --consumed;
    return Status::kNeedMore;
  }
  const std::size_t window = data.size() < max_line_ ? data.size() : max_line_;
  const std::size_t crlf = FindCrlf(data.substr(0, window));
  if (crlf != std::string_view::npos) {
    line = data.substr(0, crlf);
    consumed = crlf + 2;
    return Status::kLine;
  }
  if (data.size() < max_line_) return Status::kNeedMore;
  // No CRLF within the limit: drop what we have and skip to the line's end.
  discarding_ = true;
  std::size_t ignored = 0;
  const Status status = Next(data.substr(max_line_ - 1), line, ignored);
  consumed = max_line_ - 1 + ignored;
  return status;
}

}  // namespace outpost::smtp
