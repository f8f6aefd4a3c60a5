// PowerMTA forms found in real configurations (issue #16): <domain> headers with several names
// and wildcard names, relay-domain's subdomain forms. Each accepted form is checked for what it
// sets; each refused one for its message.
#include <gtest/gtest.h>

#include <string>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

std::string All(const std::vector<ConfigError>& errors) { return testing::AllErrors(errors); }

std::shared_ptr<const Config> Load(const std::string& text) { return testing::LoadOk(text); }

// ---- <domain> headers: which section a domain gets. ----

constexpr const char* kDomainForms = R"(
domain-macro big big.test
<domain *>
  max-smtp-out 1
</domain>
<domain outlook.com hotmail.com live.com>
  max-smtp-out 2
</domain>
<domain *.example.com>
  max-smtp-out 3
</domain>
<domain [*.]mail.example.com>
  max-smtp-out 4
</domain>
<domain $big one.test>
  max-smtp-out 5
</domain>
<domain two.test>
  max-smtp-out 6
</domain>
)";

struct FormCase {
  const char* label;
  const char* domain;
  int max_smtp_out;  // of the section that applies
};

class DomainHeaderTest : public ::testing::TestWithParam<FormCase> {};

TEST_P(DomainHeaderTest, TheClosestNameDecides) {
  const FormCase& c = GetParam();
  auto config = Load(kDomainForms);
  ASSERT_TRUE(config);
  const DomainPolicy* d = config->FindDomainPolicy(c.domain);
  ASSERT_NE(d, nullptr) << c.label;
  EXPECT_EQ(d->max_smtp_out, c.max_smtp_out) << c.label << " got <domain " << d->match << ">";
}

