// Policy merging (exact > macro > * > defaults), queue naming and keying, vmta/pool selection.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "mta/queue/domain_policy.hpp"
#include "mta/queue/queue_name.hpp"

namespace outpost::queue {
namespace {

using std::chrono::seconds;

std::shared_ptr<const config::Config> Parse(const std::string& body) {
  config::LoadResult r =
      config::ParseConfig("smtp-listener 127.0.0.1:0\nspool /tmp/outpost-queue-test\n" + body);
  std::string errors;
  for (const auto& e : r.errors) errors += e.ToString() + "\n";
  EXPECT_TRUE(r.errors.empty()) << errors;
  return r.config;
}

const char* kPolicies = R"(
domain-macro hotmail hotmail.com,live.com
<domain *>
  max-smtp-out 5
  retry-after 5m
  bounce-after 2d
  max-msg-rate 100/h
</domain>
<domain $hotmail>
  max-smtp-out 8
  max-connect-rate 2/s
  backoff-retry-after 30m
</domain>
<domain live.com>
  max-smtp-out 3
  backoff-max-msg-rate 10/h
</domain>
<domain gmail.com>
  mx-rollup google
  retry-after 10m,20m,1h
</domain>
<domain googlemail.com>
  mx-rollup google
</domain>
)";

struct MergeCase {
  std::string label;
  std::string domain;
  int max_smtp_out;
  config::Rate max_connect_rate;
  config::Rate max_msg_rate;
  config::Rate backoff_max_msg_rate;
  std::vector<seconds> retry_after;
  seconds bounce_after;
  seconds backoff_retry_after;
  int max_rcpt_per_transaction;
};

class MergeTest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(MergeTest, FieldByField) {
  const MergeCase& c = GetParam();
  auto config = Parse(kPolicies);
  ASSERT_TRUE(config);
  EffectiveDomainPolicy p = MergeDomainPolicy(*config, c.domain);
  EXPECT_EQ(p.max_smtp_out, c.max_smtp_out) << c.label;
  EXPECT_EQ(p.max_connect_rate, c.max_connect_rate) << c.label;
  EXPECT_EQ(p.max_msg_rate, c.max_msg_rate) << c.label;
  EXPECT_EQ(p.backoff_max_msg_rate, c.backoff_max_msg_rate) << c.label;
  EXPECT_EQ(p.retry_after, c.retry_after) << c.label;
  EXPECT_EQ(p.bounce_after, c.bounce_after) << c.label;
  EXPECT_EQ(p.backoff_retry_after, std::vector<seconds>{c.backoff_retry_after}) << c.label;
  EXPECT_EQ(p.max_rcpt_per_transaction, c.max_rcpt_per_transaction) << c.label;
}

const config::Rate kUnlimited{0, seconds(1)};
const config::Rate k100h{100, seconds(3600)};

INSTANTIATE_TEST_SUITE_P(
    Policies, MergeTest,
    ::testing::Values(
        // exact (3) > macro (2/s, 30m) > * (100/h, 5m, 2d) > defaults (1000 rcpt)
        MergeCase{"exact_over_macro_over_star",
                  "live.com",
                  3,
                  {2, seconds(1)},
                  k100h,
                  {10, seconds(3600)},
                  {seconds(300)},
                  seconds(172800),
                  seconds(1800),
                  1000},
        MergeCase{"macro_over_star",
                  "Hotmail.COM.",
                  8,
                  {2, seconds(1)},
                  k100h,
                  k100h,
                  {seconds(300)},
                  seconds(172800),
                  seconds(1800),
                  1000},
        MergeCase{"star_only",
                  "example.org",
                  5,
                  kUnlimited,
                  k100h,
                  k100h,
                  {seconds(300)},
                  seconds(172800),
                  seconds(3600),
                  1000},
        MergeCase{"exact_list_over_star",
                  "gmail.com",
                  5,
                  kUnlimited,
                  k100h,
                  k100h,
                  {seconds(600), seconds(1200), seconds(3600)},
                  seconds(172800),
                  seconds(3600),
                  1000}),
    [](const ::testing::TestParamInfo<MergeCase>& info) { return info.param.label; });

TEST(MergeTest, BuiltInDefaultsWithoutAnySection) {
  auto config = Parse("");
  EffectiveDomainPolicy p = MergeDomainPolicy(*config, "example.com");
  EXPECT_EQ(p.max_smtp_out, 20);
  EXPECT_TRUE(p.max_connect_rate.unlimited());
  EXPECT_TRUE(p.max_msg_rate.unlimited());
  EXPECT_EQ(p.max_msg_per_connection, 0);
  EXPECT_EQ(p.max_rcpt_per_transaction, 1000);
  EXPECT_EQ(p.retry_after, std::vector<seconds>{seconds(600)});
  EXPECT_EQ(p.backoff_retry_after, std::vector<seconds>{seconds(3600)});
  // What replies and failures mean, and how to deliver: PowerMTA's defaults.
  EXPECT_EQ(p.max_errors_per_connection, 0);
  EXPECT_FALSE(p.bounce_upon_no_mx);
  EXPECT_TRUE(p.deliver_local_dsn);
  EXPECT_TRUE(p.bounce_upon_5xx_greeting);
  EXPECT_FALSE(p.smtp_421_means_mx_unavailable);
  EXPECT_TRUE(p.smtp_553_means_invalid_mailbox);
  EXPECT_FALSE(p.bounce_upon_transfer_failure);
  EXPECT_FALSE(p.assume_delivery_upon_data_termination_timeout);
  EXPECT_TRUE(p.smtp_hosts.empty());
  EXPECT_EQ(p.mx_connection_attempts, 0);
  EXPECT_FALSE(p.ignore_8bitmime);
  EXPECT_FALSE(p.discard);
  EXPECT_EQ(p.bounce_after, seconds(4 * 86400 + 12 * 3600));
  EXPECT_FALSE(p.backoff_to_normal_after.has_value());
  EXPECT_FALSE(p.backoff_to_normal_after_delivery);
  EXPECT_EQ(p.default_smtp_port, 25);
  EXPECT_EQ(p.queue_priority, 50);
  EXPECT_EQ(p.backoff_max_smtp_out, 20);
}

TEST(MergeTest, RollupNameComesFromThePolicy) {
  auto config = Parse(kPolicies);
  EXPECT_EQ(MergeDomainPolicy(*config, "gmail.com").mx_rollup, "google");
  EXPECT_EQ(MergeDomainPolicy(*config, "googlemail.com").mx_rollup, "google");
  EXPECT_EQ(MergeDomainPolicy(*config, "example.org").mx_rollup, "");
}

// <domain> sections nested in <virtual-mta> and <virtual-mta-pool>: for mail to D through V, each
// field comes from the first of V's, V's pools', the global section, for D exactly, then by macro,
// then `*`. Each field below is set so that exactly one layer should win it.
const char* kLayers = R"(
domain-macro big big.test,huge.test
<virtual-mta v1>
  smtp-source-host 127.0.0.2 v1.test
  <domain big.test>
    max-smtp-out 11
  </domain>
  <domain $big>
    max-smtp-out 14
    max-msg-per-connection 4
  </domain>
  <domain *>
    max-smtp-out 17
    max-msg-per-connection 7
    retry-after 7m
  </domain>
</virtual-mta>
<virtual-mta v2>
  smtp-source-host 127.0.0.3 v2.test
</virtual-mta>
<virtual-mta v3>
  smtp-source-host 127.0.0.4 v3.test
</virtual-mta>
<virtual-mta-pool p>
  virtual-mta v1
  virtual-mta v2
  <domain big.test>
    max-smtp-out 12
    max-connect-rate 12/s
  </domain>
  <domain *>
    max-smtp-out 18
    bounce-after 18h
  </domain>
</virtual-mta-pool>
<domain big.test>
  max-smtp-out 13
  max-msg-rate 13/h
</domain>
<domain $big>
  max-smtp-out 15
  max-msg-per-connection 5
</domain>
<domain *>
  max-smtp-out 19
  retry-after 19m
</domain>
)";

