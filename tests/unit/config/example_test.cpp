// etc/outpost.conf.example loads without errors and shows every section and directive.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mta/config/internal.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

std::string ReadExample() {
  std::ifstream in(OUTPOST_SOURCE_DIR "/etc/outpost.conf.example");
  EXPECT_TRUE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Example, LoadsWithoutErrors) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/dkim");
  dir.Write("dkim/s1.example.com.pem", "placeholder");
  std::string path = dir.Write("outpost.conf", ReadExample());
  LoadResult r = LoadConfig(path);
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->FindDomainPolicy("live.com")->match, "$hotmail");
  EXPECT_EQ(r.config->domain_keys.at(0).key_file, dir.path() + "/dkim/s1.example.com.pem");
}

TEST(Example, ShowsEverySectionAndDirective) {
  std::string text = ReadExample();
  for (const ScopeSpec& scope : Scopes()) {
    if (scope.scope != Scope::kGlobal) {
      EXPECT_NE(text.find("<" + std::string(scope.tag)), std::string::npos) << scope.tag;
    }
    for (const DirectiveSpec& d : *scope.directives) {
      if (scope.scope == Scope::kBounceCategoryPatterns) continue;  // lines have no name
      EXPECT_NE(text.find(std::string(d.name) + " "), std::string::npos)
          << "etc/outpost.conf.example does not show '" << d.name << "'";
    }
  }
}

}  // namespace
}  // namespace outpost::config
