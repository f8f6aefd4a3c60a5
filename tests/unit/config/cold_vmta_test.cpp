// IP warm-up directives (cold-virtual-mta, auto-cold-virtual-mta, max-cold-virtual-mta-msg): one
// table row per accepted form, checked on the parsed Config; one row per wrong one, which must be
// an error naming its line; and the notice for a cap no warm virtual MTA can use.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

constexpr const char* kWarm = "<virtual-mta warm>\n  smtp-source-host 127.0.0.2 warm.example\n";
constexpr const char* kCold =
    "<virtual-mta cold>\n  smtp-source-host 127.0.0.3 cold.example\n</virtual-mta>\n";

std::string ErrorsOf(const LoadResult& r) {
  std::string all;
  for (const ConfigError& e : r.errors) all += "\n  " + e.ToString();
  return all;
}

struct ColdCase {
  const char* label;
  const char* text;  // after kMinimal
  std::function<bool(const Config&)> holds;
};

class ColdParseTest : public ::testing::TestWithParam<ColdCase> {};

TEST_P(ColdParseTest, Parses) {
  const ColdCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.text);
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  EXPECT_TRUE(c.holds(*r.config)) << c.text;
}

const DomainPolicy& Domain0(const Config& c) { return c.domains.at(0); }

INSTANTIATE_TEST_SUITE_P(
    Table, ColdParseTest,
    ::testing::Values(
        ColdCase{"cold_named",
                 "<virtual-mta warm>\n  cold-virtual-mta Cold\n</virtual-mta>\n"
                 "<virtual-mta cold>\n</virtual-mta>\n",
                 [](const Config& c) {
                   return c.FindVirtualMta("warm")->cold_virtual_mta == "cold" &&
                          c.FindVirtualMta("cold")->cold_virtual_mta.empty();
                 }},
        ColdCase{"auto_cold",
                 "<virtual-mta warm>\n  smtp-source-host 127.0.0.2 warm.example\n"
                 "  max-smtp-out 7\n  auto-cold-virtual-mta 127.0.0.3 Cold.Example\n"
                 "</virtual-mta>\n",
                 [](const Config& c) {
                   const VirtualMta* cold = c.FindVirtualMta("warm-cold");
                   return c.FindVirtualMta("warm")->cold_virtual_mta == "warm-cold" &&
                          cold != nullptr && cold->source_hosts.size() == 1 &&
                          cold->source_hosts[0].address == "127.0.0.3" &&
                          cold->source_hosts[0].host_name == "cold.example" &&
                          cold->max_smtp_out == 7 && cold->auto_cold_of == "warm";
                 }},
        ColdCase{"msg_per_day", "<domain *>\n  max-cold-virtual-mta-msg 400/day\n</domain>\n",
                 [](const Config& c) { return Domain0(c).max_cold_virtual_mta_msg == 400u; }},
        ColdCase{"msg_per_d", "<domain *>\n  max-cold-virtual-mta-msg 5/d\n</domain>\n",
                 [](const Config& c) { return Domain0(c).max_cold_virtual_mta_msg == 5u; }},
        ColdCase{"msg_per_24h", "<domain *>\n  max-cold-virtual-mta-msg 50/24h\n</domain>\n",
                 [](const Config& c) { return Domain0(c).max_cold_virtual_mta_msg == 50u; }},
        ColdCase{"msg_bare", "<domain *>\n  max-cold-virtual-mta-msg 12\n</domain>\n",
                 [](const Config& c) { return Domain0(c).max_cold_virtual_mta_msg == 12u; }},
        ColdCase{"msg_zero", "<domain *>\n  max-cold-virtual-mta-msg 0/day\n</domain>\n",
                 [](const Config& c) { return Domain0(c).max_cold_virtual_mta_msg == 0u; }},
        ColdCase{"msg_nested",
                 "<virtual-mta warm>\n  cold-virtual-mta cold\n"
                 "  <domain gmail.com>\n    max-cold-virtual-mta-msg 500/day\n  </domain>\n"
                 "</virtual-mta>\n<virtual-mta cold>\n</virtual-mta>\n",
                 [](const Config& c) {
                   return Domain0(c).virtual_mta == "warm" &&
                          Domain0(c).max_cold_virtual_mta_msg == 500u;
                 }}),
    [](const auto& info) { return std::string(info.param.label); });

