// Helpers shared by the config tests: a private temporary directory and file writing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

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

}  // namespace outpost::config::testing
