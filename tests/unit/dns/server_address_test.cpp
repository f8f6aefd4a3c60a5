#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mta/dns/ares_backend.hpp"

namespace outpost::dns {
namespace {

struct Case {
  const char* label;
  std::string server;
  bool ok;
  std::string csv;
};

TEST(ServerToAresCsv, Table) {
  const std::vector<Case> cases = {
      {"ipv4 with port", "127.0.0.1:5353", true, "127.0.0.1:5353"},
      {"ipv4 default port", "127.0.0.1", true, "127.0.0.1:53"},
      {"bracketed ipv6 with port", "[::1]:5353", true, "[::1]:5353"},
      {"bracketed ipv6 default port", "[::1]", true, "[::1]:53"},
      {"bare ipv6", "::1", true, "[::1]:53"},
      {"host name refused", "localhost:53", false, ""},
      {"port zero", "127.0.0.1:0", false, ""},
      {"port too large", "127.0.0.1:65536", false, ""},
      {"port not a number", "127.0.0.1:dns", false, ""},
      {"missing bracket", "[::1:53", false, ""},
      {"ipv4 in brackets", "[127.0.0.1]:53", false, ""},
      {"empty port", "127.0.0.1:", false, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    std::string csv, error;
    EXPECT_EQ(ServerToAresCsv(c.server, &csv, &error), c.ok) << error;
    if (c.ok) {
      EXPECT_EQ(csv, c.csv);
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

}  // namespace
}  // namespace outpost::dns
