// A full configuration parses to the expected values; relative paths and defaults.
#include <gtest/gtest.h>

#include <optional>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;
using testing::TempDir;

std::string ErrorsOf(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += e.ToString() + "\n";
  return out;
}

constexpr const char* kFull = R"(# A config with every section.
smtp-listener 0/0:25                 # every address
smtp-listener [::1]:2525 tls=no
smtp-listener 127.0.0.1:465 TLS=yes    # implicit TLS (SMTPS)
spool spool-dir
http-mgmt-port 127.0.0.1:8080
http-access 127.0.0.1 admin
http-access 10.0.0.0/8 monitor
domain-key s1,Example.com,keys/s1.pem
domain-macro hotmail hotmail.com, live.com,outlook.com
HOST-NAME mta.example.com
log-file /var/log/outpost.log
log-level debug
dns-server 127.0.0.1:5353
dns-cache-size 5000
dns-cache-ttl 30m
max-smtp-in 200
max-smtp-in-per-ip 20
total-max-smtp-out 300
max-message-size 20M
max-rcpt-per-message 500
smtp-server-tls-certificate tls/cert.pem
smtp-server-tls-private-key tls/key.pem
smtp-in-command-timeout 2m
smtp-in-data-timeout 15m
smtp-in-max-errors 5
spool-min-free 1G
spool-segment-size 16M
spool-compaction-threshold 25%
spool-compaction-rate 8M
spool-compaction-min-age 2m
max-queued-recipients 3000000
queue-cache-size 100000

<source 0/0>
  smtp-service no
</source>
<source 127.0.0.1>
  always-allow-relaying yes
  smtp-service yes
  process-x-virtual-mta yes
  process-x-job yes
  max-message-size 50M
  require-auth false
  default-virtual-mta pool1
  log-connections on
  hide-message-source off
</source>
<source {auth}>
  always-allow-relaying yes
</source>

<smtp-user alice>
  password se#cret   # a '#' inside a word is kept
  source {auth}
</smtp-user>

<virtual-mta vmta1>
  smtp-source-host 127.0.0.2 mta1.example.com
  smtp-source-host 127.0.0.3 mta1b.example.com
  max-smtp-out 40
  domain-key s2,Example.com,keys/s1.pem
  <domain gmail.com>
    max-msg-rate 100/h
  </domain>
</virtual-mta>
<virtual-mta VMTA2>
  smtp-source-host 127.0.0.4 mta2.example.com
</virtual-mta>
<virtual-mta-pool pool1>
  virtual-mta vmta1
  virtual-mta vmta2
</virtual-mta-pool>

<domain *>
  max-smtp-out 20
  retry-after 10m
  bounce-after 4d12h
</domain>
<domain gmail.com>
  max-smtp-out 10
  max-conn-rate 2/s
  max-msg-rate 800/h
  max-msg-per-connection 1000
  max-rcpt-per-transaction 100
  retry-after 10m,20m,1h
  bounce-after 3d
  smtp-pattern-list google-errors
  backoff-max-smtp-out 2
  backoff-max-connect-rate 1/m
  backoff-max-msg-rate 100/h
  backoff-max-msg-per-connection 10
  backoff-retry-after 30m,2h
  backoff-to-normal-after 1h
  backoff-to-normal-after-delivery yes
  source-ip-max-smtp-out 3
  source-ip-max-msg-rate 100/10m
  mx-rollup gmail.com
  dkim-sign yes
  dkim-algorithm ed25519-sha256
  dkim-headers-canon simple
  dkim-body-canon relaxed
  dkim-identity @example.com
  route [127.0.0.1]:2526
  default-smtp-port 2525
  use-starttls no
  require-starttls no
  queue-priority 80
</domain>
<domain $hotmail>
  max-smtp-out 5
  backoff-to-normal-after never
</domain>

<smtp-pattern-list google-errors>
  reply /421[ -]4\.7\.28/ mode=backoff
  reply /try # again/i mode=backoff   # '#' inside the regex is part of it
  reply /^250 / mode=normal