struct LayerCase {
  std::string label;
  std::string vmta;
  std::string domain;
  int max_smtp_out;
  config::Rate max_connect_rate;
  config::Rate max_msg_rate;
  int max_msg_per_connection;
  seconds retry_after;
  seconds bounce_after;
};

class VmtaLayerTest : public ::testing::TestWithParam<LayerCase> {};

TEST_P(VmtaLayerTest, MostSpecificSectionOfTheVirtualMtaFirst) {
  static const auto config = Parse(kLayers);
  const LayerCase& c = GetParam();
  EffectiveDomainPolicy p = MergeDomainPolicy(*config, c.domain, c.vmta);
  EXPECT_EQ(p.max_smtp_out, c.max_smtp_out);
  EXPECT_EQ(p.max_connect_rate, c.max_connect_rate);
  EXPECT_EQ(p.max_msg_rate, c.max_msg_rate);
  EXPECT_EQ(p.max_msg_per_connection, c.max_msg_per_connection);
  EXPECT_EQ(p.retry_after, std::vector<seconds>{c.retry_after});
  EXPECT_EQ(p.bounce_after, c.bounce_after);
}

const seconds kDefaultBounce(4 * 86400 + 12 * 3600);

INSTANTIATE_TEST_SUITE_P(
    Table, VmtaLayerTest,
    ::testing::Values(
        // v1: its own exact section, its pool's exact, the global exact, its own macro and *,
        // its pool's *: each wins the field the more specific ones leave unset.
        LayerCase{"vmta_exact_then_pool_then_global",
                  "v1",
                  "big.test",
                  11,
                  {12, seconds(1)},
                  {13, seconds(3600)},
                  4,
                  seconds(420),
                  seconds(18 * 3600)},
        LayerCase{"pool_member_without_own_sections",
                  "v2",
                  "big.test",
                  12,
                  {12, seconds(1)},
                  {13, seconds(3600)},
                  5,
                  seconds(1140),
                  seconds(18 * 3600)},
        LayerCase{"vmta_in_no_pool_gets_global_only",
                  "v3",
                  "big.test",
                  13,
                  kUnlimited,
                  {13, seconds(3600)},
                  5,
                  seconds(1140),
                  kDefaultBounce},
        LayerCase{"no_vmta_gets_global_only",
                  "",
                  "big.test",
                  13,
                  kUnlimited,
                  {13, seconds(3600)},
                  5,
                  seconds(1140),
                  kDefaultBounce},
        LayerCase{"vmta_macro_before_global_macro", "v1", "huge.test", 14, kUnlimited, kUnlimited,
                  4, seconds(420), seconds(18 * 3600)},
        LayerCase{"vmta_star_before_pool_and_global_star", "v1", "other.test", 17, kUnlimited,
                  kUnlimited, 7, seconds(420), seconds(18 * 3600)},
        LayerCase{"pool_star_before_global_star", "v2", "other.test", 18, kUnlimited, kUnlimited, 0,
                  seconds(1140), seconds(18 * 3600)},
        LayerCase{"unknown_vmta_gets_global_only", "nope", "other.test", 19, kUnlimited, kUnlimited,
                  0, seconds(1140), kDefaultBounce}),
    [](const ::testing::TestParamInfo<LayerCase>& info) { return info.param.label; });

