#include "mta/returnpath/mime.hpp"

#include <gtest/gtest.h>

#include "common/base64.hpp"

namespace outpost::returnpath {
namespace {

TEST(Mime, HeadersUnfoldAndCaseFold) {
  const Part p = ParsePart(
      "Content-Type: multipart/report;\r\n\treport-type=delivery-status;"
      " boundary=\"a b\"\r\nX-Job: j1\r\n\r\nbody\r\n");
  EXPECT_EQ(p.ContentType(), "multipart/report");
  EXPECT_EQ(Param(p.Header("content-type"), "boundary"), "a b");
  EXPECT_EQ(Param(p.Header("content-type"), "report-type"), "delivery-status");
  EXPECT_EQ(p.Header("x-job"), "j1");
  EXPECT_EQ(p.body, "body\n");
}

TEST(Mime, MultipartLeavesInOrderAndNested) {
  const std::string text =
      "Content-Type: multipart/mixed; boundary=outer\n\npreamble\n--outer\n"
      "Content-Type: text/plain\n\none\n--outer\n"
      "Content-Type: multipart/alternative; boundary=inner\n\n--inner\n\ntwo\n--inner--\n"
      "--outer\nContent-Type: message/rfc822\n\nX-Job: j\n\nthree\n--outer--\nepilogue\n";
  bool truncated = true;
  const std::vector<Part> leaves = Leaves(ParsePart(text), &truncated);
  ASSERT_EQ(leaves.size(), 3u);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(leaves[0].body, "one");
  EXPECT_EQ(leaves[1].body, "two");
  EXPECT_EQ(leaves[2].ContentType(), "message/rfc822");
}

TEST(Mime, MissingClosingBoundaryEndsAtTheEnd) {
  const std::vector<Part> leaves =
      Leaves(ParsePart("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nlast part\n"));
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0].body, "last part\n");
}

TEST(Mime, PartCountIsBounded) {
  std::string text = "Content-Type: multipart/mixed; boundary=x\n\n";
  for (int i = 0; i < 1000; ++i) text += "--x\n\np\n";
  bool truncated = false;
  EXPECT_EQ(Leaves(ParsePart(text), &truncated).size(), kMaxParts);
  EXPECT_TRUE(truncated);
}

TEST(Mime, Decoders) {
  EXPECT_EQ(DecodeQuotedPrintable("a=3Db soft=\nbreak =ZZ"), "a=b softbreak =ZZ");
  EXPECT_EQ(DecodeBase64Lenient("aGVs\nbG8=\n"), "hello");
  Part p = ParsePart("Content-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50\n");
  EXPECT_EQ(p.DecodedBody(), "Final-Recipient");
}

TEST(Mime, FieldBlocks) {
  const auto blocks = ParseFieldBlocks("A: 1\nB: 2\n  more\n\n\nC: 3\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0][1].first, "b");
  EXPECT_EQ(blocks[0][1].second, "2 more");
  EXPECT_EQ(blocks[1][0].second, "3");
}

}  // namespace
}  // namespace outpost::returnpath