</smtp-pattern-list>

<bounce-category-patterns>
  /mailbox (is )?full/i quota-issues
  /spam\/abuse/ spam-related
  // other   # PowerMTA's catch-all
</bounce-category-patterns>

<acct-file acct/acct.csv>
  records d,b,t,r
  move-interval 1h
  max-size 100M
  delete-after 7d
  move-to /var/log/outpost/old
  webhook-url https://127.0.0.1:8443/acct
  webhook-ca-file keys/s1.pem
  webhook-batch-interval 5s
  webhook-batch-size 256K
  webhook-max-backoff 10m
  webhook-timeout 15s
</acct-file>

<acct-file |bin/acct-reader>
  records d,b
</acct-file>
)";

class FullConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/keys");
    dir_.Write("keys/s1.pem", "not a real key");
    path_ = dir_.Write("outpost.conf", kFull);
    result_ = LoadConfig(path_);
    ASSERT_TRUE(result_.errors.empty()) << ErrorsOf(result_);
    ASSERT_TRUE(result_.config);
    c_ = result_.config.get();
  }
  TempDir dir_;
  std::string path_;
  LoadResult result_;
  const Config* c_ = nullptr;
};

TEST_F(FullConfigTest, GlobalDirectives) {
  ASSERT_GE(c_->smtp_listeners.size(), 2u);
  EXPECT_EQ(c_->smtp_listeners[0].host, "0.0.0.0");
  EXPECT_EQ(c_->smtp_listeners[0].port, 25);
  EXPECT_EQ(c_->smtp_listeners[1].host, "::1");
  EXPECT_EQ(c_->smtp_listeners[1].port, 2525);
  EXPECT_FALSE(c_->smtp_listeners[1].implicit_tls);
  ASSERT_EQ(c_->smtp_listeners.size(), 3u);
  EXPECT_EQ(c_->smtp_listeners[2].port, 465);
  EXPECT_TRUE(c_->smtp_listeners[2].implicit_tls);
  EXPECT_EQ(c_->spool_dir, dir_.path() + "/spool-dir");
  ASSERT_TRUE(c_->http_mgmt);
  EXPECT_EQ(c_->http_mgmt->host, "127.0.0.1");
  EXPECT_EQ(c_->http_mgmt->port, 8080);
  ASSERT_EQ(c_->http_access.size(), 2u);
  EXPECT_EQ(c_->http_access[0].level, AccessLevel::kAdmin);
  EXPECT_EQ(c_->http_access[1].level, AccessLevel::kMonitor);
  EXPECT_EQ(c_->http_access[1].cidr.prefix, 8);
  ASSERT_EQ(c_->domain_keys.size(), 1u);
  EXPECT_EQ(c_->domain_keys[0].selector, "s1");
  EXPECT_EQ(c_->domain_keys[0].domain, "example.com");
  EXPECT_EQ(c_->domain_keys[0].key_file, dir_.path() + "/keys/s1.pem");
  EXPECT_EQ(c_->domain_keys[0].line, 9);
  EXPECT_EQ(c_->domain_macros.at("hotmail"),
            (std::vector<std::string>{"hotmail.com", "live.com", "outlook.com"}));
  EXPECT_EQ(c_->host_name, "mta.example.com");
  EXPECT_EQ(c_->log_file, "/var/log/outpost.log");
  EXPECT_EQ(c_->log_level, "debug");
  ASSERT_TRUE(c_->dns_server);
  EXPECT_EQ(c_->dns_server->port, 5353);
  EXPECT_EQ(c_->dns_cache_size, 5000u);
  EXPECT_EQ(c_->dns_cache_ttl, Seconds(1800));
  EXPECT_EQ(c_->max_smtp_in, 200);
  EXPECT_EQ(c_->max_smtp_in_per_ip, 20);
  EXPECT_EQ(c_->max_message_size, 20ull << 20);
  EXPECT_EQ(c_->max_rcpt_per_message, 500);
  EXPECT_EQ(c_->smtp_server_tls_certificate, dir_.path() + "/tls/cert.pem");
  EXPECT_EQ(c_->smtp_server_tls_private_key, dir_.path() + "/tls/key.pem");
  EXPECT_EQ(c_->smtp_in_command_timeout, Seconds(120));
  EXPECT_EQ(c_->smtp_in_data_timeout, Seconds(900));
  EXPECT_EQ(c_->smtp_in_max_errors, 5);
  EXPECT_EQ(c_->spool_min_free, 1ull << 30);
  EXPECT_EQ(c_->spool_segment_size, 16ull << 20);
  EXPECT_DOUBLE_EQ(c_->spool_compaction_threshold, 0.25);
  EXPECT_EQ(c_->spool_compaction_rate, 8ull << 20);
  EXPECT_EQ(c_->spool_compaction_min_age, Seconds(120));
  EXPECT_EQ(c_->max_queued_recipients, 3000000u);
  EXPECT_EQ(c_->queue_cache_size, 100000u);
  EXPECT_EQ(c_->files, std::vector<std::string>{path_});
}

