#include "mta/smtp/data_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::smtp {
namespace {

struct DataCase {
  std::string label;
  std::string input;
  bool done;
  std::string message;  // expected stored message (when done and no error)
  DataReader::Error error = DataReader::Error::kNone;
  std::string rest = "";  // bytes left after the terminator
  std::uint64_t max_size = 1 << 20;
};

TEST(DataReaderTest, Table) {
  using E = DataReader::Error;
  const std::string long_line(999, 'x');
  const std::string max_line(998, 'x');
  const std::vector<DataCase> cases = {
      {"simple", "Subject: x\r\n\r\nbody\r\n.\r\n", true, "Subject: x\r\n\r\nbody\r\n"},
      {"empty message", ".\r\n", true, ""},
      {"dot unstuffing", "..leading\r\n...two\r\n.\r\n", true, ".leading\r\n..two\r\n"},
      {"dot only stuffed line", "a\r\n..\r\n.\r\n", true, "a\r\n.\r\n"},
      {"dot inside line", "a.b\r\n.\r\n", true, "a.b\r\n"},
      {"pipelined rest kept", "a\r\n.\r\nMAIL FROM:<x@y>\r\n", true, "a\r\n", E::kNone,
       "MAIL FROM:<x@y>\r\n"},
      {"smuggle lf dot lf", "a\n.\nMAIL FROM:<x@y>\r\n", false, "", E::kBareLineEnding},
      {"smuggle lf dot lf then real end", "a\n.\nb\r\n.\r\nQUIT\r\n", true, "", E::kBareLineEnding,
       "QUIT\r\n"},
      {"smuggle cr dot cr then end", "a\r.\rb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"smuggle lf dot crlf then end", "a\n.\r\nb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"smuggle crlf dot lf then end", "a\r\n.\nb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"smuggle crlf dot cr then end", "a\r\n.\rb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"bare cr", "a\rb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"bare lf", "a\nb\r\n.\r\n", true, "", E::kBareLineEnding},
      {"bare cr before crlf", "a\r\r\n.\r\n", true, "", E::kBareLineEnding},
      {"oversize", std::string(100, 'x') + "\r\n.\r\n", true, "", E::kTooBig, "", 50},
      {"exact size ok", std::string(48, 'x') + "\r\n.\r\n", true, std::string(48, 'x') + "\r\n",
       E::kNone, "", 50},
      {"line 998 ok", max_line + "\r\n.\r\n", true, max_line + "\r\n"},
      {"line 999 too long", long_line + "\r\n.\r\n", true, "", E::kLineTooLong},
      {"stuffed 999 on wire ok", "." + max_line + "\r\n.\r\n", true, max_line + "\r\n"},
      {"not ended", "a\r\nb\r\n", false, ""},
      {"dot not at line start", "a.\r\n", false, ""},
  };
  for (const DataCase& c : cases) {
    SCOPED_TRACE(c.label);
    std::string out;
    DataReader reader(&out, c.max_size);
    const std::size_t used = reader.Feed(c.input);
    EXPECT_EQ(reader.done(), c.done);
    EXPECT_EQ(reader.error(), c.error);
    if (c.done) {
      EXPECT_EQ(c.input.substr(used), c.rest);
      if (c.error == E::kNone) {
        EXPECT_EQ(out, c.message);
      }
    } else {
      EXPECT_EQ(used, c.input.size());
    }
  }
}

// bare-line-end normalize: bare CR and LF become CRLF; only CRLF.CRLF still ends DATA, and the
// line after a normalized line end is no line start (no terminator, no dot-unstuffing there).
TEST(DataReaderTest, NormalizeBareLineEnds) {
  struct Case {
    const char* label;
    std::string input;
    bool done;
    std::string message;
    std::string rest;
  };
  const Case cases[] = {
      {"unix text file", "Subject: x\n\nline 1\nline 2\n\r\n.\r\n", true,
       "Subject: x\r\n\r\nline 1\r\nline 2\r\n\r\n", ""},
      {"bare cr", "a\rb\r\n.\r\n", true, "a\r\nb\r\n", ""},
      {"crlf untouched", "a\r\nb\r\n.\r\n", true, "a\r\nb\r\n", ""},
      {"lf dot lf does not end", "a\n.\nMAIL FROM:<x@y>\r\n", false, "", ""},
      {"lf dot lf stored as a dot line", "a\n.\nb\r\n.\r\nQUIT\r\n", true, "a\r\n.\r\nb\r\n",
       "QUIT\r\n"},
      {"lf dot crlf does not end", "a\n.\r\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", ""},
      {"cr dot cr does not end", "a\r.\rb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", ""},
      {"crlf dot lf does not end", "a\r\n.\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", ""},
      {"crlf dot cr does not end", "a\r\n.\rb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", ""},
      {"no unstuffing after a bare lf", "a\n..b\r\n.\r\n", true, "a\r\n..b\r\n", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    // Whole, and split at every position (a CR at a buffer's end waits for the next byte).
    for (std::size_t split = 0; split <= c.input.size(); ++split) {
      std::string out;
      DataReader reader(&out, 1 << 20, DataReader::BareLineEnds::kNormalize);
      std::size_t used = reader.Feed(std::string_view(c.input).substr(0, split));
      if (!reader.done()) used += reader.Feed(std::string_view(c.input).substr(split));
      ASSERT_EQ(reader.done(), c.done) << "split " << split;
      EXPECT_EQ(reader.error(), DataReader::Error::kNone);
      if (c.done) {
        EXPECT_EQ(out, c.message) << "split " << split;
        EXPECT_EQ(c.input.substr(used), c.rest);
      }
    }
  }
}

// The terminator (and everything else) split at every byte position gives the same result.
TEST(DataReaderTest, SplitAtEveryPosition) {
  const std::string input = "H: v\r\n\r\n..dot\r\nline\r\n.\r\nRSET\r\n";
  for (std::size_t split = 0; split <= input.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    std::string out;
    DataReader reader(&out, 0);
    std::size_t used = reader.Feed(std::string_view(input).substr(0, split));
    if (!reader.done()) {
      ASSERT_EQ(used, split);
      used += reader.Feed(std::string_view(input).substr(split));
    }
    ASSERT_TRUE(reader.done());
    EXPECT_EQ(reader.error(), DataReader::Error::kNone);
    EXPECT_EQ(out, "H: v\r\n\r\n.dot\r\nline\r\n");
    EXPECT_EQ(input.substr(used), "RSET\r\n");
  }
}

TEST(DataReaderTest, ByteByByte) {
  const std::string input = "a\r\n..b\r\n.\r\nX";
  std::string out;
  DataReader reader(&out, 0);
  std::size_t i = 0;
  while (!reader.done() && i < input.size()) {
    i += reader.Feed(std::string_view(input).substr(i, 1));
  }
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(out, "a\r\n.b\r\n");
  EXPECT_EQ(input.substr(i), "X");
}

TEST(DataReaderTest, LongBuffersOfOneKindOfLineEnd) {
  // One big buffer of short lines ending in only one kind of line end: the reader keeps every
  // byte and finds the real end (a reader that rescanned for the other kind would be quadratic).
  struct Case {
    const char* label;
    std::string unit;
    std::string body_unit;  // what each unit is stored as
    DataReader::Error error;
  };
  const Case cases[] = {
      {"CRLF lines", "ab\r\n", "ab\r\n", DataReader::Error::kNone},
      {"bare LF lines", "ab\n", "ab\n", DataReader::Error::kBareLineEnding},
      {"bare CR lines", "ab\r", "ab\r", DataReader::Error::kBareLineEnding},
  };
  for (const Case& c : cases) {
    std::string input;
    std::string want;
    for (int i = 0; i < 200000; ++i) {
      input += c.unit;
      want += c.body_unit;
    }
    input += "\r\n.\r\nQUIT\r\n";
    want += "\r\n";  // the CRLF before the final dot belongs to the message
    std::string out;
    DataReader reader(&out, 0);
    const std::size_t used = reader.Feed(input);
    EXPECT_TRUE(reader.done()) << c.label;
    EXPECT_EQ(reader.error(), c.error) << c.label;
    EXPECT_EQ(input.substr(used), "QUIT\r\n") << c.label;
    EXPECT_EQ(out.size(), want.size()) << c.label;
    EXPECT_TRUE(out == want) << c.label;
  }
}

TEST(DataReaderTest, OversizeKeepsCountingButStopsStoring) {
  std::string out;
  DataReader reader(&out, 10);
  reader.Feed(std::string(1000, 'x') + "\r\n");
  reader.Feed(".\r\n");
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.error(), DataReader::Error::kTooBig);
  EXPECT_EQ(reader.size(), 1002u);
  EXPECT_LE(out.size(), 10u);
}

}  // namespace
}  // namespace outpost::smtp
