// outpost-load: an SMTP load generator. See load_options.hpp for the flags.
//
// Prints the summary (JSON with --json, human-readable otherwise) on stdout. Exit status: 0 when
// the run made progress, 1 when connection failures prevented any message from being accepted,
// 2 for bad flags.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/load/load_options.hpp"
#include "tools/load/load_runner.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fprintf(stderr,
                   "usage: outpost-load [--sessions N] [--messages N] [--duration D] [--size S]\n"
                   "  [--rcpts N] [--domains d:w,...] [--rate R] [--no-pipelining]\n"
                   "  [--msgs-per-conn N] [--from A] [--helo H] [--timeout D] [--ids-file F]\n"
                   "  [--json] HOST:PORT\n");
      return 0;
    }
  }
  std::string error;
  auto options = outpost::load::ParseLoadArgs(args, &error);
  if (!options) {
    std::fprintf(stderr, "outpost-load: %s\n", error.c_str());
    return 2;
  }
  outpost::load::LoadReport report = outpost::load::RunLoad(*options);
  std::string summary = options->json ? report.ToJson().dump(2) + "\n" : report.ToHuman();
  std::fputs(summary.c_str(), stdout);
  std::uint64_t connection_errors = 0;
  for (const char* kind : {"connect", "greeting", "resolve", "ehlo"}) {
    auto it = report.errors.find(kind);
    if (it != report.errors.end()) connection_errors += it->second;
  }
  bool no_progress = report.messages_accepted == 0;
  return (no_progress && connection_errors > 0) ? 1 : 0;
}