TEST_F(FullConfigTest, SourcesAndUsers) {
  ASSERT_EQ(c_->sources.size(), 3u);
  const SourcePolicy& local = c_->sources[1];
  ASSERT_TRUE(local.cidr);
  EXPECT_EQ(local.cidr->ToString(), "127.0.0.1/32");
  EXPECT_EQ(local.always_allow_relaying, true);
  EXPECT_EQ(local.process_x_virtual_mta, true);
  EXPECT_EQ(local.process_x_job, true);
  EXPECT_EQ(local.max_message_size, 50ull << 20);
  EXPECT_EQ(local.require_auth, false);
  EXPECT_EQ(local.default_virtual_mta, "pool1");
  EXPECT_EQ(local.log_connections, true);
  EXPECT_EQ(local.hide_message_source, false);
  EXPECT_EQ(c_->sources[2].name, "{auth}");
  EXPECT_FALSE(c_->sources[2].cidr);

  const SmtpUser* alice = c_->FindSmtpUser("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->password, "se#cret");
  EXPECT_EQ(alice->source, "{auth}");
  EXPECT_EQ(c_->FindSmtpUser("bob"), nullptr);
}

TEST_F(FullConfigTest, VirtualMtasAndPools) {
  const VirtualMta* v1 = c_->FindVirtualMta("VMTA1");
  ASSERT_NE(v1, nullptr);
  ASSERT_EQ(v1->source_hosts.size(), 2u);
  EXPECT_EQ(v1->source_hosts[1].address, "127.0.0.3");
  EXPECT_EQ(v1->source_hosts[1].host_name, "mta1b.example.com");
  EXPECT_NE(c_->FindVirtualMta("vmta2"), nullptr);
  const VirtualMtaPool* pool = c_->FindVirtualMtaPool("pool1");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->members, (std::vector<std::string>{"vmta1", "vmta2"}));
  EXPECT_EQ(c_->FindVirtualMtaPool("vmta1"), nullptr);
  EXPECT_EQ(v1->max_smtp_out, 40);
  EXPECT_EQ(c_->FindVirtualMta("vmta2")->max_smtp_out, 0);  // no cap of its own
  ASSERT_EQ(v1->domain_keys.size(), 1u);
  EXPECT_EQ(v1->domain_keys[0].selector, "s2");
  EXPECT_EQ(v1->domain_keys[0].domain, "example.com");
  EXPECT_EQ(v1->domain_keys[0].key_file, dir_.path() + "/keys/s1.pem");
  EXPECT_EQ(c_->total_max_smtp_out, 300);
  // The nested section belongs to vmta1 and is not the global gmail.com policy.
  const DomainPolicy* gmail = c_->FindDomainPolicy("gmail.com");
  ASSERT_NE(gmail, nullptr);
  EXPECT_TRUE(gmail->virtual_mta.empty());
  EXPECT_EQ(gmail->max_msg_rate, (Rate{800, Seconds(3600)}));
}

