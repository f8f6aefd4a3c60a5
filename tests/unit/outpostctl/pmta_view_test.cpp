#include "mta/outpostctl/pmta_view.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace outpost::ctl {
namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

TEST(PmtaView, DomLinesFollowTheDocumentAndNumberLists) {
  const Json data = Json::parse(R"({"status": {"conn": {"smtpIn": {"cur": 5}},
      "version": "Outpost \"1\""}, "vmta": [{"name": "a"}, {"name": "b"}]})");
  EXPECT_EQ(DomLines(data),
            "status.conn.smtpIn.cur=\"5\"\n"
            "status.version=\"Outpost \\\"1\\\"\"\n"
            "vmta.0.name=\"a\"\n"
            "vmta.1.name=\"b\"\n");
}

// What Zabbix checks do with `pmta show vmtas`: drop two header lines and two footer lines, then
// take the name from column 1 and the recipients from column 3.
TEST(PmtaView, VmtaTableReadsLikePmtas) {
  const Json data = Json::parse(R"({"vmta": [
      {"name": "vmta2", "rcp": 30, "msg": 3, "dom": 1, "kb": 0, "conn": 2},
      {"name": "{default}", "rcp": 10, "msg": 1, "dom": 2, "kb": 0, "conn": 0}]})");
  const auto lines = Lines(VmtaTable(data));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(Fields(lines[0]), (std::vector<std::string>{"VirtualMTA", "Domains", "Rcpt", "%Total",
                                                        "KBytes", "Conn"}));
  EXPECT_EQ(lines[1].find_first_not_of("- "), std::string::npos);
  EXPECT_EQ(Fields(lines[2]), (std::vector<std::string>{"vmta2", "1", "30", "75.0", "0", "2"}));
  EXPECT_EQ(Fields(lines[3])[2], "10");
  EXPECT_EQ(lines[4].find_first_not_of("- "), std::string::npos);
  EXPECT_EQ(Fields(lines[5]), (std::vector<std::string>{"Total", "2", "40", "100.0", "0", "2"}));
  // Columns align: every "Rcpt" cell ends where the header's does.
  const std::size_t end = lines[0].find("Rcpt") + 4;
  EXPECT_EQ(lines[2].substr(end - 2, 2), "30");
  EXPECT_EQ(lines[3].substr(end - 2, 2), "10");
}

TEST(PmtaView, DomainTableLimitsRowsButTotalsAll) {
  const Json data = Json::parse(R"({"domain": [
      {"name": "gmail.com", "rcp": 5, "vmtas": 1, "kb": 0, "conn": 1},
      {"name": "yahoo.com", "rcp": 3, "vmtas": 1, "kb": 0, "conn": 0}]})");
  const auto lines = Lines(DomainTable(data, 1));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(Fields(lines[0])[0], "Domain");
  EXPECT_EQ(Fields(lines[2])[0], "gmail.com");
  EXPECT_EQ(Fields(lines[4]), (std::vector<std::string>{"Total", "2", "8", "100.0", "0", "1"}));
}

TEST(PmtaView, EmptyListsStillHaveHeaderAndTotal) {
  const auto lines = Lines(VmtaTable(Json::parse(R"({"vmta": []})")));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(Fields(lines[3]), (std::vector<std::string>{"Total", "0", "0", "0.0", "0", "0"}));
}

TEST(PmtaView, JobTableCountsEveryJob) {
  const Json data = Json::parse(R"({"job": [
      {"id": "spring", "rcp": 2, "msg": 1, "paused": "yes", "delivered": 0, "deferred": 1,
       "bounced": 0},
      {"id": "summer", "rcp": 0, "msg": 0, "paused": "no", "delivered": 5, "deferred": 0,
       "bounced": 2}]})");
  const auto lines = Lines(JobTable(data));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(Fields(lines[0]), (std::vector<std::string>{"JobId", "Rcpt", "Msgs", "Paused",
                                                        "Delivered", "Deferred", "Bounced"}));
  EXPECT_EQ(Fields(lines[2]), (std::vector<std::string>{"spring", "2", "1", "yes", "0", "1", "0"}));
  EXPECT_EQ(Fields(lines[5]), (std::vector<std::string>{"Total", "2", "1", "2", "5", "1", "2"}));
}

}  // namespace
}  // namespace outpost::ctl