TEST(VmtaLayerTest, GlobalLookupIgnoresNestedSections) {
  auto config = Parse(kLayers);
  const config::DomainPolicy* d = config->FindDomainPolicy("other.test");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->max_smtp_out, 19);
  EXPECT_TRUE(d->virtual_mta.empty());
}

struct DomainCase {
  std::string label;
  std::string address;
  std::string domain;
};

class RecipientDomainTest : public ::testing::TestWithParam<DomainCase> {};

TEST_P(RecipientDomainTest, Extracts) {
  EXPECT_EQ(RecipientDomain(GetParam().address), GetParam().domain) << GetParam().label;
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, RecipientDomainTest,
    ::testing::Values(DomainCase{"plain", "ann@example.net", "example.net"},
                      DomainCase{"upper_case", "Ann@Example.NET", "example.net"},
                      DomainCase{"trailing_dot", "ann@example.net.", "example.net"},
                      DomainCase{"quoted_local_with_at", "\"a@b\"@example.net", "example.net"},
                      DomainCase{"no_domain", "postmaster", ""}),
    [](const ::testing::TestParamInfo<DomainCase>& info) { return info.param.label; });

TEST(QueueNameTest, FormatAndParseRoundTrip) {
  QueueKey key{"gmail.com", "vmta1"};
  EXPECT_EQ(FormatQueueName(key), "gmail.com/vmta1");
  EXPECT_EQ(ParseQueueName("gmail.com/vmta1"), key);
  EXPECT_EQ(ParseQueueName("google/{default}"), (QueueKey{"google", "{default}"}));
  EXPECT_FALSE(ParseQueueName("gmail.com").has_value());
  EXPECT_FALSE(ParseQueueName("/vmta1").has_value());
  EXPECT_FALSE(ParseQueueName("gmail.com/").has_value());
}

const char* kVmtas = R"(
<virtual-mta vmta1>
  smtp-source-host 127.0.0.2 one.example.com
</virtual-mta>
<virtual-mta vmta2>
  smtp-source-host 127.0.0.3 two.example.com
</virtual-mta>
<virtual-mta vmta3>
  smtp-source-host 127.0.0.4 three.example.com
</virtual-mta>
<virtual-mta-pool pool1>
  virtual-mta vmta1
  virtual-mta vmta2
  virtual-mta vmta3
</virtual-mta-pool>
)";

struct SelectCase {
  std::string label;
  std::vector<std::string> requested;  // one per message
  std::vector<std::string> vmtas;
  std::vector<std::string> pools;
};

class VmtaSelectTest : public ::testing::TestWithParam<SelectCase> {};

TEST_P(VmtaSelectTest, Selects) {
  const SelectCase& c = GetParam();
  auto config = Parse(kVmtas);
  VmtaSelector selector(*config);
  std::vector<std::string> vmtas, pools;
  for (const auto& r : c.requested) {
    VmtaChoice choice = selector.Select(r);
    vmtas.push_back(choice.vmta);
    pools.push_back(choice.pool);
  }
  EXPECT_EQ(vmtas, c.vmtas) << c.label;
  EXPECT_EQ(pools, c.pools) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Selection, VmtaSelectTest,
    ::testing::Values(SelectCase{"empty_is_default", {""}, {"{default}"}, {""}},
                      SelectCase{"named_vmta", {"vmta2", "vmta2"}, {"vmta2", "vmta2"}, {"", ""}},
                      SelectCase{"pool_rotates_round_robin",
                                 {"pool1", "pool1", "pool1", "pool1"},
                                 {"vmta1", "vmta2", "vmta3", "vmta1"},
                                 {"pool1", "pool1", "pool1", "pool1"}},
                      SelectCase{"unknown_is_default", {"nosuch"}, {"{default}"}, {""}}),
    [](const ::testing::TestParamInfo<SelectCase>& info) { return info.param.label; });

}  // namespace
}  // namespace outpost::queue
