#include "common/csv.hpp"

namespace outpost::csv {

void AppendField(std::string_view value, std::string& out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

namespace {

// Index just past the line end that starts at `pos` (CRLF or LF), or npos if the CR is the last
// byte.
std::size_t SkipLineEnd(std::string_view data, std::size_t pos) {
  if (data[pos] == '\n') return pos + 1;
  if (pos + 1 >= data.size()) return std::string_view::npos;  // CR at end: wait for the LF
  return data[pos + 1] == '\n' ? pos + 2 : pos + 1;           // a lone CR also ends the record
}

// After a malformed field, consume through the next line end outside quotes (or report incomplete).
SplitResult SkipToLineEnd(std::string_view data, std::size_t pos) {
  for (; pos < data.size(); ++pos) {
    if (data[pos] == '\n' || data[pos] == '\r') {
      std::size_t end = SkipLineEnd(data, pos);
      if (end == std::string_view::npos) return {SplitStatus::kIncomplete, 0};
      return {SplitStatus::kMalformed, end};
    }
  }
  return {SplitStatus::kIncomplete, 0};
}

}  // namespace

SplitResult SplitRecord(std::string_view data, std::vector<std::string>& fields) {
  fields.clear();
  std::size_t pos = 0;
  fields.emplace_back();
  while (pos < data.size()) {
    char c = data[pos];
    if (c == '"' && fields.back().empty()) {
      // Quoted field: runs to the closing quote; "" is a literal quote.
      ++pos;
      for (;;) {
        if (pos >= data.size()) return {SplitStatus::kIncomplete, 0};
        if (data[pos] == '"') {
          if (pos + 1 >= data.size()) return {SplitStatus::kIncomplete, 0};
          if (data[pos + 1] == '"') {
            fields.back() += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        fields.back() += data[pos++];
      }
      if (pos >= data.size()) return {SplitStatus::kIncomplete, 0};
      c = data[pos];
      if (c != ',' && c != '\r' && c != '\n') return SkipToLineEnd(data, pos);
      continue;
    }
    if (c == ',') {
      fields.emplace_back();
      ++pos;
      continue;
    }
    if (c == '\r' || c == '\n') {
      std::size_t end = SkipLineEnd(data, pos);
      if (end == std::string_view::npos) return {SplitStatus::kIncomplete, 0};
      return {SplitStatus::kRecord, end};
    }
    if (c == '"') return SkipToLineEnd(data, pos);  // a quote inside an unquoted field
    // Unquoted run up to the next delimiter.
    std::size_t next = data.find_first_of(",\r\n\"", pos);
    if (next == std::string_view::npos) next = data.size();
    fields.back().append(data.substr(pos, next - pos));
    pos = next;
  }
  return {SplitStatus::kIncomplete, 0};
}

}  // namespace outpost::csv