TEST_F(FullConfigTest, DomainPolicy) {
  const DomainPolicy* g = c_->FindDomainPolicy("gmail.com");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->match, "gmail.com");
  EXPECT_EQ(g->max_smtp_out, 10);
  EXPECT_EQ(g->max_connect_rate, (Rate{2, Seconds(1)}));
  EXPECT_EQ(g->max_msg_rate, (Rate{800, Seconds(3600)}));
  EXPECT_EQ(g->max_msg_per_connection, 1000);
  EXPECT_EQ(g->max_rcpt_per_transaction, 100);
  EXPECT_EQ(g->retry_after, (std::vector<Seconds>{Seconds(600), Seconds(1200), Seconds(3600)}));
  EXPECT_EQ(g->bounce_after, Seconds(3 * 86400));
  EXPECT_EQ(g->smtp_pattern_list, "google-errors");
  EXPECT_EQ(g->backoff_max_smtp_out, 2);
  EXPECT_EQ(g->backoff_max_connect_rate, (Rate{1, Seconds(60)}));
  EXPECT_EQ(g->backoff_max_msg_rate, (Rate{100, Seconds(3600)}));
  EXPECT_EQ(g->backoff_max_msg_per_connection, 10);
  EXPECT_EQ(g->backoff_retry_after, (std::vector<Seconds>{Seconds(1800), Seconds(7200)}));
  EXPECT_EQ(g->backoff_to_normal_after, Seconds(3600));
  EXPECT_EQ(g->backoff_to_normal_after_delivery, true);
  EXPECT_EQ(g->source_ip_max_smtp_out, 3);
  EXPECT_EQ(g->source_ip_max_msg_rate, (Rate{100, Seconds(600)}));
  EXPECT_EQ(g->mx_rollup, "gmail.com");
  EXPECT_EQ(g->dkim_sign, true);
  EXPECT_EQ(g->dkim_algorithm, "ed25519-sha256");
  EXPECT_EQ(g->dkim_headers_canon, "simple");
  EXPECT_EQ(g->dkim_body_canon, "relaxed");
  EXPECT_EQ(g->dkim_identity, "@example.com");
  ASSERT_TRUE(g->route);
  EXPECT_EQ(g->route->host, "127.0.0.1");
  EXPECT_EQ(g->route->port, 2526);
  EXPECT_EQ(g->default_smtp_port, 2525);
  EXPECT_EQ(g->use_starttls, false);
  EXPECT_EQ(g->require_starttls, false);
  EXPECT_EQ(g->queue_priority, 80);

  const DomainPolicy* h = c_->FindDomainPolicy("live.com");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->match, "$hotmail");
  EXPECT_FALSE(h->backoff_to_normal_after);  // never
  EXPECT_FALSE(h->max_connect_rate);         // unset: inherits later
}

