#include "common/base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost {
namespace {

TEST(Base64, RoundTripsEveryPaddingLength) {
  const std::vector<std::string> texts = {"",    "a",    "ab",
                                          "abc", "abcd", std::string("\0\xff\x10", 3)};
  for (const std::string& text : texts) {
    EXPECT_EQ(DecodeBase64(EncodeBase64(text)), text);
  }
  EXPECT_EQ(EncodeBase64("ab"), "YWI=");
}

TEST(Base64, StrictDecodingRefusesWhatIsNotBase64) {
  EXPECT_FALSE(DecodeBase64("YWI"));       // not a multiple of 4
  EXPECT_FALSE(DecodeBase64("Y*I="));      // outside the alphabet
  EXPECT_FALSE(DecodeBase64("Y==="));      // too much padding
  EXPECT_FALSE(DecodeBase64("YQ==YWI="));  // data after padding
  EXPECT_FALSE(DecodeBase64("YW\nI="));    // no line ends
}

TEST(Base64, LenientDecodingSkipsLineEndsAndStopsAtPadding) {
  EXPECT_EQ(DecodeBase64Lenient("aGVs\r\nbG8=\r\nignored"), "hello");
  EXPECT_EQ(DecodeBase64Lenient(" aGVs bG8 "), "hello");
}

}  // namespace
}  // namespace outpost
