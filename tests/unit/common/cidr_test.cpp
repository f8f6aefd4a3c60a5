#include "common/cidr.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

struct CidrCase {
  const char* label;
  const char* cidr;
  const char* addr;
  bool contains;
};

class CidrTest : public ::testing::TestWithParam<CidrCase> {};

TEST_P(CidrTest, Contains) {
  const CidrCase& c = GetParam();
  auto cidr = Cidr::Parse(c.cidr);
  auto addr = IpAddress::Parse(c.addr);
  ASSERT_TRUE(cidr && addr) << c.label;
  EXPECT_EQ(cidr->Contains(*addr), c.contains) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CidrTest,
    ::testing::Values(CidrCase{"host_match", "127.0.0.1", "127.0.0.1", true},
                      CidrCase{"host_other", "127.0.0.1", "127.0.0.2", false},
                      CidrCase{"slash8", "10.0.0.0/8", "10.200.1.1", true},
                      CidrCase{"slash8_out", "10.0.0.0/8", "11.0.0.1", false},
                      CidrCase{"slash27", "192.0.2.32/27", "192.0.2.63", true},
                      CidrCase{"slash27_out", "192.0.2.32/27", "192.0.2.64", false},
                      CidrCase{"any_v4", "0/0", "203.0.113.9", true},
                      CidrCase{"any_v6", "0/0", "2001:db8::1", true},
                      CidrCase{"v6_prefix", "2001:db8::/32", "2001:db8:ff::1", true},
                      CidrCase{"family_mismatch", "127.0.0.1", "::1", false},
                      CidrCase{"mapped_v4", "127.0.0.0/8", "::ffff:127.0.0.9", true}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(Cidr, RejectsBadInput) {
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::Parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::Parse("host.example"));
  EXPECT_EQ(Cidr::Parse("10.0.0.0/8")->Specificity(), 8);
  EXPECT_LT(Cidr::Parse("0/0")->Specificity(), Cidr::Parse("0.0.0.0/0")->Specificity());
}

}  // namespace
}  // namespace outpost
