// Config's lookups: effective source policy, named sources, domain policy order, HTTP access.
#include <gtest/gtest.h>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

std::shared_ptr<const Config> Parse(const std::string& body) {
  LoadResult r = ParseConfig(std::string(testing::kMinimal) + body);
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.config;
}

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

constexpr const char* kSources = R"(
<source 127.0.0.1>
  always-allow-relaying yes
  max-message-size 10M
</source>
<source 0/0>
  smtp-service no
  require-auth yes
  log-connections yes
</source>
<source 127.0.0.0/8>
  smtp-service yes
  process-x-job yes
  max-message-size 1M
</source>
<source {auth}>
  always-allow-relaying yes
  require-auth no
  default-virtual-mta v
</source>
<virtual-mta v>
</virtual-mta>
)";

struct SourceCase {
  const char* label;
  const char* client;
  bool smtp_service;
  bool relaying;
  bool require_auth;
  bool process_x_job;
  std::uint64_t max_message_size;
};

class SourcePolicyTest : public ::testing::TestWithParam<SourceCase> {};

TEST_P(SourcePolicyTest, MostSpecificWinsPerField) {
  const SourceCase& c = GetParam();
  auto config = Parse(kSources);
  ASSERT_TRUE(config);
  EffectiveSourcePolicy p = config->SourcePolicyFor(Ip(c.client));
  EXPECT_EQ(p.smtp_service, c.smtp_service) << c.label;
  EXPECT_EQ(p.always_allow_relaying, c.relaying) << c.label;
  EXPECT_EQ(p.require_auth, c.require_auth) << c.label;
  EXPECT_EQ(p.process_x_job, c.process_x_job) << c.label;
  EXPECT_EQ(p.max_message_size, c.max_message_size) << c.label;
  EXPECT_TRUE(p.log_connections) << c.label;  // from 0/0, never overridden
}

INSTANTIATE_TEST_SUITE_P(
    Table, SourcePolicyTest,
    ::testing::Values(
        // /32 over /8 over 0/0: the file order (0/0 after /32) does not matter.
        SourceCase{"host_rule", "127.0.0.1", true, true, true, true, 10u << 20},
        SourceCase{"slash8_rule", "127.0.0.2", true, false, true, true, 1u << 20},
        SourceCase{"only_any", "192.0.2.1", false, false, true, false, 0},
        SourceCase{"v6_only_any", "2001:db8::1", false, false, true, false, 0},
        SourceCase{"mapped_v4", "::ffff:127.0.0.1", true, true, true, true, 10u << 20}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(SourcePolicy, BuiltInDefaultsWithoutSources) {
  auto config = Parse("");
  ASSERT_TRUE(config);
  EffectiveSourcePolicy p = config->SourcePolicyFor(Ip("10.1.2.3"));
  EXPECT_TRUE(p.smtp_service);
  EXPECT_FALSE(p.always_allow_relaying);
  EXPECT_FALSE(p.require_auth);
  EXPECT_EQ(p.max_message_size, 0u);
  EXPECT_FALSE(p.process_x_virtual_mta);
  EXPECT_TRUE(p.default_virtual_mta.empty());
}

TEST(SourcePolicy, NamedSourceLayersOverBase) {
  auto config = Parse(kSources);
  ASSERT_TRUE(config);
  EffectiveSourcePolicy base = config->SourcePolicyFor(Ip("192.0.2.1"));
  EffectiveSourcePolicy p = config->NamedSourcePolicy("{AUTH}", base);
  EXPECT_TRUE(p.always_allow_relaying);
  EXPECT_FALSE(p.require_auth);
  EXPECT_EQ(p.default_virtual_mta, "v");
  EXPECT_FALSE(p.smtp_service);  // not set by {auth}: kept from the base
  EffectiveSourcePolicy none = config->NamedSourcePolicy("{other}", base);
  EXPECT_FALSE(none.always_allow_relaying);
}

constexpr const char* kDomains = R"(
domain-macro hotmail hotmail.com,live.com
<domain *>
  max-smtp-out 1
</domain>
<domain $hotmail>
  max-smtp-out 2
</domain>
<domain live.com>
  max-smtp-out 3
</domain>
)";

struct DomainCase {
  const char* label;
  const char* domain;
  const char* match;  // nullptr: no policy
};

class FindDomainPolicyTest : public ::testing::TestWithParam<DomainCase> {};

TEST_P(FindDomainPolicyTest, ExactThenMacroThenStar) {
  const DomainCase& c = GetParam();
  auto config = Parse(kDomains);
  ASSERT_TRUE(config);
  const DomainPolicy* d = config->FindDomainPolicy(c.domain);
  ASSERT_NE(d, nullptr) << c.label;
  EXPECT_EQ(d->match, c.match) << c.label;
}

INSTANTIATE_TEST_SUITE_P(Table, FindDomainPolicyTest,
                         ::testing::Values(DomainCase{"exact_beats_macro", "live.com", "live.com"},
                                           DomainCase{"macro_member", "hotmail.com", "$hotmail"},
                                           DomainCase{"case_and_dot", "HotMail.COM.", "$hotmail"},
                                           DomainCase{"star_fallback", "example.org", "*"},
                                           DomainCase{"subdomain_is_not_member", "x.hotmail.com",
                                                      "*"}),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(FindDomainPolicy, NullWithoutStar) {
  auto config = Parse("<domain a.com>\n</domain>\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->FindDomainPolicy("b.com"), nullptr);
  EXPECT_NE(config->FindDomainPolicy("a.com"), nullptr);
}

struct AccessCase {
  const char* label;
  const char* rules;
  const char* client;
  AccessLevel level;
};

class HttpAccessTest : public ::testing::TestWithParam<AccessCase> {};

TEST_P(HttpAccessTest, Level) {
  const AccessCase& c = GetParam();
  auto config = Parse(c.rules);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->HttpAccessFor(Ip(c.client)), c.level) << c.label;
}

constexpr const char* kRules =
    "http-access 0/0 none\nhttp-access 10.0.0.0/8 monitor\nhttp-access 10.1.2.3 admin\n";

INSTANTIATE_TEST_SUITE_P(
    Table, HttpAccessTest,
    ::testing::Values(AccessCase{"default_v4_loopback", "", "127.0.0.1", AccessLevel::kMonitor},
                      AccessCase{"default_v6_loopback", "", "::1", AccessLevel::kMonitor},
                      AccessCase{"default_other_loopback", "", "127.0.0.2", AccessLevel::kNone},
                      AccessCase{"default_remote", "", "192.0.2.1", AccessLevel::kNone},
                      AccessCase{"host_beats_net", kRules, "10.1.2.3", AccessLevel::kAdmin},
                      AccessCase{"net_beats_any", kRules, "10.9.9.9", AccessLevel::kMonitor},
                      AccessCase{"any", kRules, "192.0.2.1", AccessLevel::kNone},
                      AccessCase{"rules_replace_default", kRules, "127.0.0.1", AccessLevel::kNone},
                      AccessCase{"no_match", "http-access 10.0.0.0/8 admin\n", "192.0.2.1",
                                 AccessLevel::kNone}),
    [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace outpost::config
