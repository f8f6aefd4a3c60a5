// outpost-load's command line: what load to generate and against which server.
//
//   outpost-load [options] HOST:PORT        (or --target HOST:PORT)
//   Every option with a value is written `--flag VALUE` or `--flag=VALUE`.
//   --sessions N        concurrent SMTP sessions (default 10)
//   --messages N        total messages to attempt (default 1000; unlimited with --duration alone)
//   --duration D        stop starting messages after D (e.g. 30s, 2m, 500ms)
//   --size S            message size in bytes, suffixes k/m (default 4k)
//   --rcpts N           recipients per message (default 1)
//   --domains MIX       recipient domain mix, "gmail.com:40,outlook.com:30,example.org:30"
//                       (weights; default example.com:1); picked by smooth weighted round robin,
//                       so the mix is exact and deterministic, not random
//   --rate R            at most R messages started per second overall (default unlimited)
//   --no-pipelining     one command per round trip even if the server offers PIPELINING
//   --msgs-per-conn N   QUIT and reconnect after N messages (default 0: keep the connection)
//   --from ADDR         envelope sender (default load@outpost-load.invalid)
//   --helo NAME         EHLO name (default outpost-load.invalid)
//   --timeout D         per-reply timeout (default 30s)
//   --ids-file FILE     append the Message-ID of every message answered 250 after DATA
//   --json              print the summary as JSON (default: human-readable)
//
// Error policy: ParseLoadArgs returns nullopt and a message for any bad flag or value (the tool
// exits 2). Thread-safety: value types and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::load {

struct DomainWeight {
  std::string domain;
  std::uint32_t weight = 1;
};

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 25;
  std::uint32_t sessions = 10;
  std::optional<std::uint64_t> messages;  // unset: 1000, or unlimited when duration is set
  std::optional<std::chrono::milliseconds> duration;
  std::uint64_t size = 4096;
  std::uint32_t rcpts = 1;
  std::vector<DomainWeight> domains{{"example.com", 1}};
  double rate = 0;  // messages per second; 0: unlimited
  bool pipelining = true;
  std::uint64_t msgs_per_conn = 0;
  std::string from = "load@outpost-load.invalid";
  std::string helo = "outpost-load.invalid";
  std::chrono::milliseconds timeout{30'000};
  std::string ids_file;
  bool json = false;

  // The message budget after defaults: nullopt means "until the duration ends".
  std::optional<std::uint64_t> MessageBudget() const;
};

std::optional<LoadOptions> ParseLoadArgs(const std::vector<std::string>& args, std::string* error);
// "4096", "4k", "1m" -> bytes.
std::optional<std::uint64_t> ParseSize(std::string_view text);
// "30s", "500ms", "2m" -> duration.
std::optional<std::chrono::milliseconds> ParseLoadDuration(std::string_view text);
// "a.com:40,b.com:60" (a weight defaults to 1).
std::optional<std::vector<DomainWeight>> ParseDomainMix(std::string_view text);

// Smooth weighted round robin over a domain mix: over any run of sum(weights) picks each domain
// is picked exactly `weight` times, interleaved. Thread-safety: not thread-safe.
class DomainPicker {
 public:
  explicit DomainPicker(std::vector<DomainWeight> mix);
  const std::string& Next();

 private:
  std::vector<DomainWeight> mix_;
  std::vector<std::int64_t> current_;
  std::int64_t total_ = 0;
};

}  // namespace outpost::load
