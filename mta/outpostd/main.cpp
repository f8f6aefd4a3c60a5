// outpostd: the Outpost MTA daemon. Runs in the foreground; see daemon.hpp.
#include <cstdio>
#include <cstring>
#include <string>

#include "mta/outpostd/daemon.hpp"

namespace {

void Usage(FILE* out) {
  std::fputs(
      "usage: outpostd --config FILE [--port-file FILE]   run in the foreground\n"
      "       outpostd --check-config FILE                 validate, print every error\n"
      "       outpostd --config FILE --list-spool          list spooled messages (daemon stopped)\n"
      "       outpostd --version\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  outpost::daemon::Options options;
  std::string check_path;
  bool list_spool = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "outpostd: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config") {
      options.config_path = value("--config");
    } else if (arg == "--check-config") {
      check_path = value("--check-config");
    } else if (arg == "--port-file") {
      options.port_file = value("--port-file");
    } else if (arg == "--list-spool") {
      list_spool = true;
    } else if (arg == "--version") {
      std::printf("outpostd %s\n", OUTPOST_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "outpostd: unknown argument '%s'\n", arg.c_str());
      Usage(stderr);
      return 2;
    }
  }
  if (!check_path.empty()) return outpost::daemon::CheckConfig(check_path);
  if (options.config_path.empty()) {
    Usage(stderr);
    return 2;
  }
  if (list_spool) return outpost::daemon::ListSpool(options.config_path);
  return outpost::daemon::Run(options);
}
