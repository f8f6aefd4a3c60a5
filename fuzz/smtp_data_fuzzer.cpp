// Fuzzes the DATA-phase reader (mta/smtp/data_reader.hpp): one input = the bytes a client sends
// after 354 (message, terminator, and possibly pipelined commands after it).
//
// Invariants checked against a small independent model of RFC 5321's rules:
//  * the message ends exactly at the first CRLF "." CRLF (or "." CRLF at the very start), and
//    Feed() consumes exactly through it (the pipelined bytes after it are left); without it,
//    everything is consumed and done() is false;
//  * the stored message is the input before the terminator with each line's leading "." removed
//    (lines start only after CRLF), and size() is its length;
//  * error(): bare CR/LF exactly when the message has a CR not before LF or an LF not after CR;
//    line too long exactly when a clean message has an un-stuffed line over 998 octets;
//  * feeding the same bytes in 1-byte or 3-byte pieces changes nothing (state is carried across
//    Feed() calls); with max_size set the stored part is a prefix of at most max_size bytes and
//    the error is kTooBig when the message is larger.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/smtp/data_reader.hpp"

namespace {

using outpost::smtp::DataReader;

struct Outcome {
  std::string message;
  std::size_t consumed = 0;
  bool done = false;
  DataReader::Error error = DataReader::Error::kNone;
  std::uint64_t size = 0;
};

Outcome Run(std::string_view input, std::size_t piece, std::uint64_t max_size) {
  Outcome o;
  DataReader reader(&o.message, max_size);
  std::size_t pos = 0;
  while (pos < input.size() && !reader.done()) {
    std::string_view chunk = input.substr(pos, piece);
    std::size_t n = reader.Feed(chunk);
    FUZZ_CHECK(n <= chunk.size(), "consumed <= input");
    FUZZ_CHECK(n == chunk.size() || reader.done(), "a short read only at the end");
    pos += n;
  }
  if (reader.done()) FUZZ_CHECK(reader.Feed(input.substr(pos)) == 0, "nothing after done");
  o.consumed = pos;
  o.done = reader.done();
  o.error = reader.error();
  o.size = reader.size();
  return o;
}

// The model: un-stuffs `body` (lines start at 0 and after CRLF).
std::string Unstuff(std::string_view body) {
  std::string out;
  bool line_start = true;
  char prev = 0;
  for (char c : body) {
    if (line_start && c == '.') {
      line_start = false;
      prev = c;
      continue;
    }
    out += c;
    line_start = prev == '\r' && c == '\n';
    prev = c;
  }
  return out;
}

bool HasBareLineEnding(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
  }
  return false;
}

bool HasLongLine(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = message.size();
    if (eol - pos > DataReader::kMaxTextLine) return true;
    pos = eol + 2;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = outpost::fuzz::AsText(data, size);
  const Outcome whole = Run(input, input.size() + 1, 0);

  // Where the model says the message ends.
  const std::string framed = "\r\n" + std::string(input);
  const std::size_t term = framed.find("\r\n.\r\n");
  if (term == std::string::npos) {
    FUZZ_CHECK(!whole.done, "done without a terminator");
    FUZZ_CHECK(whole.consumed == input.size(), "all consumed while not done");
    FUZZ_CHECK(Unstuff(input).compare(0, whole.message.size(), whole.message) == 0,
               "stored part is a prefix of the un-stuffed input");
  } else {
    FUZZ_CHECK(whole.done, "not done after the terminator");
    FUZZ_CHECK(whole.consumed == term + 3, "consumed exactly through the terminator");
    const std::string_view body = input.substr(0, term);  // CRLF before "." included
    const std::string expected = Unstuff(body);
    FUZZ_CHECK(whole.message == expected, "stored message == un-stuffed body");
    FUZZ_CHECK(whole.size == expected.size(), "size() == message length");
    const bool bare = HasBareLineEnding(body);
    FUZZ_CHECK(bare == (whole.error == DataReader::Error::kBareLineEnding), "bare CR/LF flag");
    if (!bare) {
      FUZZ_CHECK(HasLongLine(expected) == (whole.error == DataReader::Error::kLineTooLong),
                 "line-too-long flag");
    }
    FUZZ_CHECK(expected.empty() || expected.size() >= 2, "message ends with CRLF");
    if (!expected.empty()) {
      FUZZ_CHECK(expected.compare(expected.size() - 2, 2, "\r\n") == 0, "ends with CRLF");
    }
  }

  // Piecewise feeding is invisible.
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}}) {
    const Outcome p = Run(input, piece, 0);
    FUZZ_CHECK(p.done == whole.done && p.consumed == whole.consumed, "piecewise: end differs");
    FUZZ_CHECK(p.message == whole.message && p.size == whole.size, "piecewise: message differs");
    FUZZ_CHECK(p.error == whole.error, "piecewise: error differs");
  }

  // A size limit stores a prefix and reports kTooBig.
  constexpr std::uint64_t kLimit = 64;
  const Outcome limited = Run(input, 7, kLimit);
  FUZZ_CHECK(limited.done == whole.done && limited.consumed == whole.consumed,
             "limit: end differs");
  FUZZ_CHECK(limited.size == whole.size, "limit: size() counts past the limit");
  FUZZ_CHECK(limited.message.size() <= kLimit, "limit: stored at most max_size");
  FUZZ_CHECK(whole.message.compare(0, limited.message.size(), limited.message) == 0,
             "limit: stored part is a prefix");
  if (whole.done) {
    if (whole.size > kLimit) {
      FUZZ_CHECK(limited.error == DataReader::Error::kTooBig ||
                     limited.error == DataReader::Error::kBareLineEnding,
                 "limit: kTooBig (after bare CR/LF)");
    } else {
      FUZZ_CHECK(limited.message == whole.message && limited.error == whole.error,
                 "limit: a message within the limit is unaffected");
    }
  }
  return 0;
}