TEST_F(FullConfigTest, PatternsAndAccounting) {
  ASSERT_EQ(c_->smtp_pattern_lists.size(), 1u);
  const auto& p = c_->smtp_pattern_lists[0].patterns;
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].regex, R"(421[ -]4\.7\.28)");
  EXPECT_FALSE(p[0].icase);
  EXPECT_EQ(p[0].mode, PatternMode::kBackoff);
  EXPECT_EQ(p[1].regex, "try # again");
  EXPECT_TRUE(p[1].icase);
  EXPECT_EQ(p[2].mode, PatternMode::kNormal);
  EXPECT_GT(p[2].line, p[1].line);

  ASSERT_EQ(c_->bounce_category_patterns.size(), 3u);
  EXPECT_EQ(c_->bounce_category_patterns[0].regex, "mailbox (is )?full");
  EXPECT_TRUE(c_->bounce_category_patterns[0].icase);
  EXPECT_EQ(c_->bounce_category_patterns[0].category, "quota-issues");
  EXPECT_EQ(c_->bounce_category_patterns[1].regex, R"(spam\/abuse)");
  EXPECT_EQ(c_->bounce_category_patterns[1].category, "spam-related");
  EXPECT_EQ(c_->bounce_category_patterns[2].regex, "");
  EXPECT_EQ(c_->bounce_category_patterns[2].category, "other");

  ASSERT_EQ(c_->acct_files.size(), 2u);
  const AcctFile& a = c_->acct_files[0];
  EXPECT_EQ(a.path, dir_.path() + "/acct/acct.csv");
  EXPECT_EQ(a.records, (std::vector<std::string>{"d", "b", "t", "r"}));
  EXPECT_EQ(a.move_interval, Seconds(3600));
  EXPECT_EQ(a.max_size, 100ull << 20);
  EXPECT_EQ(a.delete_after, Seconds(7 * 86400));
  EXPECT_EQ(a.move_to, "/var/log/outpost/old");
  EXPECT_EQ(a.webhook_url, "https://127.0.0.1:8443/acct");
  EXPECT_EQ(a.webhook_ca_file, dir_.path() + "/keys/s1.pem") << "relative to the config file";
  EXPECT_EQ(a.webhook_batch_interval, Seconds(5));
  EXPECT_EQ(a.webhook_batch_size, 256u << 10);
  EXPECT_EQ(a.webhook_max_backoff, Seconds(600));
  EXPECT_EQ(a.webhook_timeout, Seconds(15));
  EXPECT_TRUE(a.pipe_program.empty());

  const AcctFile& pipe = c_->acct_files[1];
  EXPECT_EQ(pipe.pipe_program, dir_.path() + "/bin/acct-reader");
  EXPECT_EQ(pipe.path, AcctPipeBufferPath(c_->spool_dir, pipe.pipe_program));
  EXPECT_EQ(pipe.path.rfind(c_->spool_dir + "/acct-feed/pipe-", 0), 0u) << pipe.path;
  EXPECT_EQ(pipe.max_size, kAcctPipeBufferRotateSize);
  EXPECT_EQ(pipe.records, (std::vector<std::string>{"d", "b"}));
  EXPECT_TRUE(pipe.webhook_url.empty());
}

TEST(Defaults, AcctFileWebhookDefaults) {
  LoadResult r = ParseConfig(std::string(kMinimal) + "<acct-file /tmp/a.csv>\n</acct-file>\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  const AcctFile& a = r.config->acct_files.at(0);
  EXPECT_TRUE(a.webhook_url.empty());
  EXPECT_EQ(a.webhook_batch_interval, Seconds(1));
  EXPECT_EQ(a.webhook_batch_size, 1u << 20);
  EXPECT_EQ(a.webhook_max_backoff, Seconds(60));
  EXPECT_EQ(a.webhook_timeout, Seconds(30));
}

TEST(Defaults, MinimalConfigKeepsBuiltInDefaults) {
  LoadResult r = ParseConfig(kMinimal);
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.max_smtp_in, 1000);
  EXPECT_EQ(c.max_smtp_in_per_ip, 100);
  EXPECT_EQ(c.total_max_smtp_out, 0);
  EXPECT_EQ(c.max_message_size, 50ull << 20);
  EXPECT_EQ(c.max_rcpt_per_message, 1000);
  EXPECT_EQ(c.smtp_in_command_timeout, Seconds(300));
  EXPECT_EQ(c.smtp_in_data_timeout, Seconds(600));
  EXPECT_EQ(c.smtp_in_max_errors, 10);
  EXPECT_EQ(c.spool_min_free, 64ull << 20);
  EXPECT_EQ(c.spool_segment_size, 64ull << 20);
  EXPECT_DOUBLE_EQ(c.spool_compaction_threshold, 0.5);
  EXPECT_EQ(c.spool_compaction_rate, 16ull << 20);
  EXPECT_EQ(c.spool_compaction_min_age, Seconds(30));
  EXPECT_EQ(c.dns_cache_ttl, Seconds(3600));
  EXPECT_FALSE(c.http_mgmt);
  EXPECT_FALSE(c.host_name.empty());  // filled from gethostname()
  EXPECT_EQ(c.spool_dir, "/tmp/spool");
}

