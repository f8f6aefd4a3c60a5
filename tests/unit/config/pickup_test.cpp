// `pickup DIR BADDIR` (docs/config.md, "pickup"): two existing, different directories; repeatable.
#include <gtest/gtest.h>

#include <filesystem>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;
using testing::TempDir;

struct Dirs {
  TempDir tmp;
  std::string in = tmp.path() + "/in";
  std::string bad = tmp.path() + "/bad";
  std::string in2 = tmp.path() + "/in2";
  Dirs() {
    for (const std::string& d : {in, bad, in2}) std::filesystem::create_directory(d);
  }
};

TEST(PickupConfig, DirectoriesAreRepeatable) {
  Dirs d;
  LoadResult r = ParseConfig(std::string(kMinimal) + "pickup " + d.in + " " + d.bad + "\npickup " +
                                 d.in2 + " " + d.bad + "\n",
                             "test.conf");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].ToString();
  ASSERT_EQ(r.config->pickups.size(), 2u);
  EXPECT_EQ(r.config->pickups[0].dir, d.in);
  EXPECT_EQ(r.config->pickups[0].bad_dir, d.bad);
  EXPECT_EQ(r.config->pickups[1].dir, d.in2);
}

TEST(PickupConfig, NoneByDefault) {
  LoadResult r = ParseConfig(kMinimal, "test.conf");
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(r.config->pickups.empty());
}

TEST(PickupConfig, BadLinesNameTheProblem) {
  Dirs d;
  struct Case {
    std::string line;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"pickup " + d.in, "expected two directories"},
      {"pickup " + d.in + " " + d.bad + " extra", "expected two directories"},
      {"pickup " + d.tmp.path() + "/missing " + d.bad, "the pickup directory '"},
      {"pickup " + d.in + " " + d.tmp.path() + "/missing", "the bad-file directory '"},
      {"pickup " + d.in + " " + d.in + "/", "must not be the pickup directory itself"},
      {"pickup " + d.in + " " + d.bad + "\npickup " + d.in + " " + d.in2, "is already watched"},
  };
  for (const Case& c : cases) {
    LoadResult r = ParseConfig(std::string(kMinimal) + c.line + "\n", "test.conf");
    EXPECT_FALSE(r.config) << c.line;
    ASSERT_EQ(r.errors.size(), 1u) << c.line;
    EXPECT_EQ(r.errors[0].file, "test.conf");
    EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos)
        << c.line << ": " << r.errors[0].ToString();
  }
}

}  // namespace
}  // namespace outpost::config
