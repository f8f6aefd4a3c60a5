#include "exporter/exporter_options.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace outpost::exporter {
namespace {

struct BadCase {
  const char* label;
  std::vector<std::string> args;
  const char* message_part;
};

class BadFlags : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadFlags, ClearError) {
  const BadCase& c = GetParam();
  std::string err;
  EXPECT_FALSE(ParseOptions(c.args, &err)) << c.label;
  EXPECT_NE(err.find(c.message_part), std::string::npos) << c.label << ": " << err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadFlags,
    ::testing::Values(BadCase{"unknown_flag", {"--nope"}, "unknown option --nope"},
                      BadCase{"missing_value", {"--acct-path"}, "--acct-path needs a value"},
                      BadCase{"no_acct_path", {"--state-file", "s"}, "--acct-path is required"},
                      BadCase{"no_state_file", {"--acct-path", "a"}, "--state-file is required"},
                      BadCase{"bad_listen",
                              {"--acct-path", "a", "--state-file", "s", "--listen", "9469"},
                              "ADDR:PORT"},
                      BadCase{"bad_url",
                              {"--acct-path", "a", "--state-file", "s", "--status-url", "ftp://x"},
                              "http://"},
                      BadCase{"bad_interval",
                              {"--acct-path", "a", "--state-file", "s", "--state-interval", "soon"},
                              "--state-interval"},
                      BadCase{"bad_top_queues",
                              {"--acct-path", "a", "--state-file", "s", "--top-queues", "0"},
                              "--top-queues"},
                      BadCase{"positional", {"file.csv"}, "unexpected argument"},
                      BadCase{
                          "missing_config", {"--config", "/nonexistent/x.conf"}, "cannot read"}));

TEST(ExporterOptions, OneshotNeedsNoStateFile) {
  std::string err;
  auto o = ParseOptions({"--oneshot", "--from-start", "--acct-path", "a.csv"}, &err);
  ASSERT_TRUE(o) << err;
  EXPECT_TRUE(o->oneshot);
  EXPECT_TRUE(o->state_file.empty());
  EXPECT_FALSE(ParseOptions({"--acct-path", "a.csv"}, &err));  // the daemon still needs one
}

TEST(ExporterOptions, FlagsAndConfigFile) {
  std::string path = ::testing::TempDir() + "/exporter_options_test.conf";
  {
    std::ofstream f(path);
    f << "# exporter\nacct-path = /var/log/outpost/acct*.csv\nstate-file /var/lib/x.state\n"
         "listen 127.0.0.1:9469\nfrom-start\nmax-vmtas 5\n";
  }
  std::string err;
  auto o = ParseOptions({"--config", path, "--listen", "127.0.0.1:0"}, &err);
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->acct_paths, std::vector<std::string>{"/var/log/outpost/acct*.csv"});
  EXPECT_EQ(o->state_file, "/var/lib/x.state");
  EXPECT_EQ(o->listen, "127.0.0.1:0");  // the command line wins
  EXPECT_TRUE(o->from_start);
  EXPECT_EQ(o->max_vmtas, 5u);
  std::remove(path.c_str());
}

TEST(ExporterOptions, RepeatedAcctPath) {
  std::string err;
  auto o = ParseOptions(
      {"--acct-path", "a*.csv", "--acct-path=b/*.csv", "--state-file", "s", "--from-start"}, &err);
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->acct_paths.size(), 2u);
  EXPECT_TRUE(o->from_start);
}

}  // namespace
}  // namespace outpost::exporter
