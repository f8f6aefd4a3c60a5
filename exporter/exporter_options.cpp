#include "exporter/exporter_options.hpp"

#include <charconv>
#include <fstream>
#include <map>
#include <set>

namespace outpost::exporter {
namespace {

const std::set<std::string> kValueFlags = {
    "acct-path", "status-url",     "listen",        "state-file",  "provider-map",
    "config",    "state-interval", "poll-interval", "close-grace", "status-timeout",
    "max-vmtas", "max-source-ips", "top-queues"};
const std::set<std::string> kBoolFlags = {"from-start", "oneshot", "help"};

bool ParseSeconds(const std::string& v, std::chrono::milliseconds* out) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size() || d < 0.01 || d > 86400) return false;
  *out = std::chrono::milliseconds(static_cast<long long>(d * 1000));
  return true;
}

bool ParseCount(const std::string& v, std::size_t* out) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 10000) return false;
  *out = n;
  return true;
}

bool Apply(ExporterOptions& o, const std::string& name, const std::string& value,
           std::string* error) {
  auto bad = [&](const char* what) {
    *error = "--" + name + ": " + what + " (got \"" + value + "\")";
    return false;
  };
  if (name == "acct-path") {
    if (value.empty()) return bad("needs a path or glob");
    o.acct_paths.push_back(value);
  } else if (name == "status-url") {
    if (!value.empty() && value.rfind("http://", 0) != 0) return bad("must start with http://");
    o.status_url = value;
  } else if (name == "listen") {
    auto colon = value.rfind(':');
    if (colon == std::string::npos || colon + 1 == value.size()) return bad("expected ADDR:PORT");
    o.listen = value;
  } else if (name == "state-file") {
    if (value.empty()) return bad("needs a file path");
    o.state_file = value;
  } else if (name == "provider-map") {
    o.provider_map = value;
  } else if (name == "state-interval") {
    if (!ParseSeconds(value, &o.state_interval)) return bad("expected seconds (0.01..86400)");
  } else if (name == "poll-interval") {
    if (!ParseSeconds(value, &o.poll_interval)) return bad("expected seconds (0.01..86400)");
  } else if (name == "close-grace") {
    if (!ParseSeconds(value, &o.close_grace)) return bad("expected seconds (0.01..86400)");
  } else if (name == "status-timeout") {
    if (!ParseSeconds(value, &o.status_timeout)) return bad("expected seconds (0.01..86400)");
  } else if (name == "max-vmtas") {
    if (!ParseCount(value, &o.max_vmtas)) return bad("expected a count 1..10000");
  } else if (name == "max-source-ips") {
    if (!ParseCount(value, &o.max_source_ips)) return bad("expected a count 1..10000");
  } else if (name == "top-queues") {
    if (!ParseCount(value, &o.top_queues)) return bad("expected a count 1..10000");
  } else if (name == "from-start") {
    if (value != "true" && value != "false" && value != "yes" && value != "no") {
      return bad("expected true or false");
    }
    o.from_start = value == "true" || value == "yes";
  } else if (name == "oneshot") {
    if (value != "true" && value != "false" && value != "yes" && value != "no") {
      return bad("expected true or false");
    }
    o.oneshot = value == "true" || value == "yes";
  } else if (name == "help") {
    o.help = true;
  } else {
    *error = "unknown option --" + name;
    return false;
  }
  return true;
}

bool ReadConfigFile(const std::string& path, std::vector<std::pair<std::string, std::string>>* kv,
                    std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "--config: cannot read " + path;
    return false;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto h = line.find('#'); h != std::string::npos) line.erase(h);
    auto trim = [](std::string s) {
      auto b = s.find_first_not_of(" \t\r");
      auto e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty()) continue;
    auto sep = line.find_first_of(" \t=");
    std::string name = trim(line.substr(0, sep));
    std::string value = sep == std::string::npos ? "true" : trim(line.substr(sep + 1));
    if (!value.empty() && value[0] == '=') value = trim(value.substr(1));
    if (!kValueFlags.count(name) && !kBoolFlags.count(name)) {
      *error = path + ":" + std::to_string(lineno) + ": unknown setting \"" + name + "\"";
      return false;
    }
    kv->emplace_back(name, value);
  }
  return true;
}

}  // namespace

const char* UsageText() {
  return "usage: outpost_exporter --acct-path PATH_OR_GLOB [--acct-path ...] --state-file FILE\n"
         "         [--listen ADDR:PORT] [--status-url http://HOST:PORT/PATH]\n"
         "         [--provider-map FILE] [--from-start] [--config FILE]\n"
         "         [--state-interval SECONDS] [--poll-interval SECONDS] [--close-grace SECONDS]\n"
         "         [--status-timeout SECONDS] [--top-queues N] [--max-vmtas N] [--max-source-ips "
         "N]\n"
         "       outpost_exporter --oneshot --acct-path ... [--from-start] [--state-file FILE]\n"
         "         (ingest what the files hold now, print a JSON summary, exit)\n";
}

std::optional<ExporterOptions> ParseOptions(const std::vector<std::string>& args,
                                            std::string* error) {
  std::vector<std::pair<std::string, std::string>> cli;
  std::string config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      *error = "unexpected argument \"" + a + "\"";
      return std::nullopt;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (kBoolFlags.count(name)) {
      cli.emplace_back(name, inline_value ? value : "true");
      continue;
    }
    if (!kValueFlags.count(name)) {
      *error = "unknown option --" + name;
      return std::nullopt;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        *error = "--" + name + " needs a value";
        return std::nullopt;
      }
      value = args[++i];
    }
    if (name == "config") {
      config = value;
    } else {
      cli.emplace_back(name, value);
    }
  }
  ExporterOptions o;
  std::vector<std::pair<std::string, std::string>> merged;
  if (!config.empty()) {
    if (!ReadConfigFile(config, &merged, error)) return std::nullopt;
    // A flag on the command line replaces the file's setting (all acct-path lines at once).
    std::set<std::string> on_cli;
    for (auto& [n, v] : cli) on_cli.insert(n);
    std::erase_if(merged, [&](const auto& kv) { return on_cli.count(kv.first) > 0; });
  }
  merged.insert(merged.end(), cli.begin(), cli.end());
  for (auto& [n, v] : merged) {
    if (!Apply(o, n, v, error)) return std::nullopt;
  }
  if (o.help) return o;
  if (o.acct_paths.empty()) {
    *error = "--acct-path is required";
    return std::nullopt;
  }
  if (o.state_file.empty() && !o.oneshot) {
    *error = "--state-file is required (positions and counters persist there)";
    return std::nullopt;
  }
  return o;
}

}  // namespace outpost::exporter
