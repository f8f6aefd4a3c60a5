// What real PowerMTA configuration files need from the language (issue #16, step 1): a byte-order
// mark and CRLF, `include` with globs and cycles, lists continued after a trailing comma, the
// `<spool PATH>` form, PowerMTA's spellings of values, honest messages for PowerMTA names Outpost
// does not implement (no "did you mean" towards another directive, no scope advice that changes a
// line's meaning, no cascades), the <source> header directives and the load summary.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "mta/config/config.hpp"
#include "mta/config/internal.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;
using testing::TempDir;

std::string All(const std::vector<ConfigError>& errors) { return testing::AllErrors(errors); }

// ---- Messages: one error per case, with what it must and must not say. ----

struct MessageCase {
  const char* label;
  const char* text;  // after kMinimal (2 lines)
  int line;          // within `text`
  const char* message;
  const char* absent = nullptr;
};

class PowerMtaMessageTest : public ::testing::TestWithParam<MessageCase> {};

TEST_P(PowerMtaMessageTest, OneHonestError) {
  const MessageCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.text, "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << c.label << All(r.errors);
  EXPECT_EQ(r.errors[0].line, c.line + 2) << c.label << All(r.errors);
  EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos) << c.label << All(r.errors);
  if (c.absent != nullptr) {
    EXPECT_EQ(r.errors[0].message.find(c.absent), std::string::npos) << c.label << All(r.errors);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, PowerMtaMessageTest,
    ::testing::Values(
        MessageCase{"real_directive_is_not_a_typo",
                    "<domain *>\nmax-data-volume-rate 10M/h\n</domain>\n", 2,
                    "'max-data-volume-rate' is a PowerMTA directive not supported by Outpost",
                    "did you mean"},
        MessageCase{"unsupported_domain_directive",
                    "<domain *>\nreplace-smtp-421-service-response yes\n</domain>\n", 2,
                    "PowerMTA directive not supported", "did you mean"},
        MessageCase{"docs_pointer", "dummy-smtp-port 2525\n", 1, "docs/config.md"},
        MessageCase{"vmta_max_smtp_out_bad_value",
                    "<virtual-mta v1>\nmax-smtp-out many\n</virtual-mta>\n", 2,
                    "bad value 'many' for 'max-smtp-out': expected a whole number from 0 to"},
        MessageCase{"vmta_domain_key_missing_file",
                    "<virtual-mta v1>\ndomain-key s,a.com,/nonexistent/k.pem\n</virtual-mta>\n", 2,
                    "key file '/nonexistent/k.pem' does not exist"},
        MessageCase{"total_max_smtp_out_bad_value", "total-max-smtp-out -1\n", 1,
                    "bad value '-1' for 'total-max-smtp-out'"},
        MessageCase{"move_advice_kept_when_meaning_kept",
                    "<source 0/0>\nmax-smtp-out 5\n</source>\n", 2,
                    "it belongs in <virtual-mta> or <domain>"},
        MessageCase{"typo_of_powermta_name_says_so",
                    "<domain *>\nignore-pipelinning yes\n</domain>\n", 2,
                    "did you mean 'ignore-pipelining'? It is a PowerMTA name"},
        MessageCase{"typo_of_implemented_powermta_name",
                    "<domain *>\nbounce-upon-no-mxx yes\n</domain>\n", 2,
                    "(did you mean 'bounce-upon-no-mx'?)"},
        MessageCase{"typo_still_suggested", "<domain *>\nmax-smtp-ot 5\n</domain>\n", 2,
                    "(did you mean 'max-smtp-out'?)"},
        MessageCase{"powermta_section",
                    "<rewrite-list r>\nmail-from /x/ y@z.test\n</rewrite-list>\n", 1,
                    "<rewrite-list> is a PowerMTA section not supported by Outpost"},
        MessageCase{"nested_domain_error_is_not_a_duplicate_later",
                    "<virtual-mta v1>\n<domain *>\nmax-msg-rate 10/h\nbogus 1\n</domain>\n"
                    "</virtual-mta>\n<domain *>\nmax-smtp-out 2\n</domain>\n",
                    4, "unknown directive 'bogus'", "duplicate"},
        MessageCase{"nested_domain_twice_in_one_vmta",
                    "<virtual-mta v1>\n<domain a.test>\n</domain>\n<domain A.test.>\n</domain>\n"
                    "</virtual-mta>\n",
                    4, "duplicate section <domain A.test.>"},
        MessageCase{"nested_domain_twice_in_one_pool",
                    "<virtual-mta v1>\n</virtual-mta>\n<virtual-mta-pool p>\nvirtual-mta v1\n"
                    "<domain *>\n</domain>\n<domain *>\n</domain>\n</virtual-mta-pool>\n",
                    7, "duplicate section <domain *>"},
        MessageCase{"domain_does_not_nest_in_nested_domain",
                    "<virtual-mta v1>\n<domain *>\n<domain a.test>\nmax-smtp-out 2\n</domain>\n"
                    "</domain>\n</virtual-mta>\n",
                    3, "only <domain> nests, inside <virtual-mta> or <virtual-mta-pool>"},
        MessageCase{"source_does_not_nest_in_vmta",
                    "<virtual-mta v1>\n<source 0/0>\nsmtp-service yes\n</source>\n"
                    "</virtual-mta>\n",
                    2, "cannot be inside <virtual-mta v1>"},
        MessageCase{"mx_rollup_is_global_only",
                    "<virtual-mta v1>\n<domain *>\nmx-rollup gmail.com\n</domain>\n"
                    "</virtual-mta>\n",
                    3, "set it in a global <domain> section"},
        MessageCase{"long_value_cut",
                    "<domain *>\nmax-smtp-out <html>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxx</html>\n</domain>\n",
                    2, "characters)"},
        MessageCase{"spool_twice", "<spool /tmp/other>\n</spool>\n", 1,
                    "Outpost uses one spool directory"},
        MessageCase{"total_max_smtp_in_is_max_smtp_in", "max-smtp-in 5\ntotal-max-smtp-in 6\n", 2,
                    "duplicate 'total-max-smtp-in'"},
        MessageCase{"workers_is_queue_processing_threads",
                    "queue-processing-threads 2\nworkers 3\n", 2, "duplicate 'workers'"},
        MessageCase{"queue_processing_threads_too_many", "queue-processing-threads 257\n", 1,
                    "bad value '257' for 'queue-processing-threads'"},
        MessageCase{"workers_negative", "workers -1\n", 1, "bad value '-1' for 'workers'"},
        MessageCase{"smtp_service_threads_refused", "smtp-service-threads 32\n", 1,
                    "no SMTP thread count to set yet", "did you mean"},
        MessageCase{"sync_msg_update_yes", "sync-msg-update yes\n", 1,
                    "bad value 'yes' for 'sync-msg-update': Outpost records that a recipient is "
                    "finished without syncing it"},
        MessageCase{"sync_msg_update_true", "sync-msg-update true\n", 1,
                    "does not offer syncing those records: only 'no' is accepted"},
        MessageCase{"sync_msg_update_not_bool", "sync-msg-update sometimes\n", 1,
                    "bad value 'sometimes' for 'sync-msg-update': expected no"},
        MessageCase{"sync_msg_create_not_bool", "sync-msg-create always\n", 1,
                    "bad value 'always' for 'sync-msg-create': expected yes/no"},
        MessageCase{"reuse_ssl_session_yes", "<domain *>\nreuse-ssl-session yes\n</domain>\n", 2,
                    "bad value 'yes' for 'reuse-ssl-session': Outpost's outbound TLS client makes "
                    "a full handshake on every connection and does not resume TLS sessions"},
        MessageCase{"reuse_ssl_session_is_domain_only", "reuse-ssl-session no\n", 1,
                    "it belongs in <domain>"}));

