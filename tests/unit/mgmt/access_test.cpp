#include "mta/mgmt/access.hpp"

#include <gtest/gtest.h>

namespace outpost::mgmt {
namespace {

using config::AccessLevel;

std::shared_ptr<const config::Config> Parse(const std::string& extra) {
  auto result =
      config::ParseConfig("smtp-listener 127.0.0.1:0\nspool /tmp/outpost-acl-test\n" + extra);
  EXPECT_TRUE(result.errors.empty()) << (result.errors.empty() ? "" : result.errors[0].ToString());
  return result.config;
}

struct AccessCase {
  const char* label;
  std::string config;
  std::string peer;
  bool may_read;
  bool may_control;
};

TEST(MgmtAccess, Decisions) {
  const std::string rules =
      "http-access 127.0.0.1 admin\nhttp-access 127.0.0.0/8 monitor\n"
      "http-access 127.0.0.9 none\nhttp-access ::1 admin\n";
  const std::vector<AccessCase> cases = {
      {"default: localhost may read", "", "127.0.0.1", true, false},
      {"default: ::1 may read", "", "::1", true, false},
      {"default: others denied", "", "127.0.0.2", false, false},
      {"default: mapped localhost reads", "", "::ffff:127.0.0.1", true, false},
      {"admin line", rules, "127.0.0.1", true, true},
      {"monitor by cidr", rules, "127.0.0.2", true, false},
      {"none beats the cidr", rules, "127.0.0.9", false, false},
      {"unlisted with rules", rules, "10.0.0.1", false, false},
      {"ipv6 admin", rules, "::1", true, true},
      {"garbage peer", rules, "not-an-ip", false, false},
      {"empty peer", rules, "", false, false},
  };
  for (const auto& c : cases) {
    auto config = Parse(c.config);
    ASSERT_TRUE(config) << c.label;
    const AccessLevel level = AccessFor(*config, c.peer);
    EXPECT_EQ(Permits(level, Need::kMonitor), c.may_read) << c.label;
    EXPECT_EQ(Permits(level, Need::kAdmin), c.may_control) << c.label;
  }
}

}  // namespace
}  // namespace outpost::mgmt
