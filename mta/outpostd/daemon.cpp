#include "mta/outpostd/daemon.hpp"

#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "mta/acct/accounting_writer.hpp"
#include "mta/acct/outcome_record.hpp"
#include "mta/bus/bus.hpp"
#include "mta/config/config.hpp"
#include "mta/delivery/mime_downgrade_deliverer.hpp"
#include "mta/delivery/signing_deliverer.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/delivery/smtp_deliverer.hpp"
#include "mta/dkim/dkim.hpp"
#include "mta/dns/resolver.hpp"
#include "mta/log/log.hpp"
#include "mta/mgmt/bus_accounting_sink.hpp"
#include "mta/mgmt/management_plane.hpp"
#include "mta/queue/clock.hpp"
#include "mta/queue/queue_manager.hpp"
#include "mta/queue/queue_runner.hpp"
#include "mta/smtp/smtp_server.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::daemon {
namespace {

void PrintErrors(const std::vector<config::ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
}

std::shared_ptr<const config::Config> LoadOrReport(const std::string& path) {
  config::LoadResult result = config::LoadConfig(path);
  if (!result.errors.empty()) {
    PrintErrors(result.errors);
    std::fprintf(stderr, "outpostd: %zu error(s) in %s\n", result.errors.size(), path.c_str());
    return nullptr;
  }
  return result.config;
}

// The DKIM keys of `config`, loaded and checked once (dkim::SignerCache); null after printing
// each error (the domain-key's file:line, never key material).
std::shared_ptr<const dkim::SignerCache> PrepareSignersOrReport(const config::Config& config,
                                                                const std::string& path) {
  dkim::SignerCache::BuildResult built = dkim::SignerCache::Build(config);
  if (!built.errors.empty()) {
    PrintErrors(built.errors);
    std::fprintf(stderr, "outpostd: %zu error(s) in %s\n", built.errors.size(), path.c_str());
    return nullptr;
  }
  return built.cache;
}

spool::SpoolOptions SpoolOptionsFor(const config::Config& config) {
  spool::SpoolOptions options;
  options.dir = config.spool_dir;
  options.min_free_bytes = config.spool_min_free;
  options.segment_bytes = config.spool_segment_size;
  options.compaction_threshold = config.spool_compaction_threshold;
  options.compaction_rate = config.spool_compaction_rate;
  options.compaction_min_age = config.spool_compaction_min_age;
  return options;
}

// The value of the first `name:` header in the message's header section (unfolded, trimmed).
std::string HeaderValue(std::string_view data, std::string_view name) {
  std::size_t end_of_headers = data.find("\r\n\r\n");
  std::string_view headers = data.substr(0, end_of_headers);
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t eol = headers.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = headers.size();
    std::string_view line = headers.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() <= name.size() || line[name.size()] != ':') continue;
    bool match = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) !=
          std::tolower(static_cast<unsigned char>(name[i]))) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    std::string value(line.substr(name.size() + 1));
    // Continuation lines start with white space.
    while (pos < headers.size() && (headers[pos] == ' ' || headers[pos] == '\t')) {
      std::size_t next = headers.find("\r\n", pos);
      if (next == std::string_view::npos) next = headers.size();
      value += headers.substr(pos, next - pos);
      pos = next + 2;
    }
    std::size_t first = value.find_first_not_of(" \t");
    std::size_t last = value.find_last_not_of(" \t");
    return first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
  }
  return {};
}

bool WritePortFile(const std::string& path, const std::vector<std::string>& addresses,
                   const std::string& http_address = "") {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& a : addresses) out << "smtp " << a << "\n";
    if (!http_address.empty()) out << "http " << http_address << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

void LogRecovery(const spool::RecoveryReport& report) {
  for (const auto& problem : report.problems) OUTPOST_LOG(kError, "spool") << problem;
  OUTPOST_LOG(kInfo, "spool") << "recovered " << report.messages << " messages ("
                              << report.recipients << " recipients pending), " << report.damaged
                              << " damaged entries set aside, " << report.torn_tails
                              << " torn tails, " << report.segments_removed
                              << " empty segments removed";
}

}  // namespace

