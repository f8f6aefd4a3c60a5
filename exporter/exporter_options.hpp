// outpost_exporter's command line and config file.
//
// What it does: ParseOptions() reads flags; `--config FILE` reads the same settings from a file
// ("name value" or "name = value" per line, names as the flags without "--", '#' comments), and
// flags given on the command line win over the file. --acct-path may repeat (several globs).
// --oneshot reads the files once (from the state file's positions, or from their start with
// --from-start), writes the state file if one is given, prints a JSON summary and exits.
//
// Error policy: bad input returns an error string naming the flag/line (start-up only).
//
// Thread-safety: stateless functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace outpost::exporter {

struct ExporterOptions {
  std::vector<std::string> acct_paths;
  std::string status_url;
  std::string listen = "127.0.0.1:9469";
  std::string state_file;
  std::string provider_map;
  bool from_start = false;
  std::chrono::milliseconds state_interval{2000};
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds close_grace{5000};
  std::chrono::milliseconds status_timeout{2000};
  std::size_t max_vmtas = 100;
  std::size_t max_source_ips = 64;
  std::size_t top_queues = 20;  // status: outpost_top_queue_recipients, backoff queues
  bool oneshot = false;  // ingest what is there, print a JSON summary, exit (benchmarks, checks)
  bool help = false;
};

std::optional<ExporterOptions> ParseOptions(const std::vector<std::string>& args,
                                            std::string* error);
const char* UsageText();

}  // namespace outpost::exporter
