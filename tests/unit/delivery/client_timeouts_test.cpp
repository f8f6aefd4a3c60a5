// The outbound client's per-domain timeouts (connect-timeout, smtp-greeting-timeout,
// smtp-command-timeout, data-send-timeout, smtp-data-termination-timeout): parsed in <domain>
// blocks with errors at file:line, merged field by field (exact > * > defaults) into the
// ClientTimeouts a connection uses. (The plain-text fallback's memory: tls_failure_memory_test.)
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mta/config/config.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/queue/domain_policy.hpp"

namespace outpost {
namespace {

using namespace std::chrono_literals;

const char* kBase = "smtp-listener 127.0.0.1:0\nspool /tmp/outpost-spool\n";

std::string ErrorsOf(const config::LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

TEST(ClientTimeouts, DefaultsArePowerMtas) {
  config::LoadResult r = config::ParseConfig(kBase);
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  const delivery::ClientTimeouts t = queue::MergeDomainPolicy(*r.config, "x.test").client_timeouts;
  EXPECT_EQ(t.connect, 1min);
  EXPECT_EQ(t.greeting, 5min);
  EXPECT_EQ(t.command, 5min);
  EXPECT_EQ(t.data_send, 3min);
  EXPECT_EQ(t.data_termination, 10min);
}

TEST(ClientTimeouts, MergedPerDomain) {
  config::LoadResult r = config::ParseConfig(std::string(kBase) +
                                             "<domain *>\n"
                                             "  connect-timeout 20s\n"
                                             "  smtp-greeting-timeout 2m\n"
                                             "  smtp-data-termination-timeout 2s\n"
                                             "</domain>\n"
                                             "<domain slow.test>\n"
                                             "  smtp-command-timeout 1m\n"
                                             "  data-send-timeout 1h\n"
                                             "  smtp-data-termination-timeout 30m\n"
                                             "</domain>\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  struct Case {
    const char* label;
    const char* domain;
    delivery::ClientTimeouts want;
  };
  const Case cases[] = {
      {"default block only", "other.test", {20s, 2min, 5min, 3min, 2s}},
      {"exact block over *", "slow.test", {20s, 2min, 1min, 1h, 30min}},
  };
  for (const Case& c : cases) {
    const delivery::ClientTimeouts got =
        queue::MergeDomainPolicy(*r.config, c.domain).client_timeouts;
    EXPECT_EQ(got.connect, c.want.connect) << c.label;
    EXPECT_EQ(got.greeting, c.want.greeting) << c.label;
    EXPECT_EQ(got.command, c.want.command) << c.label;
    EXPECT_EQ(got.data_send, c.want.data_send) << c.label;
    EXPECT_EQ(got.data_termination, c.want.data_termination) << c.label;
  }
}

TEST(ClientTimeouts, BadValuesAreErrorsWithFileAndLine) {
  struct Case {
    const char* label;
    const char* line;
  };
  const Case cases[] = {
      {"zero connect-timeout", "connect-timeout 0"},
      {"zero greeting timeout", "smtp-greeting-timeout 0s"},
      {"absurd command timeout", "smtp-command-timeout 2d"},
      {"not a duration", "data-send-timeout soon"},
      {"absurd termination timeout", "smtp-data-termination-timeout 400d"},
      {"missing value", "smtp-data-termination-timeout"},
  };
  for (const Case& c : cases) {
    config::LoadResult r = config::ParseConfig(
        std::string(kBase) + "<domain *>\n  " + c.line + "\n</domain>\n", "test.conf");
    ASSERT_EQ(r.errors.size(), 1u) << c.label << ": " << ErrorsOf(r);
    EXPECT_EQ(r.errors[0].file, "test.conf") << c.label;
    EXPECT_EQ(r.errors[0].line, 4) << c.label << ": " << ErrorsOf(r);
    EXPECT_EQ(r.config, nullptr) << c.label;
  }
}

}  // namespace
}  // namespace outpost
