#include "common/verp.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

TEST(VerpTest, EncodesTheRecipientIntoTheSendersLocalPart) {
  EXPECT_EQ(VerpSender("bounces@b.example", "ann@example.com", "+="),
            "bounces+ann=example.com@b.example");
  EXPECT_EQ(VerpSender("bounces@b.example", "Ann.Lee@Example.COM", "-="),
            "bounces-Ann.Lee=Example.COM@b.example");
}

TEST(VerpTest, LeavesWhatCannotBeEncodedAlone) {
  EXPECT_EQ(VerpSender("", "ann@example.com", "+="), "");  // the null sender stays <>
  EXPECT_EQ(VerpSender("bounces", "ann@example.com", "+="), "bounces");
  EXPECT_EQ(VerpSender("bounces@b.example", "postmaster", "+="), "bounces@b.example");
  EXPECT_EQ(VerpSender("bounces@b.example", "ann@example.com", "%%"), "bounces@b.example");
}

TEST(VerpTest, AcceptsOnlyTheDelimitersTheReturnPathDecodes) {
  EXPECT_TRUE(ValidVerpDelimiters("+="));
  EXPECT_TRUE(ValidVerpDelimiters("-="));
  EXPECT_FALSE(ValidVerpDelimiters("=+"));
  EXPECT_FALSE(ValidVerpDelimiters("+"));
  EXPECT_FALSE(ValidVerpDelimiters("@="));
  EXPECT_FALSE(ValidVerpDelimiters(""));
}

}  // namespace
}  // namespace outpost
