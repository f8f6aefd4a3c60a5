#include "common/strings.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost {
namespace {

TEST(StringsTest, AsciiCaseFoldingTouchesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLowercase("MX1.Example.TEST"), "mx1.example.test");
  // Bytes outside A-Z (digits, punctuation, UTF-8) stay as they are whatever the locale says.
  EXPECT_EQ(AsciiLowercase("\xC3\x89T\xC3\x89@Ex"), "\xC3\x89t\xC3\x89@ex");
  std::string s = "HeLLo";
  AsciiLowercaseInPlace(s);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(AsciiLower('Z'), 'z');
  EXPECT_EQ(AsciiLower('['), '[');
}

TEST(StringsTest, IEqualsAndIStartsWith) {
  struct Case {
    const char* a;
    const char* b;
    bool equals;
    bool starts;
  };
  const Case cases[] = {
      {"MAIL FROM:", "mail from:", true, true},
      {"8BITMIME", "8bitmime", true, true},
      {"RCPT TO:<a@b>", "rcpt to:", false, true},
      {"RCPT", "RCPT TO:", false, false},
      {"", "", true, true},
      {"X-Job", "X-Jobs", false, false},
      {"[", "{", false, false},  // 0x5B vs 0x7B differ by 32 but are not letters
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IEquals(c.a, c.b), c.equals) << c.a << " vs " << c.b;
    EXPECT_EQ(IStartsWith(c.a, c.b), c.starts) << c.a << " vs " << c.b;
  }
}

TEST(StringsTest, TrimBlanks) {
  EXPECT_EQ(TrimBlanks(" \t value \t"), "value");
  EXPECT_EQ(TrimBlanks("a b"), "a b");
  EXPECT_EQ(TrimBlanks(" \t "), "");
}

TEST(StringsTest, HeaderValueFindsFirstUnfoldedHeaderInHeaderSectionOnly) {
  const std::string message =
      "From: a@example.test\r\n"
      "message-id:  <1@example.test> \r\n"
      "Subject: folded\r\n"
      " across\r\n"
      "\tlines\r\n"
      "Message-ID: <second@example.test>\r\n"
      "\r\n"
      "X-Job: in-the-body\r\n";
  EXPECT_EQ(HeaderValue(message, "Message-ID"), "<1@example.test>");
  EXPECT_EQ(HeaderValue(message, "subject"), "folded across\tlines");
  EXPECT_EQ(HeaderValue(message, "X-Job"), "");  // after the blank line: body, not a header
  EXPECT_EQ(HeaderValue(message, "From-"), "");
  EXPECT_EQ(HeaderValue("Subject: no body and no CRLF", "Subject"), "no body and no CRLF");
  EXPECT_EQ(HeaderValue("\r\nSubject: body", "Subject"), "");  // empty header section
}

}  // namespace
}  // namespace outpost
