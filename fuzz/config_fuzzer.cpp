// Fuzzes the configuration parser (mta/config/config.hpp ParseConfig): one input = the text of a
// configuration file. The name has no '/', so relative paths (key files, spool) resolve nowhere in
// particular and nothing but existence checks touches the file system.
//
// Invariants checked beyond "no crash":
//  * exactly one outcome: a Config, or at least one error (never both, never neither);
//  * every error names the file and a line within the text (0 only for whole-file errors), and
//    has a message; ToString() starts with "file:line: " ("file: " for line 0).
// Throughput is low (~100 runs/s): an unknown directive's "did you mean" costs an edit distance
// against every directive name, which coverage instrumentation makes slow.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(outpost::fuzz::AsText(data, size));
  const std::string name = "fuzz.conf";
  const outpost::config::LoadResult r = outpost::config::ParseConfig(text, name);
  FUZZ_CHECK((r.config != nullptr) != !r.errors.empty(), "a config xor errors");

  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  for (const outpost::config::ConfigError& e : r.errors) {
    FUZZ_CHECK(e.file == name, "error names the file");
    FUZZ_CHECK(e.line >= 0 && static_cast<std::size_t>(e.line) <= lines, "line within the text");
    FUZZ_CHECK(!e.message.empty(), "error has a message");
    const std::string prefix =
        e.line == 0 ? name + ": " : name + ":" + std::to_string(e.line) + ": ";
    FUZZ_CHECK(e.ToString().compare(0, prefix.size(), prefix) == 0, "ToString format");
  }

  return 0;
}
