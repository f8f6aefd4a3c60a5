// The outbound client's per-domain timeouts (connect-timeout, smtp-greeting-timeout,
// smtp-command-timeout, data-send-timeout, smtp-data-termination-timeout): parsed in <domain>
// blocks with errors at file:line, merged field by field (exact > * > defaults) into the
// ClientTimeouts a connection uses; and the TlsFailureCache behind the plain-text fallback.
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

TEST(TlsFailureCache, RemembersExpiresAndStaysBounded) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  struct Case {
    const char* label;
    std::chrono::seconds ask_after;
    const char* address;
    bool failed;
  };
  delivery::TlsFailureCache cache(std::chrono::seconds(3600), 2);
  cache.Remember("192.0.2.1", t0);
  cache.Remember("192.0.2.2", t0 + 10s);
  const Case cases[] = {
      {"remembered", 0s, "192.0.2.1", true},
      {"other address", 0s, "192.0.2.9", false},
      {"just before expiry", 3599s, "192.0.2.1", true},
      {"second one still there", 3600s, "192.0.2.2", true},
      {"expired after 1h", 3600s, "192.0.2.1", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(cache.Failed(c.address, t0 + c.ask_after), c.failed) << c.label;
  }
  EXPECT_EQ(cache.size(), 1u) << "the expired entry was dropped when asked";
  // Capacity 2: a third address evicts the oldest insertion.
  cache.Remember("192.0.2.3", t0 + 20s);
  cache.Remember("192.0.2.4", t0 + 30s);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Failed("192.0.2.2", t0 + 40s)) << "oldest evicted";
  EXPECT_TRUE(cache.Failed("192.0.2.3", t0 + 40s));
  EXPECT_TRUE(cache.Failed("192.0.2.4", t0 + 40s));
  // Remembering again refreshes the expiry.
  cache.Remember("192.0.2.3", t0 + 3000s);
  EXPECT_TRUE(cache.Failed("192.0.2.3", t0 + 3700s));
}

}  // namespace
}  // namespace outpost