// ---- sync-msg-create, sync-msg-update, reuse-ssl-session: what each accepted value sets. ----

struct SyncCase {
  const char* label;
  const char* text;  // after kMinimal
  bool sync_msg_create;
};

class PowerMtaSyncTest : public ::testing::TestWithParam<SyncCase> {};

TEST_P(PowerMtaSyncTest, AcceptedAndApplied) {
  const SyncCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.text, "test.conf");
  ASSERT_TRUE(r.config) << c.label << All(r.errors);
  EXPECT_EQ(r.config->sync_msg_create, c.sync_msg_create) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PowerMtaSyncTest,
    ::testing::Values(
        SyncCase{"default_syncs", "", true},
        SyncCase{"create_false", "sync-msg-create false\n", false},
        SyncCase{"create_no", "sync-msg-create no\n", false},
        SyncCase{"create_yes", "sync-msg-create yes\n", true},
        SyncCase{"update_no", "sync-msg-update no\n", true},
        SyncCase{"real_file_pair", "sync-msg-create false\nsync-msg-update false\n", false},
        SyncCase{"reuse_ssl_session_no", "<domain *>\nreuse-ssl-session no\n</domain>\n", true},
        SyncCase{"reuse_ssl_session_false_nested",
                 "<virtual-mta v1>\n<domain a.test>\nreuse-ssl-session false\n"
                 "</domain>\n</virtual-mta>\n",
                 true}),
    [](const ::testing::TestParamInfo<SyncCase>& info) { return std::string(info.param.label); });

