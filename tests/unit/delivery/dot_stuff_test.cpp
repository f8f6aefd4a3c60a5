// EncodeDotStuffed / FinishDotStuffed: labelled cases, then equivalence with a byte-at-a-time
// reference encoder over generated inputs and every piece size (pieces never split a CRLF, and
// their concatenation is the same whatever the size).
#include "mta/delivery/dot_stuff.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace outpost::delivery {
namespace {

std::string EncodeAll(std::string_view data, std::size_t piece) {
  DotStuffState state;
  std::string wire;
  while (state.pos < data.size()) {
    std::string out;
    EncodeDotStuffed(data, piece, state, out);
    EXPECT_FALSE(out.empty()) << "no progress at " << state.pos;
    if (out.empty()) break;
    wire += out;
  }
  FinishDotStuffed(state, wire);
  return wire;
}

// The obvious encoder, one byte at a time (what the client did before).
std::string Reference(std::string_view data) {
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
    } else {
      if (line_start && c == '.') out += '.';
      out += c;
      line_start = false;
    }
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

struct Case {
  const char* label;
  std::string in;
  std::string wire;
};

TEST(DotStuff, LabelledCases) {
  const Case cases[] = {
      {"empty message", "", ".\r\n"},
      {"one line", "a\r\n", "a\r\n.\r\n"},
      {"no final line end", "a", "a\r\n.\r\n"},
      {"leading dot stuffed", ".x\r\n", "..x\r\n.\r\n"},
      {"lone dot line stuffed", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
      {"dot inside a line untouched", "a.b\r\n", "a.b\r\n.\r\n"},
      {"bare LF becomes CRLF", "a\nb\n", "a\r\nb\r\n.\r\n"},
      {"bare CR becomes CRLF", "a\rb", "a\r\nb\r\n.\r\n"},
      {"smuggling vector cannot end data early", "a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
      {"empty lines", "\r\n\r\n", "\r\n\r\n.\r\n"},
  };
  for (const Case& c : cases) {
    for (std::size_t piece : {1u, 2u, 3u, 7u, 64u, 65536u}) {
      EXPECT_EQ(EncodeAll(c.in, piece), c.wire) << c.label << ", pieces of " << piece;
    }
  }
}

TEST(DotStuff, SameAsByteAtATimeReference) {
  std::mt19937 rng(20261122);
  const char alphabet[] = {'a', 'b', '.', '.', '\r', '\n', 'X', ' '};
  for (int round = 0; round < 400; ++round) {
    std::string in(rng() % 300, 'a');
    for (char& c : in) c = alphabet[rng() % sizeof(alphabet)];
    const std::string want = Reference(in);
    for (std::size_t piece : {1u, 2u, 5u, 16u, 100u, 4096u}) {
      ASSERT_EQ(EncodeAll(in, piece), want) << "round " << round << ", pieces of " << piece;
    }
  }
}

TEST(DotStuff, LongRunsOfOneKindOfLineEnd) {
  // Bare CRs only, bare LFs only, dots after each: the inputs that would make a rescanning
  // encoder quadratic (the search for the other line end crosses the whole window each time).
  for (const std::string unit : {"\r", "\n", "a\r", ".\n", "\r\n"}) {
    std::string in;
    while (in.size() < 300000) in += unit;
    ASSERT_EQ(EncodeAll(in, 65536), Reference(in)) << "unit of " << unit.size();
  }
}

TEST(DotStuff, PiecesStayNearTheTargetAndNeverSplitCrlf) {
  const std::string in = std::string(100000, 'x') + "\r\n" + std::string(10, 'y');
  DotStuffState state;
  std::size_t pieces = 0;
  while (state.pos < in.size()) {
    std::string out;
    EncodeDotStuffed(in, 4096, state, out);
    ++pieces;
    EXPECT_LE(out.size(), 4096u + 3) << "piece " << pieces;  // a stuffed dot + a CRLF at most
    EXPECT_NE(out.back(), '\r') << "a CRLF split at piece " << pieces;
  }
  EXPECT_EQ(pieces, 25u);
}

}  // namespace
}  // namespace outpost::delivery