TEST(Spool, CompactionThresholdSpellingsAndBounds) {
  struct Case {
    const char* label;
    const char* value;
    double threshold;
  };
  for (const Case& c : {Case{"percent", "50%", 0.5}, Case{"fraction", "0.5", 0.5},
                        Case{"decimal_percent", "12.5%", 0.125}, Case{"off", "0", 0.0},
                        Case{"off_percent", "0%", 0.0}, Case{"most_percent", "90%", 0.9},
                        Case{"most_fraction", "0.9", 0.9}}) {
    LoadResult r = ParseConfig(std::string(kMinimal) + "spool-compaction-threshold " + c.value);
    ASSERT_TRUE(r.errors.empty()) << c.label << ": " << ErrorsOf(r);
    EXPECT_DOUBLE_EQ(r.config->spool_compaction_threshold, c.threshold) << c.label;
  }
}

TEST(Spool, SegmentSizeAndCompactionRate) {
  LoadResult r =
      ParseConfig(std::string(kMinimal) + "spool-segment-size 64K\nspool-compaction-rate 0\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  EXPECT_EQ(r.config->spool_segment_size, 64u << 10);
  EXPECT_EQ(r.config->spool_compaction_rate, 0u);  // no limit
}

// The error a refused threshold prints names the file and the line, as every config error does.
TEST(Spool, RefusedThresholdNamesFileAndLine) {
  LoadResult r = ParseConfig(std::string(kMinimal) + "spool-compaction-threshold 95%\n",
                             "/etc/outpost/outpost.conf");
  ASSERT_EQ(r.errors.size(), 1u) << ErrorsOf(r);
  EXPECT_EQ(r.errors[0].ToString().rfind("/etc/outpost/outpost.conf:3: bad value '95%' for "
                                         "'spool-compaction-threshold': more than 90%",
                                         0),
            0u)
      << r.errors[0].ToString();
}

// queue-stall-warning-after: the stall watchdog's threshold; 0 turns it off; the default is 30m.
TEST(QueueStallWarningAfter, ValuesAndErrors) {
  struct Case {
    const char* label;
    const char* text;                  // after kMinimal
    std::optional<Seconds> threshold;  // nullopt: refused
  };
  for (const Case& c :
       {Case{"default", "", Seconds(1800)},
        Case{"minutes", "queue-stall-warning-after 10m\n", Seconds(600)},
        Case{"compound", "queue-stall-warning-after 1h30m\n", Seconds(5400)},
        Case{"off", "queue-stall-warning-after 0\n", Seconds(0)},
        Case{"not_a_duration", "queue-stall-warning-after soon\n", std::nullopt},
        Case{"not_in_domain", "<domain *>\nqueue-stall-warning-after 1m\n</domain>\n",
             std::nullopt}}) {
    LoadResult r = ParseConfig(std::string(kMinimal) + c.text, "/etc/outpost/outpost.conf");
    if (!c.threshold) {
      ASSERT_FALSE(r.errors.empty()) << c.label;
      EXPECT_NE(r.errors[0].ToString().find("/etc/outpost/outpost.conf:"), std::string::npos)
          << c.label;
      EXPECT_NE(r.errors[0].ToString().find("queue-stall-warning-after"), std::string::npos)
          << c.label << ": " << r.errors[0].ToString();
      continue;
    }
    ASSERT_TRUE(r.errors.empty()) << c.label << ": " << ErrorsOf(r);
    EXPECT_EQ(r.config->queue_stall_warning_after, *c.threshold) << c.label;
  }
}

TEST(Paths, StringConfigWithoutDirectoryLeavesRelativePaths) {
  LoadResult r = ParseConfig("smtp-listener 127.0.0.1:0\nspool rel/spool\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  EXPECT_EQ(r.config->spool_dir, "rel/spool");
  LoadResult named =
      ParseConfig("smtp-listener 127.0.0.1:0\nspool rel/../spool\n", "/etc/outpost/outpost.conf");
  ASSERT_TRUE(named.errors.empty()) << ErrorsOf(named);
  EXPECT_EQ(named.config->spool_dir, "/etc/outpost/spool");
}

TEST(Syntax, CaseInsensitiveNamesCrlfAndComments) {
  LoadResult r = ParseConfig(
      "# comment line\r\n"
      "   # indented comment\r\n"
      "SMTP-Listener 127.0.0.1:0   # trailing comment\r\n"
      "Spool /tmp/s\r\n"
      "<Domain Example.COM.>\r\n"
      "  Max-Smtp-Out 3\r\n"
      "</DOMAIN>\r\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  ASSERT_EQ(r.config->domains.size(), 1u);
  EXPECT_EQ(r.config->domains[0].match, "example.com");
  EXPECT_EQ(r.config->domains[0].max_smtp_out, 3);
  EXPECT_EQ(r.config->domains[0].line, 5);
}

// HTTP submission: API keys come from files (never the config text), named or numbered; the
// submit access level, the size limit and the per-key rate.
TEST(HttpSubmissionConfig, KeysFromFilesLevelSizeAndRate) {
  TempDir dir;
  dir.Write("keys", "# apps\n\napp1 0123456789abcdef0123\n  fedcba9876543210  \n");
  LoadResult r = ParseConfig(std::string(kMinimal) + "http-api-key-file " + dir.path() +
                             "/keys\nhttp-access 10.0.0.0/8 submit\n"
                             "http-submit-max-size 2M\nhttp-submit-rate 50/10s\n");
  ASSERT_TRUE(r.errors.empty()) << ErrorsOf(r);
  ASSERT_EQ(r.config->http_api_keys.size(), 2u);
  EXPECT_EQ(r.config->http_api_keys[0].name, "app1");
  EXPECT_EQ(r.config->http_api_keys[0].key, "0123456789abcdef0123");
  EXPECT_EQ(r.config->http_api_keys[1].name, "key2");
  EXPECT_EQ(r.config->http_api_keys[1].key, "fedcba9876543210");
  EXPECT_EQ(r.config->http_access[0].level, AccessLevel::kSubmit);
  EXPECT_EQ(r.config->http_submit_max_size, 2u << 20);
  EXPECT_EQ(r.config->http_submit_rate.count, 50u);
  EXPECT_EQ(r.config->http_submit_rate.per, Seconds(10));
  LoadResult defaults = ParseConfig(kMinimal);
  EXPECT_TRUE(defaults.config->http_api_keys.empty());
  EXPECT_EQ(defaults.config->http_submit_max_size, 0u);
  EXPECT_TRUE(defaults.config->http_submit_rate.unlimited());
}

TEST(HttpSubmissionConfig, BadKeyFilesAreErrorsNamingTheFileLine) {
  TempDir dir;
  dir.Write("short", "ok 0123456789abcdef\nbad short\n");
  dir.Write("empty", "# nothing\n");
  for (const auto& [file, says] :
       {std::pair<std::string, std::string>{"short", "/short:2: an API key must be at least 16"},
        {"empty", "holds no key"}}) {
    LoadResult r =
        ParseConfig(std::string(kMinimal) + "http-api-key-file " + dir.path() + "/" + file + "\n");
    ASSERT_FALSE(r.errors.empty()) << file;
    EXPECT_NE(ErrorsOf(r).find(says), std::string::npos) << ErrorsOf(r);
    EXPECT_EQ(ErrorsOf(r).find("0123456789abcdef"), std::string::npos) << "a key was echoed";
  }
}

}  // namespace
}  // namespace outpost::config
