// Alert-driven reroutes (mta/queue/reroutes.hpp): by provider (the default provider map) or by a
// domain list (a domain and its subdomains), replaced and cleared by name.
#include "mta/queue/reroutes.hpp"

#include <gtest/gtest.h>

namespace outpost::queue {
namespace {

TEST(Reroutes, ByProviderCoversTheProvidersDomains) {
  Reroutes r;
  EXPECT_EQ(r.PoolFor("gmail.com"), nullptr) << "nothing set";
  ASSERT_FALSE(r.Set("gmail-warm", "gmail", "warm-pool"));
  ASSERT_NE(r.PoolFor("gmail.com"), nullptr);
  EXPECT_EQ(*r.PoolFor("gmail.com"), "warm-pool");
  EXPECT_EQ(*r.PoolFor("googlemail.com"), "warm-pool");
  EXPECT_EQ(r.PoolFor("yahoo.com"), nullptr);
  EXPECT_TRUE(r.Clear("gmail-warm"));
  EXPECT_FALSE(r.Clear("gmail-warm"));
  EXPECT_EQ(r.PoolFor("gmail.com"), nullptr);
}

TEST(Reroutes, ByDomainListMatchesSubdomainsOnly) {
  Reroutes r;
  ASSERT_FALSE(r.Set("x", "example.com,example.net", "pool-b"));
  EXPECT_EQ(*r.PoolFor("example.com"), "pool-b");
  EXPECT_EQ(*r.PoolFor("mx.example.net"), "pool-b");
  EXPECT_EQ(r.PoolFor("badexample.com"), nullptr);
  EXPECT_EQ(r.PoolFor("example.org"), nullptr);
  ASSERT_FALSE(r.Set("x", "example.org", "pool-c"));  // replaced by name
  EXPECT_EQ(r.PoolFor("example.com"), nullptr);
  EXPECT_EQ(*r.PoolFor("example.org"), "pool-c");
}

TEST(Reroutes, AnUnknownProviderIsRefused) {
  Reroutes r;
  const auto error = r.Set("x", "nosuchprovider", "pool");
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("nosuchprovider"), std::string::npos);
  EXPECT_TRUE(r.empty());
}

}  // namespace
}  // namespace outpost::queue
