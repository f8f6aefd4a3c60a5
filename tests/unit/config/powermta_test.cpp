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

std::string All(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += "\n  " + e.ToString();
  return out;
}

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
                    "<domain *>\nmax-errors-per-connection 10\n</domain>\n", 2,
                    "'max-errors-per-connection' is a PowerMTA directive not supported by Outpost",
                    "did you mean"},
        MessageCase{"dk_sign_not_dkim_sign", "<domain *>\ndk-sign yes\n</domain>\n", 2,
                    "PowerMTA directive not supported", "did you mean"},
        MessageCase{"docs_pointer", "run-as-root no\n", 1, "docs/config.md"},
        MessageCase{"vmta_max_smtp_out_no_move_advice",
                    "<virtual-mta v1>\nmax-smtp-out 5\n</virtual-mta>\n", 2,
                    "not supported by Outpost in <virtual-mta> (Outpost has it in <domain>, where "
                    "it does not do the same)",
                    "belongs in"},
        MessageCase{"vmta_domain_key_no_move_advice",
                    "<virtual-mta v1>\ndomain-key s,a.com,/k.pem\n</virtual-mta>\n", 2,
                    "PowerMTA directive not supported by Outpost in <virtual-mta>", "belongs in"},
        MessageCase{"domain_max_rcpt_per_message_no_move_advice",
                    "<domain *>\nmax-rcpt-per-message 50\n</domain>\n", 2,
                    "not supported by Outpost in <domain>", "belongs in"},
        MessageCase{"move_advice_kept_when_meaning_kept",
                    "<source 0/0>\nmax-smtp-out 5\n</source>\n", 2, "it belongs in <domain>"},
        MessageCase{"typo_of_powermta_name_says_so",
                    "<domain *>\nbounce-upon-no-mxx yes\n</domain>\n", 2,
                    "did you mean 'bounce-upon-no-mx'? It is a PowerMTA name"},
        MessageCase{"typo_still_suggested", "<domain *>\nmax-smtp-ot 5\n</domain>\n", 2,
                    "(did you mean 'max-smtp-out'?)"},
        MessageCase{"powermta_section",
                    "<pattern-list p>\nmail-from /x/ virtual-mta=v\n</pattern-list>\n", 1,
                    "<pattern-list> is a PowerMTA section not supported by Outpost"},
        MessageCase{"nested_domain_once",
                    "<virtual-mta v1>\n<domain *>\nmax-msg-rate 10/h\nbogus 1\n</domain>\n"
                    "</virtual-mta>\n<domain *>\nmax-smtp-out 2\n</domain>\n",
                    2, "per-virtual-MTA domain settings", "duplicate"},
        MessageCase{"long_value_cut",
                    "<domain *>\nmax-smtp-out <html>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxx</html>\n</domain>\n",
                    2, "characters)"},
        MessageCase{"spool_twice", "<spool /tmp/other>\n</spool>\n", 1,
                    "Outpost uses one spool directory"},
        MessageCase{"total_max_smtp_in_is_max_smtp_in", "max-smtp-in 5\ntotal-max-smtp-in 6\n", 2,
                    "duplicate 'total-max-smtp-in'"}));

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