INSTANTIATE_TEST_SUITE_P(
    Table, DomainHeaderTest,
    ::testing::Values(FormCase{"first_of_three_names", "outlook.com", 2},
                      FormCase{"second_of_three_names", "hotmail.com", 2},
                      FormCase{"third_of_three_names_any_case", "LIVE.com.", 2},
                      FormCase{"not_named_falls_to_star", "msn.com", 1},
                      FormCase{"subdomain_wildcard", "a.example.com", 3},
                      FormCase{"subdomain_wildcard_deeper", "a.b.example.com", 3},
                      FormCase{"subdomain_wildcard_not_the_domain", "example.com", 1},
                      FormCase{"wildcard_is_label_aligned", "badexample.com", 1},
                      FormCase{"bracket_form_the_domain_itself", "mail.example.com", 4},
                      FormCase{"longest_suffix_wins", "x.mail.example.com", 4},
                      FormCase{"macro_in_a_list", "big.test", 5},
                      FormCase{"name_beside_a_macro", "one.test", 5},
                      FormCase{"exact_beats_wildcard_elsewhere", "two.test", 6}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(DomainHeader, ExactNameBeatsAMacroAndAWildcardInOtherSections) {
  auto config = Load(
      "domain-macro m a.example.com\n<domain $m>\nmax-smtp-out 7\n</domain>\n"
      "<domain [*.]example.com>\nmax-smtp-out 8\n</domain>\n"
      "<domain a.example.com b.test>\nmax-smtp-out 9\n</domain>\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->FindDomainPolicy("a.example.com")->max_smtp_out, 9);
  EXPECT_EQ(config->FindDomainPolicy("example.com")->max_smtp_out, 8);
}

using BadHeaderCase = testing::OneErrorCase;

class DomainHeaderErrorTest : public ::testing::TestWithParam<BadHeaderCase> {};

TEST_P(DomainHeaderErrorTest, OneError) {
  const BadHeaderCase& c = GetParam();
  testing::ExpectOneErrorAt(c.label, c.text, c.line, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DomainHeaderErrorTest,
    ::testing::Values(
        BadHeaderCase{"name_in_two_sections",
                      "<domain a.test b.test>\n</domain>\n"
                      "<domain b.test>\n</domain>\n",
                      3, "duplicate section <domain b.test> (first at line 3)"},
        BadHeaderCase{"second_list_repeats_a_name",
                      "<domain a.test>\n</domain>\n<domain c.test a.test>\n</domain>\n", 3,
                      "duplicate section <domain c.test a.test>"},
        BadHeaderCase{"same_name_twice_in_one_header", "<domain a.test a.test>\n</domain>\n", 1,
                      "'a.test' is named twice"},
        BadHeaderCase{"star_in_the_middle", "<domain a.*.test>\n</domain>\n", 1,
                      "'a.*.test' is not a domain name, *, $macro, *.DOMAIN"},
        BadHeaderCase{"bare_wildcard_prefix", "<domain [*.]>\n</domain>\n", 1,
                      "'[*.]' is not a domain name"},
        BadHeaderCase{"double_wildcard", "<domain *.*.example.com>\n</domain>\n", 1,
                      "'*.*.example.com' is not a domain name"},
        BadHeaderCase{"bad_second_name", "<domain a.test b_test!>\n</domain>\n", 1,
                      "'b_test!' is not a domain name"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(DomainHeader, NestedSectionsKeepTheirNamesApartFromGlobalOnes) {
  auto config = Load(
      "<virtual-mta v1>\n<domain a.test b.test>\nmax-smtp-out 3\n</domain>\n</virtual-mta>\n"
      "<domain b.test>\nmax-smtp-out 4\n</domain>\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->FindDomainPolicy("b.test")->max_smtp_out, 4);
}

// ---- relay-domain: a name, *.DOMAIN, [*.]DOMAIN. ----

struct RelayCase {
  const char* label;
  const char* line;
  const char* domain;
  bool relayed;
};

class RelayDomainTest : public ::testing::TestWithParam<RelayCase> {};

TEST_P(RelayDomainTest, Matches) {
  const RelayCase& c = GetParam();
  auto config = Load(std::string(c.line) + "\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->IsRelayDomain(c.domain), c.relayed) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RelayDomainTest,
    ::testing::Values(RelayCase{"name_itself", "relay-domain b.test", "B.test.", true},
                      RelayCase{"name_no_subdomains", "relay-domain b.test", "x.b.test", false},
                      RelayCase{"bracket_itself", "relay-domain [*.]b.test", "b.test", true},
                      RelayCase{"bracket_subdomain", "relay-domain [*.]b.test", "x.y.b.test", true},
                      RelayCase{"bracket_other", "relay-domain [*.]b.test", "ab.test", false},
                      RelayCase{"star_subdomain", "relay-domain *.b.test", "x.b.test", true},
                      RelayCase{"star_not_itself", "relay-domain *.b.test", "b.test", false}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(RelayDomain, BadWildcardIsRefused) {
  LoadResult r = ParseConfig(std::string(kMinimal) + "relay-domain [*]b.test\n", "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
  EXPECT_NE(r.errors[0].message.find("expected a domain name like bounce.example.com, "
                                     "*.example.com or [*.]example.com"),
            std::string::npos)
      << All(r.errors);
}

// ---- domain-key SELECTOR,*,KEYFILE: a key for any From: domain. ----

struct DomainKeyCase {
  const char* label;
  const char* value;  // KEY stands for the key file
  const char* error;  // nullptr: accepted
};

class DomainKeyFormTest : public ::testing::TestWithParam<DomainKeyCase> {};

TEST_P(DomainKeyFormTest, GlobalAndInVirtualMta) {
  const DomainKeyCase& c = GetParam();
  testing::TempDir dir;
  const std::string key = dir.Write("k.pem", "unused\n");
  std::string value = c.value;
  value.replace(value.find("KEY"), 3, key);
  for (const std::string& text : {"domain-key " + value + "\n",
                                  "<virtual-mta v1>\ndomain-key " + value + "\n</virtual-mta>\n"}) {
    LoadResult r = ParseConfig(std::string(kMinimal) + text, "test.conf");
    if (c.error == nullptr) {
      ASSERT_TRUE(r.errors.empty()) << c.label << All(r.errors);
      const auto& keys = r.config->domain_keys.empty() ? r.config->virtual_mtas[0].domain_keys
                                                       : r.config->domain_keys;
      ASSERT_EQ(keys.size(), 1u) << c.label;
      EXPECT_EQ(keys[0].domain, "*") << c.label;
      EXPECT_EQ(keys[0].selector, "dkim") << c.label;
    } else {
      ASSERT_EQ(r.errors.size(), 1u) << c.label << All(r.errors);
      EXPECT_NE(r.errors[0].message.find(c.error), std::string::npos) << c.label << All(r.errors);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, DomainKeyFormTest,
                         ::testing::Values(DomainKeyCase{"star_domain", "dkim,*,KEY", nullptr},
                                           DomainKeyCase{"four_parts_refused",
                                                         "example.com,mail.example.com,*,KEY",
                                                         "expected SELECTOR,DOMAIN,KEYFILE"},
                                           DomainKeyCase{"star_in_a_name", "dkim,*.example.com,KEY",
                                                         "(DOMAIN may be *)"}),
                         [](const auto& info) { return std::string(info.param.label); });

// ---- records all ----

TEST(AcctRecords, AllIsEveryType) {
  auto config = Load(
      "<acct-file /tmp/a.csv>\nrecords all\n</acct-file>\n"
      "<acct-file /tmp/b.csv>\nrecords d\nrecords ALL\n</acct-file>\n");
  ASSERT_TRUE(config);
  const std::vector<std::string> every = {"d", "b", "t", "tq", "r", "f", "rb"};
  EXPECT_EQ(config->acct_files[0].records, every);
  EXPECT_EQ(config->acct_files[1].records, every);
  LoadResult r = ParseConfig(
      std::string(kMinimal) + "<acct-file /tmp/a.csv>\nrecords d,all\n</acct-file>\n", "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
  EXPECT_NE(r.errors[0].message.find("record types from d, b, t, tq, r, f, rb, or all"),
            std::string::npos);
}

// ---- <bounce-category-patterns>: operators' own category names. ----

TEST(BounceCategories, OperatorsOwnNamesAreKeptAsWritten) {
  auto config = Load(
      "<bounce-category-patterns>\n/Recipient address rejected/ invalid-mailbox\n"
      "/Account Inactive/ Invalid-Mailbox\n/^2.\\d+.\\d+;/ success\n/x/ soft-2\n"
      "</bounce-category-patterns>\n");
  ASSERT_TRUE(config);
  ASSERT_EQ(config->bounce_category_patterns.size(), 4u);
  EXPECT_EQ(config->bounce_category_patterns[0].category, "invalid-mailbox");
  EXPECT_EQ(config->bounce_category_patterns[1].category, "invalid-mailbox");
  EXPECT_EQ(config->bounce_category_patterns[3].category, "soft-2");
}

struct CategoryErrorCase {
  const char* label;
  const char* category;
};

class BounceCategoryErrorTest : public ::testing::TestWithParam<CategoryErrorCase> {};

TEST_P(BounceCategoryErrorTest, NotAName) {
  const CategoryErrorCase& c = GetParam();
  LoadResult r = ParseConfig(std::string(kMinimal) + "<bounce-category-patterns>\n/x/ " +
                                 c.category + "\n</bounce-category-patterns>\n",
                             "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << c.label << All(r.errors);
  EXPECT_NE(r.errors[0].message.find("a name of lower-case letters, digits and '-'"),
            std::string::npos)
      << c.label << All(r.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BounceCategoryErrorTest,
    ::testing::Values(CategoryErrorCase{"underscore", "bad_mailbox"},
                      CategoryErrorCase{"two_words", "bad mailbox"},
                      CategoryErrorCase{"starts_with_digit", "5xx"},
                      CategoryErrorCase{"too_long", "a123456789012345678901234567890123456789x"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(BounceCategories, AtMostFiftyOfTheirOwn) {
  std::string text = "<bounce-category-patterns>\n";
  for (int i = 0; i < 51; ++i)
    text += "/x" + std::to_string(i) + "/ own-" + std::to_string(i) + "\n";
  text += "/y/ own-3\n/z/ bad-mailbox\n</bounce-category-patterns>\n";
  LoadResult r = ParseConfig(std::string(kMinimal) + text, "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << All(r.errors);
  EXPECT_EQ(r.errors[0].line, 2 + 1 + 51);
  EXPECT_NE(r.errors[0].message.find("more than 50 bounce categories of your own"),
            std::string::npos)
      << All(r.errors);
}

}  // namespace
}  // namespace outpost::config
