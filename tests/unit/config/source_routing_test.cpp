// The global and <source> directives real PowerMTA configurations use (issue #16, step 2):
// run-as-root, postmaster, <pattern-list> and the <source> directives that refer to it.
#include <gtest/gtest.h>

#include <string>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;

std::shared_ptr<const Config> Load(const std::string& text) { return testing::LoadOk(text); }

// One wrong line: the error is on it and says `message`.
using ErrorCase = testing::OneErrorCase;

class SourceRoutingErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SourceRoutingErrorTest, OneError) {
  const ErrorCase& c = GetParam();
  testing::ExpectOneErrorAt(c.label, c.text, c.line, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SourceRoutingErrorTest,
    ::testing::Values(
        ErrorCase{"run_as_root_not_bool", "run-as-root maybe\n", 1, "expected yes/no"},
        ErrorCase{"run_as_root_twice", "run-as-root yes\nrun-as-root no\n", 2,
                  "duplicate 'run-as-root'"},
        ErrorCase{"postmaster_no_domain", "postmaster root\n", 1,
                  "expected an address like postmaster@example.com"},
        ErrorCase{"postmaster_display_name", "postmaster Admin <a@b.com>\n", 1,
                  "expected an address"},
        ErrorCase{"postmaster_bad_domain", "postmaster a@b..com\n", 1, "expected an address"},
        ErrorCase{"postmaster_empty_local", "postmaster @example.com\n", 1, "expected an address"},
        ErrorCase{"pattern_unknown_vmta",
                  "<pattern-list p>\nmail-from /x/ virtual-mta=nowhere\n"
                  "</pattern-list>\n",
                  2, "no <virtual-mta nowhere> or <virtual-mta-pool nowhere>"},
        ErrorCase{"pattern_other_action",
                  "<virtual-mta v>\n</virtual-mta>\n<pattern-list p>\n"
                  "rcpt-to /x/ source={bulk}\n</pattern-list>\n",
                  4, "expected virtual-mta=NAME after the /regex/"},
        ErrorCase{"pattern_bad_regex",
                  "<virtual-mta v>\n</virtual-mta>\n<pattern-list p>\n"
                  "mail-from /(x/ virtual-mta=v\n</pattern-list>\n",
                  4, "mail-from"},
        ErrorCase{"pattern_no_regex",
                  "<virtual-mta v>\n</virtual-mta>\n<pattern-list p>\n"
                  "mail-from x virtual-mta=v\n</pattern-list>\n",
                  4, "expected /REGEX/ virtual-mta=NAME"},
        ErrorCase{"pattern_header_without_name",
                  "<virtual-mta v>\n</virtual-mta>\n<pattern-list p>\n"
                  "header /x/\n</pattern-list>\n",
                  4, "expected HEADER-NAME /REGEX/ virtual-mta=NAME"},
        ErrorCase{"source_names_missing_list", "<source 0/0>\npattern-list nolist\n</source>\n", 2,
                  "no <pattern-list nolist> is defined"},
        ErrorCase{"pattern_line_in_source",
                  "<source 0/0>\nmail-from /x/ virtual-mta=v\n</source>\n", 2, "<pattern-list>"}));

TEST(RunAsRoot, DefaultNoAndYes) {
  auto plain = Load("");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->run_as_root);
  auto root = Load("run-as-root yes\n");
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->run_as_root);
}

TEST(Postmaster, DefaultEmptyAndAddress) {
  auto plain = Load("");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->postmaster, "");
  auto set = Load("postmaster you+mta@your.example.com\n");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->postmaster, "you+mta@your.example.com");
}

TEST(PatternList, LinesInOrderAndSourceReference) {
  auto c = Load(
      "<virtual-mta news>\n</virtual-mta>\n<virtual-mta tx>\n</virtual-mta>\n"
      "<virtual-mta-pool google-pool>\n  virtual-mta news\n</virtual-mta-pool>\n"
      "<pattern-list Routing>\n"
      "  mail-from /@news\\.example\\.com/ virtual-mta=news   # a comment\n"
      "  header X-Campaign /^trans#1/i virtual-mta=TX\n"
      "  rcpt-to /@(gmail|googlemail)\\.com/ virtual-mta=google-pool\n"
      "</pattern-list>\n"
      "<source 10.0.0.0/8>\n  pattern-list routing\n</source>\n");
  ASSERT_TRUE(c);
  const PatternList* list = c->FindPatternList("ROUTING");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->patterns.size(), 3u);
  using Subject = RoutePattern::Subject;
  EXPECT_EQ(list->patterns[0].subject, Subject::kMailFrom);
  EXPECT_EQ(list->patterns[0].regex, "@news\\.example\\.com");
  EXPECT_EQ(list->patterns[0].virtual_mta, "news");
  EXPECT_EQ(list->patterns[1].subject, Subject::kHeader);
  EXPECT_EQ(list->patterns[1].header, "x-campaign");
  EXPECT_EQ(list->patterns[1].regex, "^trans#1");  // '#' inside the regex is no comment
  EXPECT_TRUE(list->patterns[1].icase);
  EXPECT_EQ(list->patterns[1].virtual_mta, "tx");
  EXPECT_EQ(list->patterns[2].subject, Subject::kRcptTo);
  EXPECT_EQ(list->patterns[2].virtual_mta, "google-pool");
  EXPECT_EQ(c->SourcePolicyFor(*IpAddress::Parse("10.1.1.1")).pattern_list, "routing");
  EXPECT_EQ(c->SourcePolicyFor(*IpAddress::Parse("192.0.2.1")).pattern_list, "");
}

}  // namespace
}  // namespace outpost::config