int CheckConfig(const std::string& config_path) {
  config::LoadResult result = config::LoadConfig(config_path);
  PrintErrors(result.errors);
  for (const auto& n : result.notices) std::fprintf(stderr, "%s (notice)\n", n.ToString().c_str());
  if (!result.errors.empty()) {
    std::fprintf(stderr, "%s: %s\n", config_path.c_str(), config::SummaryLine(result).c_str());
    return 1;
  }
  if (!PrepareSignersOrReport(*result.config, config_path)) return 1;
  std::printf("%s: configuration OK; %s\n", config_path.c_str(),
              config::SummaryLine(result).c_str());
  return 0;
}

int ListSpool(const std::string& config_path) {
  auto config = LoadOrReport(config_path);
  if (!config) return 1;
  std::string error;
  auto spool = spool::Spool::Open(SpoolOptionsFor(*config), &error);
  if (!spool) {
    std::fprintf(stderr, "outpostd: cannot open spool: %s\n", error.c_str());
    return 1;
  }
  std::uint64_t count = 0;
  spool::RecoveryReport report = spool->Recover([&](spool::RecoveredMessage&& message) {
    std::string data;
    std::string message_id;
    if (spool->ReadData(message.id, data)) message_id = HeaderValue(data, "Message-ID");
    nlohmann::json pending = nlohmann::json::array();
    for (std::size_t i = 0; i < message.envelope.recipients.size(); ++i) {
      if (i >= message.done_recipients.size() || !message.done_recipients[i]) {
        pending.push_back(message.envelope.recipients[i]);
      }
    }
    nlohmann::json line = {{"id", message.envelope.id},
                           {"message_id", message_id},
                           {"mail_from", message.envelope.mail_from},
                           {"recipients", pending},
                           {"vmta", message.envelope.vmta},
                           {"job_id", message.envelope.job_id},
                           {"time_queued", message.envelope.time_queued},
                           {"size", message.data_size}};
    std::printf("%s\n", line.dump().c_str());
    ++count;
  });
  for (const auto& problem : report.problems) std::fprintf(stderr, "%s\n", problem.c_str());
  nlohmann::json summary = {{"summary",
                             {{"messages", report.messages},
                              {"recipients", report.recipients},
                              {"damaged", report.damaged},
                              {"torn_tails", report.torn_tails}}}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

int Run(const Options& options) {
  auto config = LoadOrReport(options.config_path);
  if (!config) return 1;
  auto signers = PrepareSignersOrReport(*config, options.config_path);
  if (!signers) return 1;

  log::Level level = log::Level::kInfo;
  log::ParseLevel(config->log_level, level);
  std::string error;
  if (!log::Init(config->log_file, level, &error)) {
    std::fprintf(stderr, "outpostd: cannot open log file: %s\n", error.c_str());
    return 1;
  }
  OUTPOST_LOG(kInfo, "main") << "outpostd " << OUTPOST_VERSION << " starting, config "
                             << options.config_path;

  auto spool = spool::Spool::Open(SpoolOptionsFor(*config), &error);
  if (!spool) {
    OUTPOST_LOG(kError, "main") << "cannot open spool " << config->spool_dir << ": " << error;
    return 1;
  }
  auto accounting = acct::AccountingLog::Open(config->acct_files, &error);
  if (!accounting) {
    OUTPOST_LOG(kError, "main") << "cannot open accounting file: " << error;
    return 1;
  }

  asio::io_context io(1);

  // The delivery engine: DNS, the SMTP client behind the Deliverer seam, the scheduler.
  dns::ResolverOptions resolver_options;
  if (config->dns_server) {
    const auto& dns_server = *config->dns_server;
    const bool v6 = dns_server.host.find(':') != std::string::npos;
    resolver_options.server = (v6 ? "[" + dns_server.host + "]" : dns_server.host) + ":" +
                              std::to_string(dns_server.port);
  }
  resolver_options.cache_size = config->dns_cache_size;
  resolver_options.cache_ttl_cap = config->dns_cache_ttl;
  auto resolver = dns::MakeAresResolver(io, resolver_options, &error);
  if (!resolver) {
    OUTPOST_LOG(kError, "main") << "cannot start the DNS resolver: " << error;
    return 1;
  }
  queue::SystemClock clock;
  delivery::SmtpDelivererOptions deliverer_options;
  // Servers whose TLS handshake failed within the hour, kept across restarts (beside the spool's
  // segments; the spool ignores it).
  deliverer_options.tls_memory_path = config->spool_dir + "/tls-failures";
  delivery::SmtpDeliverer smtp_deliverer(io, *resolver, clock, deliverer_options);
  // DKIM: signs each transaction's bytes just before they go on the wire (signing_deliverer.hpp).
  delivery::SigningDeliverer signing_deliverer(smtp_deliverer, config, signers);
  // 8-bit mail for servers without 8BITMIME: converted (or bounced) before it is signed
  // (mime_downgrade_deliverer.hpp).
  delivery::MimeDowngradeDeliverer deliverer(signing_deliverer);
  acct::AccountingLogSink accounting_sink(accounting.get());
  // The metrics bus; delivery outcomes reach it through the accounting sink (d/b/t/tq records).
  bus::SteadyTimeSource bus_time;
  bus::Registry metrics_bus(bus_time);
  mgmt::BusAccountingSink bus_sink(metrics_bus, accounting_sink);
  queue::QueueManagerOptions queue_options;
  queue_options.host_name = config->host_name;
  if (queue_options.host_name.empty()) {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) queue_options.host_name = name;
  }
  queue_options.max_queued_recipients = config->max_queued_recipients;
  if (config->queue_cache_size != 0) queue_options.max_active_recipients = config->queue_cache_size;
  queue::QueueManager queues(config, queue_options, clock, *spool, bus_sink, deliverer);
  queue::QueueRunner runner(io, queues);

  // Recovery: every intact entry goes back to its queues (scheduled tier, due now).
  LogRecovery(spool->Recover([&](spool::RecoveredMessage&& message) { queues.Recover(message); }));
  spool->Start();

  smtp::SmtpServer server(io, config, *spool, accounting.get());
  server.SetAdmissionCheck([&](std::size_t recipients) { return queues.Admit(recipients); });
  server.SetAcceptedHandler([&](spool::SpoolId id, const spool::Envelope& envelope,
                                std::uint64_t size) { queues.Enqueue(id, envelope, size); });
  if (!server.Start(&error)) {
    OUTPOST_LOG(kError, "main") << "cannot start SMTP listener: " << error;
    spool->Stop();
    return 1;
  }
  runner.Start();
  for (const auto& address : server.BoundAddresses()) {
    OUTPOST_LOG(kInfo, "main") << "smtp listener bound " << address;
  }

  // The management plane (HTTP API, web console, reload). Its hooks run on the io thread.
  mgmt::ControlHooks hooks;
  hooks.read = [&] {
    mgmt::DaemonReadings r;
    r.smtp = server.Stats();
    r.spool = spool->Stats();
    r.dns = resolver->Stats();
    r.queues = queues.Snapshot();
    const std::uint64_t ceiling = queue_options.max_queued_recipients;
    r.admitting = ceiling == 0 || queues.queued_recipients() < ceiling;
    for (const acct::WriterStats& w : accounting->Stats()) {
      r.acct_buffered_bytes += w.buffered_bytes;
      r.acct_write_errors += w.write_errors;
    }
    r.acct_writable = accounting->Durable();
    r.dkim = signing_deliverer.Stats();
    r.delivery = smtp_deliverer.Stats();
    r.mime = deliverer.Stats();
    return r;
  };
  hooks.pause = [&](const std::string& q) { return queues.Pause(q); };
  hooks.resume = [&](const std::string& q) { return queues.Resume(q); };
  hooks.set_mode = [&](const std::string& q, queue::QueueMode m) { return queues.SetMode(q, m); };
  hooks.remove = [&](const std::string& q, bool hold, std::string* error) {
    if (hold) {
      *error =
          "hold=1 is not supported: this build has no hold store; delete without hold "
          "bounces the queued recipients";
      return -1;
    }
    return queues.Delete(q, error);
  };
  // Reload loads the DKIM keys too: a bad key refuses the reload (file:line) like any config
  // error; the cache built here is the one apply_config installs.
  std::shared_ptr<const dkim::SignerCache> reloaded_signers;
  hooks.load_config = [&] {
    config::LoadResult loaded = config::LoadConfig(options.config_path);
    if (loaded.errors.empty() && loaded.config) {
      dkim::SignerCache::BuildResult built = dkim::SignerCache::Build(*loaded.config);
      reloaded_signers = built.cache;
      if (!built.errors.empty()) {
        loaded.errors = std::move(built.errors);
        loaded.config = nullptr;
      }
    }
    return loaded;
  };
  hooks.apply_config = [&](std::shared_ptr<const config::Config> reloaded) {
    // XXX: listeners, spool, accounting files and the management port keep their start-up
    // settings until restart.
    log::Level new_level = log::Level::kInfo;
    log::ParseLevel(reloaded->log_level, new_level);
    log::SetLevel(new_level);
    server.SetConfig(reloaded);
    queues.SetConfig(reloaded);
    signing_deliverer.SetConfig(reloaded, std::move(reloaded_signers));
  };
  mgmt::ManagementOptions mgmt_options;
  mgmt_options.version = OUTPOST_VERSION;
  mgmt_options.spool_dir = config->spool_dir;
  mgmt::ManagementPlane plane(
      metrics_bus, config, [&](std::function<void()> task) { asio::post(io, std::move(task)); },
      hooks, mgmt_options);
  if (config->http_mgmt) {
    if (!plane.Start(*config->http_mgmt, &error)) {
      OUTPOST_LOG(kError, "main") << error;
      server.Stop();
      spool->Stop();
      return 1;
    }
    OUTPOST_LOG(kInfo, "main") << "management http bound " << plane.BoundAddress();
  }
  if (!options.port_file.empty() &&
      !WritePortFile(options.port_file, server.BoundAddresses(), plane.BoundAddress())) {
    OUTPOST_LOG(kError, "main") << "cannot write port file " << options.port_file;
    server.Stop();
    spool->Stop();
    return 1;
  }

  // Housekeeping once a second: log rotation check, accounting flush and rotation.
  asio::steady_timer tick(io);
  std::function<void()> schedule_tick = [&] {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([&](std::error_code ec) {
      if (ec) return;
      log::CheckRotation();
      accounting->Tick(std::chrono::system_clock::now());
      plane.Tick();
      schedule_tick();
    });
  };
  schedule_tick();

  asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](std::error_code ec, int signo) {
    if (ec) return;
    OUTPOST_LOG(kInfo, "main") << "signal " << signo << ": shutting down";
    server.Stop();
    queues.Stop();
    runner.Stop();
    tick.cancel();
    io.stop();
  });

  asio::signal_set control_signals(io, SIGHUP, SIGUSR1);
  std::function<void()> wait_control = [&] {
    control_signals.async_wait([&](std::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGUSR1) {
        log::Reopen();
        OUTPOST_LOG(kInfo, "main") << "log file reopened";
      } else {
        // The one reload path, shared with POST /api/reload: a config with errors is refused
        // (logged, counted on the bus, shown in /status.json) and the running one stays.
        if (plane.Reload().ok) {
          OUTPOST_LOG(kInfo, "config") << "configuration reloaded from " << options.config_path;
        }
      }
      wait_control();
    });
  };
  wait_control();

  io.run();
  plane.Stop();

  accounting->Flush();
  spool->Stop();
  OUTPOST_LOG(kInfo, "main") << "outpostd stopped";
  return 0;
}

}  // namespace outpost::daemon
