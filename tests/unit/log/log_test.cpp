#include "mta/log/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace outpost::log {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outpost-log-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "outpostd.log";
    std::string error;
    ASSERT_TRUE(Init(path_.string(), Level::kDebug, &error)) << error;
  }
  void TearDown() override {
    std::string error;
    Init("", Level::kInfo, &error);  // back to stderr so the temp dir can go
    fs::remove_all(dir_);
  }
  fs::path dir_;
  fs::path path_;
};

TEST_F(LogTest, LineFormat) {
  Write(Level::kInfo, "smtp", "[127.0.0.1]:51234 accepted 0A1B2C3D4E5F6071 size=4211");
  OUTPOST_LOG(kWarning, "spool") << "free=" << 42 << " low";
  auto lines = Lines(ReadFile(path_));
  ASSERT_EQ(lines.size(), 2u);
  std::regex stamp(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4} )");
  EXPECT_TRUE(std::regex_search(lines[0], stamp)) << lines[0];
  EXPECT_NE(lines[0].find(" info smtp: [127.0.0.1]:51234 accepted 0A1B2C3D4E5F6071 size=4211"),
            std::string::npos)
      << lines[0];
  EXPECT_TRUE(std::regex_search(lines[1], stamp)) << lines[1];
  EXPECT_NE(lines[1].find(" warning spool: free=42 low"), std::string::npos) << lines[1];
}

TEST_F(LogTest, EmbeddedLineBreaksStayOnOneLine) {
  Write(Level::kError, "delivery", "550 5.1.1 no such user\r\nsecond line");
  auto lines = Lines(ReadFile(path_));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("error delivery: 550 5.1.1 no such user  second line"),
            std::string::npos);
}

TEST_F(LogTest, LevelFiltering) {
  struct Case {
    const char* label;
    Level min;
    Level level;
    bool written;
  };
  const Case cases[] = {
      {"debug passes debug", Level::kDebug, Level::kDebug, true},
      {"info drops debug", Level::kInfo, Level::kDebug, false},
      {"info passes info", Level::kInfo, Level::kInfo, true},
      {"warning drops info", Level::kWarning, Level::kInfo, false},
      {"warning passes error", Level::kWarning, Level::kError, true},
      {"error drops warning", Level::kError, Level::kWarning, false},
  };
  for (const Case& c : cases) {
    std::string error;
    fs::remove(path_);
    ASSERT_TRUE(Init(path_.string(), c.min, &error)) << error;
    Write(c.level, "test", c.label);
    OUTPOST_LOG(kDebug, "test") << "macro at debug";
    std::string text = ReadFile(path_);
    EXPECT_EQ(text.find(c.label) != std::string::npos, c.written) << c.label;
    EXPECT_EQ(Enabled(c.level), c.written) << c.label;
    EXPECT_EQ(text.find("macro at debug") != std::string::npos, c.min == Level::kDebug) << c.label;
  }
}

TEST(LogParseLevel, Table) {
  struct Case {
    const char* text;
    bool ok;
    Level level;
  };
  const Case cases[] = {{"debug", true, Level::kDebug},     {"info", true, Level::kInfo},
                        {"warning", true, Level::kWarning}, {"error", true, Level::kError},
                        {"verbose", false, Level::kInfo},   {"", false, Level::kInfo}};
  for (const Case& c : cases) {
    Level level = Level::kInfo;
    EXPECT_EQ(ParseLevel(c.text, level), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(level, c.level) << c.text;
    }
  }
}

TEST_F(LogTest, CheckRotationFollowsRename) {
  Write(Level::kInfo, "test", "before rotation");
  fs::path rotated = dir_ / "outpostd.log.1";
  fs::rename(path_, rotated);
  Write(Level::kInfo, "test", "still old file");  // not yet noticed: goes to the renamed file
  CheckRotation();
  Write(Level::kInfo, "test", "after rotation");
  std::string old_text = ReadFile(rotated);
  std::string new_text = ReadFile(path_);
  EXPECT_NE(old_text.find("before rotation"), std::string::npos);
  EXPECT_NE(old_text.find("still old file"), std::string::npos);
  EXPECT_EQ(old_text.find("after rotation"), std::string::npos);
  EXPECT_NE(new_text.find("after rotation"), std::string::npos);
  EXPECT_EQ(new_text.find("before rotation"), std::string::npos);
  // Without a rename CheckRotation keeps the file.
  CheckRotation();
  Write(Level::kInfo, "test", "same file");
  EXPECT_NE(ReadFile(path_).find("same file"), std::string::npos);
}

TEST_F(LogTest, CheckRotationAfterDelete) {
  Write(Level::kInfo, "test", "first");
  fs::remove(path_);
  CheckRotation();
  Write(Level::kInfo, "test", "second");
  ASSERT_TRUE(fs::exists(path_));
  EXPECT_NE(ReadFile(path_).find("second"), std::string::npos);
}

TEST_F(LogTest, ReopenStartsNewFileAtPath) {
  Write(Level::kInfo, "test", "one");
  fs::path rotated = dir_ / "moved.log";
  fs::rename(path_, rotated);
  Reopen();
  Write(Level::kInfo, "test", "two");
  EXPECT_NE(ReadFile(rotated).find("one"), std::string::npos);
  EXPECT_EQ(ReadFile(rotated).find("two"), std::string::npos);
  EXPECT_NE(ReadFile(path_).find("two"), std::string::npos);
}

TEST_F(LogTest, InitFailsOnBadPath) {
  std::string error;
  EXPECT_FALSE(Init((dir_ / "no/such/dir/x.log").string(), Level::kInfo, &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
  // The previous file stays in use.
  Write(Level::kInfo, "test", "kept");
  EXPECT_NE(ReadFile(path_).find("kept"), std::string::npos);
}

}  // namespace
}  // namespace outpost::log