struct BadCase {
  const char* label;
  const char* text;  // after kMinimal
  int line;          // of the error, in the whole text
  const char* says;  // part of the message
};

class ColdErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ColdErrorTest, IsAnErrorNamingTheLine) {
  const BadCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.text, "main.conf");
  ASSERT_EQ(r.errors.size(), 1u) << ErrorsOf(r);
  EXPECT_EQ(r.errors[0].file, "main.conf");
  EXPECT_EQ(r.errors[0].line, c.line) << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find(c.says), std::string::npos) << r.errors[0].ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ColdErrorTest,
    ::testing::Values(
        BadCase{"cold_undefined", "<virtual-mta warm>\n  cold-virtual-mta nope\n</virtual-mta>\n",
                3, "no <virtual-mta nope> is defined"},
        BadCase{"cold_is_pool",
                "<virtual-mta warm>\n  cold-virtual-mta p\n</virtual-mta>\n"
                "<virtual-mta a>\n</virtual-mta>\n<virtual-mta-pool p>\n  virtual-mta a\n"
                "</virtual-mta-pool>\n",
                3, "it is a pool"},
        BadCase{"cold_itself", "<virtual-mta warm>\n  cold-virtual-mta warm\n</virtual-mta>\n", 3,
                "names itself"},
        BadCase{"cold_two_words", "<virtual-mta warm>\n  cold-virtual-mta a b\n</virtual-mta>\n", 4,
                "cold-virtual-mta"},
        BadCase{"auto_bad_address",
                "<virtual-mta warm>\n  auto-cold-virtual-mta 300.1.1.1 c.example\n"
                "</virtual-mta>\n",
                4, "auto-cold-virtual-mta"},
        BadCase{"auto_no_host",
                "<virtual-mta warm>\n  auto-cold-virtual-mta 127.0.0.3\n"
                "</virtual-mta>\n",
                4, "auto-cold-virtual-mta"},
        BadCase{"auto_and_named",
                "<virtual-mta warm>\n  auto-cold-virtual-mta 127.0.0.3 c.example\n"
                "  cold-virtual-mta cold\n</virtual-mta>\n<virtual-mta cold>\n</virtual-mta>\n",
                3, "has both"},
        BadCase{"auto_name_taken",
                "<virtual-mta warm>\n  auto-cold-virtual-mta 127.0.0.3 c.example\n"
                "</virtual-mta>\n<virtual-mta warm-cold>\n</virtual-mta>\n",
                3, "already defined"},
        BadCase{"msg_per_hour", "<domain *>\n  max-cold-virtual-mta-msg 10/h\n</domain>\n", 4,
                "per day"},
        BadCase{"msg_not_number", "<domain *>\n  max-cold-virtual-mta-msg lots\n</domain>\n", 4,
                "max-cold-virtual-mta-msg"},
        BadCase{"cold_in_domain", "<domain *>\n  cold-virtual-mta x\n</domain>\n", 4,
                "cold-virtual-mta"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(ColdVmta, CapWhereNoWarmVirtualMtaCanReadItIsANotice) {
  // As in a public config: a cap in a virtual MTA that has no cold one.
  LoadResult r = ParseConfig(std::string(kMinimal) + kWarm +
                                 "  <domain *>\n    max-cold-virtual-mta-msg 400/day\n"
                                 "  </domain>\n</virtual-mta>\n",
                             "main.conf");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0].line, 6);
  EXPECT_NE(r.notices[0].message.find("has no effect"), std::string::npos);
}

TEST(ColdVmta, CapUsedByAWarmVirtualMtaHasNoNotice) {
  LoadResult r =
      ParseConfig(std::string(kMinimal) + kWarm + "  cold-virtual-mta cold\n</virtual-mta>\n" +
                  kCold + "<domain *>\n  max-cold-virtual-mta-msg 400/day\n</domain>\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  EXPECT_TRUE(r.notices.empty()) << r.notices[0].ToString();
}

}  // namespace
}  // namespace outpost::config
