// outpost-resolve: look up what delivery would, with outpostd's resolver, and print JSON.
//
//   outpost-resolve [--server ADDR:PORT] [--timeout-ms N] [--tries N] [--ttl-cap SECONDS]
//                   [--negative-ttl SECONDS] [--ipv6] [--repeat N] [--parallel N] mx|a|route NAME
//
// mx: the MX set (or implicit MX / null MX); a: the addresses; route: MX then each host's
// addresses, in delivery order. --repeat runs the lookup N times in sequence and --parallel asks
// N times at once per round (to see the cache and query sharing in "stats").
// Exit status: 0 ok, 1 permanent (nxdomain, null-mx), 75 temporary failure, 64 usage error.
#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mta/dns/resolver.hpp"

namespace {

using outpost::dns::AddressResult;
using outpost::dns::MxResult;
using outpost::dns::Resolver;
using outpost::dns::Status;
using outpost::dns::StatusName;
using Json = nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitPermanent = 1;
constexpr int kExitUsage = 64;
constexpr int kExitTempFail = 75;

int Usage(const std::string& why) {
  std::cerr << "outpost-resolve: " << why << "\n"
            << "usage: outpost-resolve [--server ADDR:PORT] [--timeout-ms N] [--tries N]\n"
            << "         [--ttl-cap SECONDS] [--negative-ttl SECONDS] [--ipv6] [--repeat N]\n"
            << "         [--parallel N] mx|a|route NAME\n";
  return kExitUsage;
}

bool ParseCount(const char* text, long min, long max, long* out) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) return false;
  *out = value;
  return true;
}

Json ToJson(const MxResult& r) {
  Json hosts = Json::array();
  for (const auto& h : r.hosts) hosts.push_back({{"preference", h.preference}, {"host", h.host}});
  return {{"status", StatusName(r.status)},
          {"hosts", hosts},
          {"implicit", r.implicit},
          {"ttl", r.ttl.count()},
          {"error", r.error}};
}

Json ToJson(const AddressResult& r) {
  return {{"status", StatusName(r.status)},
          {"addresses", r.addresses},
          {"ttl", r.ttl.count()},
          {"error", r.error}};
}

// route: the MX set, then each host's addresses in order; calls done with the whole answer.
void Route(Resolver& resolver, const std::string& name, std::function<void(Json, Status)> done) {
  resolver.ResolveMx(name, [&resolver, done](MxResult mx) {
    Json out = {{"mx", ToJson(mx)}, {"hosts", Json::array()}};
    if (mx.status != Status::kOk) {
      done(out, mx.status);
      return;
    }
    auto state = std::make_shared<Json>(std::move(out));
    auto remaining = std::make_shared<std::size_t>(mx.hosts.size());
    for (std::size_t i = 0; i < mx.hosts.size(); ++i) {
      (*state)["hosts"].push_back(
          {{"host", mx.hosts[i].host}, {"preference", mx.hosts[i].preference}});
      resolver.ResolveAddress(mx.hosts[i].host, [state, remaining, i, done](AddressResult a) {
        (*state)["hosts"][i]["addresses"] = ToJson(a);
        if (--*remaining == 0) done(*state, Status::kOk);
      });
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  outpost::dns::ResolverOptions options;
  long repeat = 1, parallel = 1;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    long value = 0;
    if (arg == "--server" && has_value) {
      options.server = argv[++i];
    } else if (arg == "--timeout-ms" && has_value && ParseCount(argv[++i], 1, 600000, &value)) {
      options.timeout = std::chrono::milliseconds{value};
    } else if (arg == "--tries" && has_value && ParseCount(argv[++i], 1, 10, &value)) {
      options.tries = static_cast<int>(value);
    } else if (arg == "--ttl-cap" && has_value && ParseCount(argv[++i], 0, 86400 * 7, &value)) {
      options.cache_ttl_cap = std::chrono::seconds{value};
    } else if (arg == "--negative-ttl" && has_value &&
               ParseCount(argv[++i], 0, 86400 * 7, &value)) {
      options.negative_ttl = std::chrono::seconds{value};
    } else if (arg == "--ipv6") {
      options.ipv6 = true;
    } else if (arg == "--repeat" && has_value && ParseCount(argv[++i], 1, 1000, &repeat)) {
    } else if (arg == "--parallel" && has_value && ParseCount(argv[++i], 1, 1000, &parallel)) {
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("bad option or value: " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return Usage("expected a command and a name");
  const std::string command = positional[0], name = positional[1];
  if (command != "mx" && command != "a" && command != "route") {
    return Usage("unknown command: " + command);
  }

  asio::io_context io;
  std::string error;
  std::unique_ptr<Resolver> resolver = outpost::dns::MakeAresResolver(io, options, &error);
  if (!resolver) {
    std::cerr << "outpost-resolve: " << error << "\n";
    return kExitUsage;
  }

  Json results = Json::array();
  Status last = Status::kTempFail;
  std::function<void(long)> round = [&](long left) {
    if (left == 0) return;
    auto pending = std::make_shared<long>(parallel);
    auto one_done = [&, pending, left](Json result, Status status) {
      results.push_back(std::move(result));
      last = status;
      if (--*pending == 0) round(left - 1);
    };
    for (long i = 0; i < parallel; ++i) {
      if (command == "mx") {
        resolver->ResolveMx(name, [one_done](MxResult r) { one_done(ToJson(r), r.status); });
      } else if (command == "a") {
        resolver->ResolveAddress(name,
                                 [one_done](AddressResult r) { one_done(ToJson(r), r.status); });
      } else {
        Route(*resolver, name, one_done);
      }
    }
  };
  round(repeat);
  io.run();

  const auto stats = resolver->Stats();
  Json out = {{"command", command},
              {"name", name},
              {"results", results},
              {"stats",
               {{"cache_entries", stats.cache_entries},
                {"cache_hits", stats.cache_hits},
                {"cache_misses", stats.cache_misses},
                {"queries", stats.queries},
                {"failures", stats.failures}}}};
  std::cout << out.dump() << "\n";
  if (last == Status::kOk) return kExitOk;
  return last == Status::kTempFail ? kExitTempFail : kExitPermanent;
}
