#include "common/provider_map.hpp"

#include <gtest/gtest.h>

namespace outpost::exporter {
namespace {

struct ProviderCase {
  const char* label;
  const char* domain;
  const char* provider;
};

class DefaultProviders : public ::testing::TestWithParam<ProviderCase> {};

TEST_P(DefaultProviders, Resolve) {
  const ProviderCase& c = GetParam();
  ProviderMap m = ProviderMap::Defaults();
  ProviderResolver r(m);
  EXPECT_EQ(m.providers()[r.Resolve(c.domain)], c.provider) << c.label;
  EXPECT_EQ(m.providers()[r.Resolve(c.domain)], c.provider) << c.label << " (memoized)";
}

INSTANTIATE_TEST_SUITE_P(Table, DefaultProviders,
                         ::testing::Values(ProviderCase{"gmail", "gmail.com", "gmail"},
                                           ProviderCase{"googlemail", "googlemail.com", "gmail"},
                                           ProviderCase{"upper_case", "GMAIL.COM", "gmail"},
                                           ProviderCase{"outlook", "outlook.com", "microsoft"},
                                           ProviderCase{"hotmail", "hotmail.com", "microsoft"},
                                           ProviderCase{"yahoo", "yahoo.com", "yahoo"},
                                           ProviderCase{"aol", "aol.com", "aol"},
                                           ProviderCase{"icloud", "icloud.com", "apple"},
                                           ProviderCase{"comcast", "comcast.net", "comcast"},
                                           ProviderCase{"gmx", "gmx.de", "gmx"},
                                           ProviderCase{"webde", "web.de", "gmx"},
                                           ProviderCase{"subdomain", "mx.comcast.net", "comcast"},
                                           ProviderCase{"unknown", "example.org", "other"},
                                           ProviderCase{"empty", "", "other"}));

TEST(ProviderMap, FileReplacesDefaults) {
  std::string err;
  auto m = ProviderMap::Parse("# corp\nexample.org corp\nGmail.com  google\n", &err);
  ASSERT_TRUE(m) << err;
  ProviderResolver r(*m);
  EXPECT_EQ(m->providers()[r.Resolve("example.org")], "corp");
  EXPECT_EQ(m->providers()[r.Resolve("gmail.com")], "google");
  EXPECT_EQ(m->providers()[r.Resolve("yahoo.com")], "other");
}

TEST(ProviderMap, BadLinesAreErrors) {
  std::string err;
  EXPECT_FALSE(ProviderMap::Parse("example.org\n", &err));
  EXPECT_NE(err.find("line 1"), std::string::npos);
  EXPECT_FALSE(ProviderMap::Parse("a.org b c\n", &err));
  EXPECT_FALSE(ProviderMap::Parse("a.org bad\"name\n", &err));
}

}  // namespace
}  // namespace outpost::exporter
