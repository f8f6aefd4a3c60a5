// outpost_exporter: Prometheus sidecar for outpostd / PowerMTA accounting files (docs/exporter.md).
//
// One ingest thread tails the accounting files and, every --state-interval and at shutdown, writes
// positions + counters in one atomic state-file snapshot, then publishes those counters to
// /metrics. SIGTERM/SIGINT stop it cleanly (final snapshot); a kill -9 loses nothing either:
// the next start resumes from the last snapshot and re-reads what came after it.
#include <prometheus/exposer.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/provider_map.hpp"
#include "exporter/acct_counts.hpp"
#include "exporter/acct_tailer.hpp"
#include "exporter/exporter_collector.hpp"
#include "exporter/exporter_options.hpp"
#include "exporter/oneshot_summary.hpp"
#include "exporter/state_file.hpp"
#include "exporter/status_source.hpp"

namespace {

using namespace outpost::exporter;
using outpost::ProviderMap;
using outpost::ProviderResolver;

std::mutex g_mu;
std::condition_variable g_cv;
bool g_stop = false;

// --oneshot: read until every followed file is at its end, persist, print a JSON summary (and
// what was left unread: oneshot_summary.hpp).
template <typename WriteState>
int RunOneshot(AcctTailer& tailer, AcctCounts& counts, WriteState&& write_state) {
  auto total_records = [&counts]() {
    std::uint64_t n = 0;
    for (std::size_t t = 0; t < AcctCounts::kTypes; ++t) {
      n += counts.TotalOfType(static_cast<outpost::acct::RecordType>(t));
    }
    return n;
  };
  const std::uint64_t before = total_records();  // restored from the state file
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t bytes = 0;
  for (;;) {
    bool more = false;
    std::size_t got = tailer.Poll(&more);
    bytes += got;
    if (!more && got == 0) break;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_state();
  const std::uint64_t records = total_records();
  const std::uint64_t read_now = records - before;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const ExporterHealth& h = counts.health;
  // records/lines: totals including the state file's; the rest: this run.
  OneshotRun run;
  run.records = records;
  run.records_read = read_now;
  run.lines = h.lines_read;
  run.malformed_lines = h.malformed_lines;
  run.bytes = bytes;
  run.files = h.files_opened;
  run.seconds = secs;
  run.max_rss_kib = ru.ru_maxrss;
  run.unread = tailer.UnreadTails();
  std::cout << OneshotSummaryJson(run).dump() << std::endl;
  if (std::string unread = OneshotUnreadText(run); !unread.empty()) {
    std::cerr << unread << std::endl;
  }
  return 0;
}

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
  // One-shot: every file is complete, nothing is still being written: identify files at once.
  topt.close_grace = opt.oneshot ? std::chrono::milliseconds(0) : opt.close_grace;
  AcctTailer tailer(topt, counts, resolver);

  std::optional<nlohmann::json> state;
  if (!opt.state_file.empty()) state = ReadStateFile(opt.state_file, &err);
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

  auto write_state = [&]() {
    if (opt.state_file.empty()) return;
    nlohmann::json snap = {
        {"version", 1}, {"files", tailer.SavePositions()}, {"counts", counts.ToJson()}};
    std::string werr;
    if (WriteStateFile(opt.state_file, snap, &werr)) {
      ++counts.health.state_writes;
    } else {
      ++counts.health.state_write_errors;
      std::cerr << "outpost_exporter: state write failed: " << werr << "\n";
    }
  };
  if (opt.oneshot) return RunOneshot(tailer, counts, write_state);

  auto collector = std::make_shared<ExporterCollector>(std::make_unique<HttpStatusSource>(
      opt.status_url, opt.status_timeout, StatusMappingLimits{opt.top_queues, opt.max_vmtas}));
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

  // Persist, then serve: /metrics never shows a count that a crash could take back.
  auto persist = [&]() {
    write_state();
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
