// outpost-isp-sim: an SMTP sink scripted per recipient domain, for tests and benchmarks.
//
//   outpost-isp-sim --config FILE [--port-file FILE] [--maildir DIR] [--stats-file FILE]
//
// At start-up it prints one JSON line {"smtp":"HOST:PORT","stats":"HOST:PORT"} on stdout (and
// writes it atomically to --port-file), so tests can use port 0. GET /stats on the stats port
// returns the counters (sim_stats.hpp); SIGUSR1 writes them to --stats-file, and so does a clean
// exit on SIGTERM/SIGINT. Exit status: 0 after a signal, 2 for bad flags or configuration, 1 when
// a listener cannot be bound.
#include <unistd.h>

#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "tools/isp-sim/sim_config.hpp"
#include "tools/isp-sim/smtp_sink.hpp"
#include "tools/isp-sim/stats_http.hpp"

namespace {

using outpost::isp_sim::SimConfig;

void Usage() {
  std::fprintf(stderr,
               "usage: outpost-isp-sim --config FILE [--port-file FILE] [--maildir DIR] "
               "[--stats-file FILE]\n");
}

bool WriteAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string EndpointText(const asio::ip::tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, port_file, maildir, stats_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config") {
      ok = value(&config_path);
    } else if (arg == "--port-file") {
      ok = value(&port_file);
    } else if (arg == "--maildir") {
      ok = value(&maildir);
    } else if (arg == "--stats-file") {
      ok = value(&stats_file);
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      ok = false;
    }
    if (!ok) {
      Usage();
      return 2;
    }
  }
  if (config_path.empty()) {
    Usage();
    return 2;
  }
  std::string error;
  auto config = SimConfig::LoadFile(config_path, &error);
  if (!config) {
    std::fprintf(stderr, "outpost-isp-sim: %s\n", error.c_str());
    return 2;
  }
  outpost::isp_sim::Endpoint stats_endpoint = config->stats_listen;

  asio::io_context io;
  outpost::isp_sim::SmtpSink sink(io, std::move(*config), maildir);
  outpost::isp_sim::StatsHttpServer http(io, [&sink] { return sink.stats().ToJson().dump(); });
  if (!sink.Listen(&error) || !http.Listen(stats_endpoint, &error)) {
    std::fprintf(stderr, "outpost-isp-sim: %s\n", error.c_str());
    return 1;
  }
  sink.Start();
  http.Start();

  auto write_stats = [&] {
    if (stats_file.empty()) return;
    if (!WriteAtomically(stats_file, sink.stats().ToJson().dump(2) + "\n")) {
      std::fprintf(stderr, "outpost-isp-sim: cannot write %s\n", stats_file.c_str());
    }
  };

  asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    sink.Stop();
    http.Stop();
    write_stats();
    io.stop();
  });
  asio::signal_set dump_signal(io, SIGUSR1);
  std::function<void(const std::error_code&, int)> on_dump = [&](const std::error_code& ec, int) {
    if (ec) return;
    write_stats();
    dump_signal.async_wait(on_dump);
  };
  dump_signal.async_wait(on_dump);

  std::string ports = "{\"smtp\":\"" + EndpointText(sink.LocalEndpoint()) + "\",\"stats\":\"" +
                      EndpointText(http.LocalEndpoint()) + "\"}\n";
  std::fputs(ports.c_str(), stdout);
  std::fflush(stdout);
  if (!port_file.empty() && !WriteAtomically(port_file, ports)) {
    std::fprintf(stderr, "outpost-isp-sim: cannot write %s\n", port_file.c_str());
    return 1;
  }
  io.run();
  return 0;
}
