#include "tools/load/load_options.hpp"

#include <gtest/gtest.h>

#include <map>

#include "tools/load/load_report.hpp"
#include "tools/load/load_runner.hpp"

namespace outpost::load {
namespace {

TEST(LoadOptionsTest, ParsesFlags) {
  std::string error;
  auto o = ParseLoadArgs({"--sessions", "4", "--messages", "50", "--size", "8k", "--rcpts", "3",
                          "--domains", "gmail.com:40,outlook.com:60", "--rate", "12.5",
                          "--no-pipelining", "--json", "--ids-file", "/tmp/x", "127.0.0.1:2525"},
                         &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 2525);
  EXPECT_EQ(o->sessions, 4u);
  EXPECT_EQ(o->MessageBudget(), 50u);
  EXPECT_EQ(o->size, 8192u);
  EXPECT_EQ(o->rcpts, 3u);
  ASSERT_EQ(o->domains.size(), 2u);
  EXPECT_EQ(o->domains[1].domain, "outlook.com");
  EXPECT_EQ(o->domains[1].weight, 60u);
  EXPECT_DOUBLE_EQ(o->rate, 12.5);
  EXPECT_FALSE(o->pipelining);
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->ids_file, "/tmp/x");
}

TEST(LoadOptionsTest, AcceptsFlagEqualsValue) {
  // docker-compose.yml writes --flag=VALUE; both forms mix on one command line.
  std::string error;
  auto o = ParseLoadArgs(
      {"--sessions=4", "--rate=20", "--duration=24h", "--domains=gmail.com:40,outlook.com:25",
       "--from=news@demo.test", "--size", "2k", "--helo=a=b", "outpostd:2525"},
      &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->host, "outpostd");
  EXPECT_EQ(o->port, 2525);
  EXPECT_EQ(o->sessions, 4u);
  EXPECT_DOUBLE_EQ(o->rate, 20);
  EXPECT_EQ(o->duration, std::chrono::milliseconds(24 * 3'600'000));
  ASSERT_EQ(o->domains.size(), 2u);
  EXPECT_EQ(o->domains[0].domain, "gmail.com");
  EXPECT_EQ(o->from, "news@demo.test");
  EXPECT_EQ(o->size, 2048u);
  EXPECT_EQ(o->helo, "a=b");
  auto target = ParseLoadArgs({"--target=[::1]:25", "--messages=0"}, &error);
  ASSERT_TRUE(target) << error;
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->MessageBudget(), 0u);
}

TEST(LoadOptionsTest, Budget) {
  std::string error;
  auto plain = ParseLoadArgs({"--target", "[::1]:25"}, &error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(plain->host, "::1");
  EXPECT_EQ(plain->MessageBudget(), 1000u);
  auto timed = ParseLoadArgs({"--duration", "2s", "h:1"}, &error);
  ASSERT_TRUE(timed) << error;
  EXPECT_EQ(timed->MessageBudget(), std::nullopt);
  EXPECT_EQ(timed->duration, std::chrono::milliseconds(2000));
}

TEST(LoadOptionsTest, RejectsBadFlags) {
  struct Case {
    const char* label;
    std::vector<std::string> args;
  };
  const Case cases[] = {
      {"no target", {"--sessions", "2"}},
      {"zero sessions", {"--sessions", "0", "h:1"}},
      {"bad size", {"--size", "big", "h:1"}},
      {"bad mix weight", {"--domains", "a.com:x", "h:1"}},
      {"zero weight", {"--domains", "a.com:0", "h:1"}},
      {"unknown flag", {"--frob", "1", "h:1"}},
      {"missing value", {"h:1", "--rate"}},
      {"no port", {"localhost"}},
      {"unknown flag=value", {"--frob=1", "h:1"}},
      {"bad inline number", {"--sessions=x", "h:1"}},
      {"empty inline value", {"--sessions=", "h:1"}},
      {"value on a switch", {"--json=yes", "h:1"}},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseLoadArgs(c.args, &error)) << c.label;
    EXPECT_FALSE(error.empty()) << c.label;
  }
}

TEST(DomainPickerTest, ExactInterleavedMix) {
  DomainPicker picker({{"a", 2}, {"b", 1}, {"c", 1}});
  std::map<std::string, int> counts;
  std::vector<std::string> first;
  for (int i = 0; i < 400; ++i) {
    const std::string& d = picker.Next();
    ++counts[d];
    if (i < 4) first.push_back(d);
  }
  EXPECT_EQ(counts["a"], 200);
  EXPECT_EQ(counts["b"], 100);
  EXPECT_EQ(counts["c"], 100);
  EXPECT_EQ(first, (std::vector<std::string>{"a", "b", "c", "a"}));
}

TEST(PercentileTest, NearestRank) {
  struct Case {
    const char* label;
    std::vector<std::uint64_t> values;
    double p;
    std::uint64_t want;
  };
  const Case cases[] = {
      {"empty", {}, 50, 0},
      {"single", {7}, 99, 7},
      {"median of 1..10", {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 50, 5},
      {"p90 of 1..10", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
      {"p99 of 1..100", {}, 99, 99},
      {"max", {3, 1, 2}, 100, 3},
  };
  for (auto c : cases) {
    if (std::string(c.label) == "p99 of 1..100") {
      for (std::uint64_t i = 100; i >= 1; --i) c.values.push_back(i);
    }
    EXPECT_EQ(Percentile(c.values, c.p), c.want) << c.label;
  }
}

TEST(BuildMessageTest, SizeHeadersAndNoDotLines) {
  std::string m = BuildMessage("a@b", "c@d", "<1.2@x>", 4096);
  EXPECT_LE(m.size(), 4096u);
  EXPECT_GE(m.size(), 4095u);
  EXPECT_NE(m.find("\r\nMessage-ID: <1.2@x>\r\n"), std::string::npos);
  EXPECT_EQ(m.find("\r\n."), std::string::npos);
  EXPECT_EQ(m.substr(m.size() - 2), "\r\n");
  std::string tiny = BuildMessage("a@b", "c@d", "<1@x>", 10);
  EXPECT_NE(tiny.find("Message-ID: <1@x>"), std::string::npos);
}

}  // namespace
}  // namespace outpost::load
