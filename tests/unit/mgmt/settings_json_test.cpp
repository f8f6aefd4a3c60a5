// GET /settings.json (PowerMTA's `show settings`): every <domain> directive has its merged value,
// in the directive's own spelling; the sections merged are listed; bad requests are refused.
#include "mta/mgmt/settings_json.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mta/config/internal.hpp"
#include "mta/queue/policy_settings.hpp"

namespace outpost::mgmt {
namespace {

std::shared_ptr<const config::Config> Parse(const std::string& body) {
  config::LoadResult r = config::ParseConfig(
      "smtp-listener 127.0.0.1:0\nspool /tmp/outpost-settings-test\nhost-name outpost.test\n" +
      body);
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return r.config;
}

const char* kConfig =
    "<virtual-mta v1>\n"
    "  smtp-source-host 127.0.0.2 v1.test\n"
    "  <domain gmail.com>\n"
    "    max-smtp-out 3\n"
    "    max-msg-rate 600/h\n"
    "  </domain>\n"
    "</virtual-mta>\n"
    "<domain gmail.com>\n"
    "  retry-after 5m,15m\n"
    "  max-smtp-out 7\n"
    "  backoff-to-normal-after 2h\n"
    "</domain>\n"
    "<domain *>\n"
    "  max-connect-rate 10/m\n"
    "</domain>\n";

// Every directive a <domain> accepts (aliases aside) is listed, and nothing else.
TEST(SettingsJsonTest, EveryDomainDirectiveHasItsSetting) {
  std::set<std::string> directives;
  for (const config::DirectiveSpec& d : *config::ScopeFor(config::Scope::kDomain).directives) {
    if (d.alias_of == nullptr) directives.insert(d.name);
  }
  std::set<std::string> listed;
  for (const queue::Setting& s : queue::PolicySettings(queue::EffectiveDomainPolicy{})) {
    EXPECT_TRUE(listed.insert(s.directive).second) << "listed twice: " << s.directive;
  }
  EXPECT_EQ(listed, directives);
}

TEST(SettingsJsonTest, MergedValuesAndTheirSections) {
  auto config = Parse(kConfig);
  struct Case {
    const char* label;
    const char* queue;
    const char* directive;
    const char* value;
  };
  for (const Case& c : {
           Case{"vmta_section", "gmail.com/v1", "max-smtp-out", "3"},
           Case{"vmta_rate", "gmail.com/v1", "max-msg-rate", "600/h"},
           Case{"global_domain_list", "gmail.com/v1", "retry-after", "5m,15m"},
           Case{"star_rate", "gmail.com/v1", "max-connect-rate", "10/m"},
           Case{"built_in", "gmail.com/v1", "bounce-after", "4d12h"},
           Case{"never", "yahoo.com", "backoff-to-normal-after", "never"},
           Case{"duration", "gmail.com", "backoff-to-normal-after", "2h"},
           Case{"no_vmta_global_only", "gmail.com", "max-smtp-out", "7"},
           Case{"default_vmta_global_only", "gmail.com/{default}", "max-msg-rate", "unlimited"},
           Case{"bool", "gmail.com", "use-starttls", "yes"},
           Case{"timeout", "gmail.com", "smtp-data-termination-timeout", "10m"},
           Case{"unset_name", "gmail.com", "smtp-pattern-list", "none"},
           Case{"dkim_default_canon", "gmail.com", "dkim-body-canon", "relaxed"},
           Case{"dkim_default_algorithm", "gmail.com", "dkim-algorithm", "the key's type"},
       }) {
    auto [status, body] = RenderSettings(*config, c.queue);
    ASSERT_EQ(status, 200) << c.label;
    EXPECT_EQ(body["settings"][c.directive], c.value) << c.label;
  }
  auto [status, body] = RenderSettings(*config, "gmail.com/v1");
  EXPECT_EQ(body["queue"], "gmail.com/v1");
  EXPECT_EQ(body["vmta"], "v1");
  ASSERT_EQ(body["sections"].size(), 3u);
  EXPECT_EQ(body["sections"][0]["virtual_mta"], "v1");
  EXPECT_EQ(body["sections"][0]["line"], 6);
  EXPECT_EQ(body["sections"][1]["domain"], "gmail.com");
  EXPECT_EQ(body["sections"][2]["domain"], "*");
  EXPECT_EQ(RenderSettings(*config, "gmail.com").second["queue"], "gmail.com/{default}");
}

TEST(SettingsJsonTest, BadRequests) {
  auto config = Parse(kConfig);
  auto [missing, missing_body] = RenderSettings(*config, "");
  EXPECT_EQ(missing, 400);
  auto [unknown, unknown_body] = RenderSettings(*config, "gmail.com/nosuch");
  EXPECT_EQ(unknown, 404);
  EXPECT_NE(unknown_body.dump().find("no such virtual MTA: nosuch"), std::string::npos);
}

}  // namespace
}  // namespace outpost::mgmt
