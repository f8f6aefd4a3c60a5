// Helpers shared by the config tests: a private temporary directory and file writing.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "mta/config/config.hpp"

namespace outpost::config::testing {

// A fresh directory under TMPDIR, removed when the object goes. Not thread-safe (one per test).
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "outpost-config-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

// The two directives every valid config needs, to prefix snippets under test.
inline constexpr const char* kMinimal = "smtp-listener 127.0.0.1:0\nspool /tmp/spool\n";

// Every error, one per line, for a failure message.
inline std::string AllErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += "\n  " + e.ToString();
  return out;
}

// A snippet (after kMinimal) that loads without error; null (and a test failure) otherwise.
inline std::shared_ptr<const Config> LoadOk(const std::string& snippet) {
  LoadResult r = ParseConfig(std::string(kMinimal) + snippet, "test.conf");
  EXPECT_TRUE(r.errors.empty()) << AllErrors(r.errors);
  return r.config;
}

// A row of a table-driven error test: `text` (after kMinimal) is wrong on its line `line`.
struct OneErrorCase {
  const char* label;
  const char* text;
  int line;
  const char* message;
};

// `snippet` (after kMinimal) has one wrong line: exactly one error, on line `line` of the snippet,
// saying `message`. For the table-driven error tests.
inline void ExpectOneErrorAt(const std::string& label, const std::string& snippet, int line,
                             const std::string& message) {
  LoadResult r = ParseConfig(std::string(kMinimal) + snippet, "test.conf");
  ASSERT_EQ(r.errors.size(), 1u) << label << AllErrors(r.errors);
  EXPECT_EQ(r.errors[0].line, line + 2) << label << AllErrors(r.errors);
  EXPECT_NE(r.errors[0].message.find(message), std::string::npos) << label << AllErrors(r.errors);
}

}  // namespace outpost::config::testing