// ---- The signing pool's size: queue-processing-threads, or workers (the same setting). ----

struct ThreadsCase {
  const char* label;
  const char* text;  // after kMinimal
  int threads;       // Config::queue_processing_threads (0: the machine's core count)
};

class PoolThreadsTest : public ::testing::TestWithParam<ThreadsCase> {};

TEST_P(PoolThreadsTest, SetsThePoolSize) {
  const ThreadsCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.text, "test.conf");
  ASSERT_TRUE(r.config) << c.label << All(r.errors);
  EXPECT_EQ(r.config->queue_processing_threads, c.threads) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PoolThreadsTest,
    ::testing::Values(ThreadsCase{"default_is_core_count", "", 0},
                      ThreadsCase{"queue_processing_threads", "queue-processing-threads 8\n", 8},
                      ThreadsCase{"workers", "workers 3\n", 3},
                      ThreadsCase{"zero_is_core_count", "workers 0\n", 0},
                      ThreadsCase{"most", "queue-processing-threads 256\n", 256}),
    [](const ::testing::TestParamInfo<ThreadsCase>& info) {
      return std::string(info.param.label);
    });

// ---- Values PowerMTA spells its own way. ----

TEST(PowerMtaValues, Spellings) {
  LoadResult r = ParseConfig(std::string("smtp-listener 127.0.0.1:0\n<spool /tmp/s>\n"
                                         "  deliver-only no\n</spool>\n"
                                         "max-message-size unlimited\n"
                                         "total-max-smtp-in 7\n"
                                         "<source 10.0.0.0/8>\n  max-message-size unlimited\n"
                                         "</source>\n"
                                         "<acct-file /tmp/a.csv>\n  delete-after never\n"
                                         "</acct-file>\n"
                                         "<domain a.com>\n  max-msg-rate 400/day\n"
                                         "  max-connect-rate 100/10min\n</domain>\n"
                                         "<domain b.com>\n  max-msg-rate 5/hr\n</domain>\n"),
                             "test.conf");
  ASSERT_TRUE(r.config) << All(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.spool_dir, "/tmp/s");
  EXPECT_EQ(c.max_message_size, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(c.max_smtp_in, 7);
  EXPECT_EQ(c.sources[0].max_message_size, std::numeric_limits<std::uint64_t>::max());
  EXPECT_FALSE(c.acct_files[0].delete_after.has_value());
  EXPECT_EQ(c.domains[0].max_msg_rate, (Rate{400, Seconds(86400)}));
  EXPECT_EQ(c.domains[0].max_connect_rate, (Rate{100, Seconds(600)}));
  EXPECT_EQ(c.domains[1].max_msg_rate, (Rate{5, Seconds(3600)}));
}

TEST(PowerMtaValues, DeliverOnlyYesIsRefused) {
  LoadResult r = ParseConfig(
      "smtp-listener 127.0.0.1:0\n<spool /tmp/s>\n  deliver-only yes\n"
      "</spool>\n",
      "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_NE(r.errors[0].message.find("'deliver-only yes' is not supported"), std::string::npos);
}

TEST(PowerMtaLanguage, ByteOrderMarkAndCrlf) {
  LoadResult r = ParseConfig(
      "\xEF\xBB\xBFsmtp-listener 127.0.0.1:0\r\nspool /tmp/s\r\n"
      "<domain a.com>\r\n  max-smtp-out 3\r\n</domain>\r\n",
      "test.conf");
  ASSERT_TRUE(r.config) << All(r.errors);
  EXPECT_EQ(r.config->domains[0].max_smtp_out, 3);
}

TEST(PowerMtaLanguage, ListContinuesAfterTrailingComma) {
  LoadResult r = ParseConfig(std::string(kMinimal) +
                                 "domain-macro big a.com, b.com,\n"
                                 "   # a comment inside the list\n"
                                 "   c.com,\n"
                                 "   d.com\n"
                                 "<domain $big>\n  max-smtp-out 2\n</domain>\n",
                             "test.conf");
  ASSERT_TRUE(r.config) << All(r.errors);
  EXPECT_EQ(r.config->domain_macros.at("big"),
            (std::vector<std::string>{"a.com", "b.com", "c.com", "d.com"}));
  EXPECT_NE(r.config->FindDomainPolicy("d.com"), nullptr);
}

TEST(PowerMtaLanguage, SummaryCountsDirectivesSectionsAndFiles) {
  LoadResult r = ParseConfig(
      std::string(kMinimal) + "<domain a.com>\n  max-smtp-out 2\n</domain>\n", "test.conf");
  ASSERT_TRUE(r.config) << All(r.errors);
  EXPECT_EQ(r.summary.directives, 3);
  EXPECT_EQ(r.summary.sections, 1);
  EXPECT_EQ(r.summary.files, 1);
  EXPECT_EQ(SummaryLine(r), "3 directives and 1 section read from 1 file: 0 errors, 0 notices");
}

// ---- <domain> inside <virtual-mta> and <virtual-mta-pool> ----

TEST(PowerMtaNested, DomainSectionsKnowTheirOwnerAndStayApartFromGlobalOnes) {
  TempDir dir;
  dir.Write("vmta-domains.conf", "<domain gmail.com>\n  max-msg-rate 2/h\n</domain>\n");
  std::string main = dir.Write(
      "main.conf", std::string(kMinimal) +
                       "<virtual-mta v1>\n  smtp-source-host 127.0.0.2 v1.test\n"
                       "  <domain gmail.com>\n    max-smtp-out 1\n  </domain>\n"
                       "  smtp-source-host 127.0.0.3 v1b.test\n</virtual-mta>\n"
                       "<virtual-mta v2>\n  include vmta-domains.conf\n</virtual-mta>\n"
                       "<virtual-mta-pool p>\n  virtual-mta v1\n"
                       "  <domain *>\n    retry-after 3m\n  </domain>\n</virtual-mta-pool>\n"
                       "<domain gmail.com>\n  max-smtp-out 9\n</domain>\n");
  LoadResult r = LoadConfig(main);
  ASSERT_TRUE(r.config) << All(r.errors);
  const std::vector<DomainPolicy>& d = r.config->domains;
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].virtual_mta, "v1");
  EXPECT_EQ(d[0].max_smtp_out, 1);
  EXPECT_EQ(d[1].virtual_mta, "v2");  // from the file included inside <virtual-mta v2>
  EXPECT_EQ(d[1].max_msg_rate, (Rate{2, Seconds(3600)}));
  EXPECT_EQ(d[2].virtual_mta_pool, "p");
  EXPECT_TRUE(d[2].virtual_mta.empty());
  EXPECT_TRUE(d[3].virtual_mta.empty() && d[3].virtual_mta_pool.empty());
  // The virtual MTA's own directives after its nested section still go to it.
  EXPECT_EQ(r.config->virtual_mtas[0].source_hosts.size(), 2u);
  EXPECT_EQ(r.config->FindDomainPolicy("gmail.com")->max_smtp_out, 9);
}

