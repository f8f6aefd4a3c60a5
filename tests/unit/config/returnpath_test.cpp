// The return path's directives: relay-domain, <bounce-processor>, <feedback-loop-processor> and
// their nested <address-list> (docs/config.md, "relay-domain" and the processor sections).
#include <gtest/gtest.h>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

std::shared_ptr<const Config> Parse(const std::string& snippet) {
  LoadResult r = ParseConfig(std::string(kMinimal) + snippet, "test.conf");
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.config;
}

TEST(ReturnPathConfig, RelayDomainsAreRepeatableAndCompareWithoutCaseOrDot) {
  auto c = Parse("relay-domain Bounce.Example.com.\nrelay-domain fbl.example.com\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->relay_domains, (std::vector<std::string>{"bounce.example.com", "fbl.example.com"}));
  EXPECT_TRUE(c->IsRelayDomain("BOUNCE.example.com"));
  EXPECT_TRUE(c->IsRelayDomain("fbl.example.com."));
  EXPECT_FALSE(c->IsRelayDomain("sub.bounce.example.com"));
  EXPECT_FALSE(c->IsRelayDomain("example.com"));
}

TEST(ReturnPathConfig, ProcessorsWithTheirAddressLists) {
  auto c = Parse(
      "<bounce-processor>\n"
      "  deliver-unmatched-email yes\n"
      "  <address-list>\n"
      "    domain Bounce.Example.com\n"
      "    address Bounces@Mail.Example.com\n"
      "  </address-list>\n"
      "</bounce-processor>\n"
      "<feedback-loop-processor>\n"
      "  <address-list>\n"
      "    address fbl@example.com\n"
      "  </address-list>\n"
      "  deliver-matched-email yes\n"
      "</feedback-loop-processor>\n");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->bounce_processor);
  ASSERT_TRUE(c->feedback_loop_processor);
  const ReportProcessor& b = *c->bounce_processor;
  EXPECT_TRUE(b.deliver_unmatched_email);
  EXPECT_FALSE(b.deliver_matched_email);
  EXPECT_EQ(b.address_list.domains, std::vector<std::string>{"bounce.example.com"});
  EXPECT_EQ(b.address_list.addresses, std::vector<std::string>{"bounces@mail.example.com"});
  EXPECT_TRUE(b.address_list.Matches("anything@bounce.example.com"));
  EXPECT_TRUE(b.address_list.Matches("bounces@mail.example.com"));
  EXPECT_FALSE(b.address_list.Matches("other@mail.example.com"));
  const ReportProcessor& f = *c->feedback_loop_processor;
  EXPECT_TRUE(f.deliver_matched_email);
  EXPECT_FALSE(f.deliver_unmatched_email);
  EXPECT_EQ(f.address_list.addresses, std::vector<std::string>{"fbl@example.com"});
  EXPECT_TRUE(f.address_list.domains.empty());
}

TEST(ReturnPathConfig, WithoutProcessorsNothingIsRead) {
  auto c = Parse("");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->bounce_processor);
  EXPECT_FALSE(c->feedback_loop_processor);
  EXPECT_TRUE(c->relay_domains.empty());
}

TEST(ReturnPathConfig, RecordsTakeRb) {
  auto c = Parse("<acct-file a.csv>\nrecords d,b,rb,f\n</acct-file>\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->acct_files[0].records, (std::vector<std::string>{"d", "b", "rb", "f"}));
}

TEST(AcctFileConfig, RecordsLinesAddUpAndRecordFieldsAreKept) {
  auto c = Parse(
      "<acct-file a.csv>\nrecords r\nrecords rb,r\nrecord-fields r *\n"
      "record-fields rb rcpt,bounceCat\n</acct-file>\n");
  ASSERT_TRUE(c);
  const auto& f = c->acct_files[0];
  EXPECT_EQ(f.records, (std::vector<std::string>{"r", "rb"}));
  ASSERT_EQ(f.record_fields.size(), 2u);
  EXPECT_EQ(f.record_fields[0].type, "r");
  EXPECT_TRUE(f.record_fields[0].fields.empty()) << "* = every column";
  EXPECT_EQ(f.record_fields[1].fields, (std::vector<std::string>{"rcpt", "bounceCat"}));
}

struct ErrorCase {
  const char* label;
  const char* snippet;
  int line;  // within the snippet
  const char* message;
};

class ReturnPathErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ReturnPathErrorTest, NamesLineAndProblem) {
  const ErrorCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + c.snippet, "test.conf");
  EXPECT_FALSE(r.config) << c.label;
  ASSERT_EQ(r.errors.size(), 1u) << c.label << ": " << r.errors.size() << " errors"
                                 << (r.errors.empty() ? "" : ", first " + r.errors[0].ToString());
  EXPECT_EQ(r.errors[0].file, "test.conf") << c.label;
  EXPECT_EQ(r.errors[0].line, c.line + 2) << c.label << ": " << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos)
      << c.label << ": " << r.errors[0].ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReturnPathErrorTest,
    ::testing::Values(
        ErrorCase{"relay_domain_not_a_domain", "relay-domain not_a_domain!\n", 1,
                  "expected a domain name"},
        ErrorCase{"address_list_at_top_level", "<address-list>\ndomain a.com\n</address-list>\n", 1,
                  "belongs inside <bounce-processor> or <feedback-loop-processor>"},
        ErrorCase{"address_list_in_domain",
                  "<domain *>\n<address-list>\ndomain a.com\n</address-list>\n</domain>\n", 2,
                  "cannot be inside <domain *>"},
        ErrorCase{"processor_without_addresses",
                  "<bounce-processor>\ndeliver-matched-email no\n</bounce-processor>\n", 1,
                  "has no <address-list>"},
        ErrorCase{"processor_twice",
                  "<bounce-processor>\n<address-list>\ndomain a.com\n</address-list>\n"
                  "</bounce-processor>\n<bounce-processor>\ndeliver-matched-email yes\n"
                  "</bounce-processor>\n",
                  6, "duplicate section <bounce-processor>"},
        ErrorCase{"address_list_twice_in_one_processor",
                  "<feedback-loop-processor>\n<address-list>\ndomain a.com\n</address-list>\n"
                  "<address-list>\ndomain b.com\n</address-list>\n</feedback-loop-processor>\n",
                  5, "duplicate section <address-list>"},
        ErrorCase{"address_without_at",
                  "<bounce-processor>\n<address-list>\ndomain a.com\naddress bounces\n"
                  "</address-list>\n</bounce-processor>\n",
                  4, "expected an address"},
        ErrorCase{"bad_bool",
                  "<feedback-loop-processor>\ndeliver-unmatched-email maybe\n<address-list>\n"
                  "domain a.com\n</address-list>\n</feedback-loop-processor>\n",
                  2, "expected yes/no"},
        ErrorCase{"domain_directive_outside_address_list",
                  "<bounce-processor>\ndomain a.com\n<address-list>\ndomain a.com\n"
                  "</address-list>\n</bounce-processor>\n",
                  2, "domain"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.label; });

}  // namespace
}  // namespace outpost::config
