// The <domain> directives that say what replies and failures mean (and, later steps, how to
// deliver): one table row per directive and value, parsed inside <domain example.com>, checked on
// the section's DomainPolicy; and one row per wrong value, which must be an error naming the line.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

std::string ErrorsOf(const LoadResult& r) {
  std::string all;
  for (const ConfigError& e : r.errors) all += "\n  " + e.ToString();
  return all;
}

struct DomainCase {
  const char* label;
  const char* line;  // one directive line inside <domain example.com>
  std::function<bool(const DomainPolicy&)> holds;
};

LoadResult ParseDomain(const std::string& line) {
  return ParseConfig(std::string(kMinimal) + "<domain example.com>\n" + line + "\n</domain>\n");
}

class DomainDirectiveTest : public ::testing::TestWithParam<DomainCase> {};

TEST_P(DomainDirectiveTest, Parses) {
  const DomainCase& c = GetParam();
  LoadResult r = ParseDomain(c.line);
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  ASSERT_EQ(r.config->domains.size(), 1u);
  EXPECT_TRUE(c.holds(r.config->domains[0])) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DomainDirectiveTest,
    ::testing::Values(
        DomainCase{"max_errors", "max-errors-per-connection 3",
                   [](const DomainPolicy& p) { return p.max_errors_per_connection == 3; }},
        DomainCase{"max_errors_unlimited", "max-errors-per-connection unlimited",
                   [](const DomainPolicy& p) { return p.max_errors_per_connection == 0; }},
        DomainCase{"local_dsn_off", "deliver-local-dsn no",
                   [](const DomainPolicy& p) { return p.deliver_local_dsn == false; }},
        DomainCase{"local_dsn_on", "deliver-local-dsn yes",
                   [](const DomainPolicy& p) { return p.deliver_local_dsn == true; }},
        DomainCase{"no_mx", "bounce-upon-no-mx yes",
                   [](const DomainPolicy& p) { return p.bounce_upon_no_mx == true; }},
        DomainCase{"greeting_5xx", "bounce-upon-5xx-greeting no",
                   [](const DomainPolicy& p) { return p.bounce_upon_5xx_greeting == false; }},
        DomainCase{"smtp_421", "smtp-421-means-mx-unavailable yes",
                   [](const DomainPolicy& p) { return p.smtp_421_means_mx_unavailable == true; }},
        DomainCase{"smtp_553", "smtp-553-means-invalid-mailbox false",
                   [](const DomainPolicy& p) { return p.smtp_553_means_invalid_mailbox == false; }},
        DomainCase{"transfer_failure", "bounce-upon-transfer-failure on",
                   [](const DomainPolicy& p) { return p.bounce_upon_transfer_failure == true; }},
        DomainCase{"assume_delivery", "assume-delivery-upon-data-termination-timeout yes",
                   [](const DomainPolicy& p) {
                     return p.assume_delivery_upon_data_termination_timeout == true;
                   }},
        DomainCase{"smtp_hosts", "smtp-hosts [192.0.2.1]:2525, mx.example.net lookup-mx:Yahoo.com",
                   [](const DomainPolicy& p) {
                     return p.smtp_hosts == std::vector<SmtpHost>{{"192.0.2.1", 2525, false},
                                                                  {"mx.example.net", {}, false},
                                                                  {"yahoo.com", {}, true}};
                   }},
        DomainCase{"smtp_hosts_bracketed_address", "smtp-hosts [192.0.2.7]",
                   [](const DomainPolicy& p) {
                     return p.smtp_hosts == std::vector<SmtpHost>{{"192.0.2.7", {}, false}};
                   }},
        DomainCase{
            "route_domain", "route yahoo.com",
            [](const DomainPolicy& p) {
              return !p.route && p.smtp_hosts == std::vector<SmtpHost>{{"yahoo.com", {}, true}};
            }},
        DomainCase{"route_address", "route [127.0.0.1]:2526",
                   [](const DomainPolicy& p) { return p.route && p.route->port == 2526; }},
        DomainCase{"mx_connection_attempts", "mx-connection-attempts 1",
                   [](const DomainPolicy& p) { return p.mx_connection_attempts == 1; }},
        DomainCase{"ignore_8bitmime", "ignore-8bitmime yes",
                   [](const DomainPolicy& p) { return p.ignore_8bitmime == true; }},
        DomainCase{"dk_sign", "dk-sign yes",
                   [](const DomainPolicy& p) { return p.dk_sign == true && !p.dkim_sign; }},
        DomainCase{"type_discard", "type discard",
                   [](const DomainPolicy& p) { return p.delivery_type == "discard"; }},
        DomainCase{"type_smtp", "type SMTP",
                   [](const DomainPolicy& p) { return p.delivery_type == "smtp"; }},
        DomainCase{"max_rcpt_per_message_alias", "max-rcpt-per-message 50",
                   [](const DomainPolicy& p) { return p.max_rcpt_per_transaction == 50; }},
        DomainCase{"backoff_retry_after_list", "backoff-retry-after 5m,15m,1h",
                   [](const DomainPolicy& p) {
                     return p.backoff_retry_after ==
                            std::vector<Seconds>{Seconds(300), Seconds(900), Seconds(3600)};
                   }}),
    [](const ::testing::TestParamInfo<DomainCase>& info) { return info.param.label; });

struct BadCase {
  const char* label;
  const char* line;
  const char* expected;  // a part of the one error's text
};

class DomainDirectiveErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(DomainDirectiveErrorTest, OneErrorOnItsLine) {
  const BadCase& c = GetParam();
  LoadResult r = ParseDomain(c.line);
  ASSERT_EQ(r.errors.size(), 1u) << ErrorsOf(r);
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_NE(r.errors[0].message.find(c.expected), std::string::npos) << r.errors[0].message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DomainDirectiveErrorTest,
    ::testing::Values(
        BadCase{"max_errors_word", "max-errors-per-connection many",
                "expected a whole number from 0 to 1000000 or 'unlimited'"},
        BadCase{"max_errors_negative", "max-errors-per-connection -1", "max-errors-per-connection"},
        BadCase{"no_mx_word", "bounce-upon-no-mx sometimes", "expected yes/no"},
        BadCase{"greeting_word", "bounce-upon-5xx-greeting maybe", "expected yes/no"},
        BadCase{"dk_sign_word", "dk-sign rsa", "expected yes/no"},
        BadCase{"smtp_hosts_bad_entry", "smtp-hosts mx.example.net, [not-an-ip]",
                "'[not-an-ip]' is not [ADDR][:PORT], HOST[:PORT] or lookup-mx:DOMAIN"},
        BadCase{"route_neither", "route not a domain", "or a domain name"},
        BadCase{"type_file", "type file", "not supported by Outpost (smtp and discard are)"},
        BadCase{"type_unknown", "type carrier-pigeon", "expected smtp or discard"},
        BadCase{"backoff_retry_zero", "backoff-retry-after 5m,0", "each at least 1s"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.label; });

}  // namespace
}  // namespace outpost::config