// ---- include ----

TEST(PowerMtaInclude, RelativeGlobInsideSectionAndErrorsNameTheIncludedFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/conf.d");
  dir.Write("conf.d/20-b.conf", "<domain b.com>\n  max-smtp-out 4\n</domain>\n");
  dir.Write("conf.d/10-a.conf", "<domain a.com>\n  max-smtp-out 3\n</domain>\n");
  dir.Write("vmta-body.conf", "smtp-source-host 127.0.0.2 a.example\n");
  std::string main = dir.Write("main.conf", std::string(kMinimal) +
                                                "include conf.d/*.conf\n"
                                                "<virtual-mta v1>\n  include vmta-body.conf\n"
                                                "</virtual-mta>\n");
  LoadResult r = LoadConfig(main);
  ASSERT_TRUE(r.config) << All(r.errors);
  ASSERT_EQ(r.config->domains.size(), 2u);
  EXPECT_EQ(r.config->domains[0].match, "a.com");  // name order
  EXPECT_EQ(r.config->virtual_mtas[0].source_hosts.size(), 1u);
  EXPECT_EQ(r.summary.files, 4);

  dir.Write("conf.d/30-bad.conf", "\n<domain c.com>\n  max-smtp-out lots\n</domain>\n");
  r = LoadConfig(main);
  ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
  EXPECT_EQ(r.errors[0].file, dir.path() + "/conf.d/30-bad.conf");
  EXPECT_EQ(r.errors[0].line, 3);
}

