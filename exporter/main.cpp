// outpost_exporter: Prometheus sidecar for outpostd / PowerMTA accounting files (docs/exporter.md).
//
// One ingest thread tails the accounting files and, every --state-interval and at shutdown, writes
// positions + counters in one atomic state-file snapshot, then publishes those counters to
// /metrics. SIGTERM/SIGINT stop it cleanly (final snapshot); a kill -9 loses nothing either:
// the next start resumes from the last snapshot and re-reads what came after it.
#include <prometheus/exposer.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "exporter/acct_counts.hpp"
#include "exporter/acct_tailer.hpp"
#include "exporter/exporter_collector.hpp"
#include "exporter/exporter_options.hpp"
#include "exporter/provider_map.hpp"
#include "exporter/state_file.hpp"
#include "exporter/status_source.hpp"

namespace {

using namespace outpost::exporter;

std::mutex g_mu;
std::condition_variable g_cv;
bool g_stop = false;

int Run(const ExporterOptions& opt) {
  std::string err;
  ProviderMap providers = ProviderMap::Defaults();
  if (!opt.provider_map.empty()) {
    auto m = ProviderMap::LoadFile(opt.provider_map, &err);
    if (!m) {
      std::cerr << "outpost_exporter: " << err << "\n";
      return 2;
    }
    providers = std::move(*m);
  }
  ProviderResolver resolver(providers);
  AcctCounts counts(providers, CountsLimits{opt.max_vmtas, opt.max_source_ips});
  TailerOptions topt;
  topt.patterns = opt.acct_paths;
  topt.from_start = opt.from_start;
  topt.close_grace = opt.close_grace;
  AcctTailer tailer(topt, counts, resolver);

  auto state = ReadStateFile(opt.state_file, &err);
  if (!state && !err.empty()) {
    std::cerr << "outpost_exporter: " << err << " (move it aside to start over)\n";
    return 2;
  }
  if (state) {
    if (!counts.FromJson(state->at("counts"), &err) ||
        !tailer.LoadPositions(state->at("files"), &err)) {
      std::cerr << "outpost_exporter: " << opt.state_file << ": " << err << "\n";
      return 2;
    }
  }

  auto collector = std::make_shared<ExporterCollector>(
      std::make_unique<HttpStatusSource>(opt.status_url, opt.status_timeout));
  collector->Publish(counts);
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(opt.listen, 2);
  } catch (const std::exception& e) {
    std::cerr << "outpost_exporter: cannot listen on " << opt.listen << ": " << e.what() << "\n";
    return 2;
  }
  exposer->RegisterCollectable(collector);
  auto ports = exposer->GetListeningPorts();
  std::string host = opt.listen.substr(0, opt.listen.rfind(':'));
  std::cerr << "outpost_exporter: listening on http://" << host << ":"
            << (ports.empty() ? 0 : ports[0]) << "/metrics" << std::endl;

  auto persist = [&]() {
    nlohmann::json snap = {
        {"version", 1}, {"files", tailer.SavePositions()}, {"counts", counts.ToJson()}};
    std::string werr;
    if (WriteStateFile(opt.state_file, snap, &werr)) {
      ++counts.health.state_writes;
    } else {
      ++counts.health.state_write_errors;
      std::cerr << "outpost_exporter: state write failed: " << werr << "\n";
    }
    collector->Publish(counts);
  };

  std::thread ingest([&]() {
    auto last_persist = std::chrono::steady_clock::now();
    for (;;) {
      bool more = false;
      tailer.Poll(&more);
      auto now = std::chrono::steady_clock::now();
      if (now - last_persist >= opt.state_interval) {
        persist();
        last_persist = now;
      }
      std::unique_lock<std::mutex> lock(g_mu);
      if (g_stop) break;
      if (!more) g_cv.wait_for(lock, opt.poll_interval, [] { return g_stop; });
      if (g_stop) break;
    }
    persist();
  });

  // Signals are handled synchronously here (blocked in every thread, see main()).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_stop = true;
  }
  g_cv.notify_all();
  ingest.join();
  std::cerr << "outpost_exporter: stopped" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string err;
  auto opt = ParseOptions(args, &err);
  if (!opt) {
    std::cerr << "outpost_exporter: " << err << "\n" << UsageText();
    return 2;
  }
  if (opt->help) {
    std::cout << UsageText();
    return 0;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return Run(*opt);
}