TEST(PowerMtaInclude, CycleMissingFileEmptyGlobAndUnclosedSection) {
  TempDir dir;
  dir.Write("a.conf", "include b.conf\n");
  dir.Write("b.conf", "include a.conf\n");
  dir.Write("open.conf", "<domain x.com>\n");
  std::string main =
      dir.Write("main.conf", std::string(kMinimal) +
                                 "include a.conf\ninclude missing.conf\ninclude none/*.conf\n"
                                 "include open.conf\ninclude /dev/zero\n");
  LoadResult r = LoadConfig(main);
  ASSERT_EQ(r.errors.size(), 4u) << All(r.errors);
  EXPECT_NE(r.errors[0].message.find("include cycle"), std::string::npos) << All(r.errors);
  EXPECT_EQ(r.errors[0].file, dir.path() + "/b.conf");
  EXPECT_NE(r.errors[1].message.find("missing.conf"), std::string::npos) << All(r.errors);
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_NE(r.errors[2].message.find("not closed in this included file"), std::string::npos);
  EXPECT_NE(r.errors[3].message.find("'/dev/zero' is not a regular file"), std::string::npos);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_NE(r.notices[0].message.find("matched no file"), std::string::npos);
}

// ---- <source> header directives ----

TEST(PowerMtaSource, HeaderDirectivesMergeAcrossSources) {
  LoadResult r = ParseConfig(std::string(kMinimal) +
                                 "<source 0/0>\n  remove-header X-Mailer\n"
                                 "  add-received-header no\n</source>\n"
                                 "<source 10.0.0.0/8>\n  remove-header X-Originating-IP, x-mailer\n"
                                 "  remove-received-headers yes\n  add-message-id-header no\n"
                                 "  add-date-header yes\n  add-received-header yes\n"
                                 "  log-commands yes\n</source>\n",
                             "test.conf");
  ASSERT_TRUE(r.config) << All(r.errors);
  EffectiveSourcePolicy p = r.config->SourcePolicyFor(*IpAddress::Parse("10.1.2.3"));
  EXPECT_TRUE(p.add_received_header);
  EXPECT_TRUE(p.log_commands);
  EXPECT_TRUE(p.remove_received_headers);
  EXPECT_FALSE(p.add_message_id_header);
  EXPECT_TRUE(p.add_date_header);
  EXPECT_EQ(p.remove_headers, (std::vector<std::string>{"x-mailer", "x-originating-ip"}));
  EffectiveSourcePolicy other = r.config->SourcePolicyFor(*IpAddress::Parse("192.0.2.1"));
  EXPECT_FALSE(other.add_received_header);
  EXPECT_TRUE(other.add_message_id_header);
  EXPECT_FALSE(other.add_date_header);
  EXPECT_FALSE(other.log_commands);
}

// verp-default: table-driven, each value and where it is written.
struct VerpDefaultCase {
  const char* label;
  const char* source_body;  // lines inside <source 10.0.0.0/8>
  bool inner;               // verp_default for 10.1.2.3
  const char* error;        // "" = loads
};

class VerpDefaultTest : public ::testing::TestWithParam<VerpDefaultCase> {};

TEST_P(VerpDefaultTest, Parses) {
  const VerpDefaultCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + "<source 0/0>\n</source>\n" +
                                 "<source 10.0.0.0/8>\n" + c.source_body + "</source>\n",
                             "test.conf");
  if (*c.error != '\0') {
    ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
    EXPECT_NE(r.errors[0].ToString().find(c.error), std::string::npos) << r.errors[0].ToString();
    return;
  }
  ASSERT_TRUE(r.config) << All(r.errors);
  EXPECT_EQ(r.config->SourcePolicyFor(*IpAddress::Parse("10.1.2.3")).verp_default, c.inner);
  EXPECT_FALSE(r.config->SourcePolicyFor(*IpAddress::Parse("192.0.2.1")).verp_default);
}

INSTANTIATE_TEST_SUITE_P(
    Table, VerpDefaultTest,
    ::testing::Values(VerpDefaultCase{"absent", "", false, ""},
                      VerpDefaultCase{"yes", "  verp-default yes\n", true, ""},
                      VerpDefaultCase{"no", "  verp-default no\n", false, ""},
                      VerpDefaultCase{"true", "  verp-default true\n", true, ""},
                      VerpDefaultCase{"bad", "  verp-default maybe\n", false, "test.conf:"},
                      VerpDefaultCase{"missing", "  verp-default\n", false, "test.conf:"}),
    [](const auto& info) { return std::string(info.param.label); });

// ---- The PowerMTA name table agrees with Outpost's own tables. ----

TEST(PowerMtaNames, NoNameIsBothImplementedAndNotInTheSameScope) {
  for (const PowerMtaName& n : PowerMtaDirectives()) {
    for (const ScopeSpec& scope : Scopes()) {
      if ((n.scopes & PowerMtaScopeBit(scope.scope)) == 0) continue;
      EXPECT_EQ(FindDirective(scope, n.name), nullptr)
          << n.name << " is listed as not implemented in " << scope.title << " but is";
    }
  }
  for (const PowerMtaName& n : PowerMtaSections()) {
    EXPECT_EQ(FindSection(n.name), nullptr) << n.name;
  }
}

}  // namespace
}  // namespace outpost::config
