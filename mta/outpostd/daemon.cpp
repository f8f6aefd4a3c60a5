#include "mta/outpostd/daemon.hpp"

#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "common/clock.hpp"
#include "common/invariant.hpp"
#include "common/strings.hpp"
#include "common/time_format.hpp"
#include "mta/acct/accounting_writer.hpp"
#include "mta/acct/feed_sinks.hpp"
#include "mta/acct/outcome_record.hpp"
#include "mta/bus/bus.hpp"
#include "mta/config/config.hpp"
#include "mta/delivery/mime_downgrade_deliverer.hpp"
#include "mta/delivery/signing_deliverer.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/delivery/smtp_deliverer.hpp"
#include "mta/delivery/work_pool.hpp"
#include "mta/dkim/dkim.hpp"
#include "mta/dns/resolver.hpp"
#include "mta/log/log.hpp"
#include "mta/mgmt/bus_accounting_sink.hpp"
#include "mta/mgmt/management_plane.hpp"
#include "mta/outpostd/privileges.hpp"
#include "mta/queue/queue_manager.hpp"
#include "mta/queue/queue_runner.hpp"
#include "mta/returnpath/processor.hpp"
#include "mta/returnpath/suppressing_deliverer.hpp"
#include "mta/returnpath/suppression_list.hpp"
#include "mta/returnpath/suppression_sink.hpp"
#include "mta/smtp/pickup_dir.hpp"
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
  options.sync_new_messages = config.sync_msg_create;
  return options;
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

suppression::Expiry ExpiryOf(const config::Config& config) {
  suppression::Expiry expiry;
  expiry.seconds[static_cast<int>(suppression::Kind::kComplaint)] =
      config.suppression_complaint_expire.count();
  expiry.seconds[static_cast<int>(suppression::Kind::kHardBounce)] =
      config.suppression_hard_bounce_expire.count();
  expiry.seconds[static_cast<int>(suppression::Kind::kManual)] =
      config.suppression_manual_expire.count();
  return expiry;
}

// The refusal of a suppressed recipient at RCPT ("" when not listed).
std::string SuppressedReply(suppression::SuppressionList& list, const std::string& recipient) {
  const std::optional<suppression::Entry> entry = list.Suppresses(recipient);
  if (!entry) return "";
  const std::string date = timefmt::FormatAcctTimeUtc(entry->added).substr(0, 10);
  return "<" + recipient + "> is on the suppression list (" + KindName(entry->kind) + " since " +
         date + "); not sent";
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

namespace {

// The running daemon. Members are declared in construction order: each is built from the ones
// above it, so the compiler destroys them in the reverse order. Components that can only be
// built after a fallible step are optionals, emplaced by the step that makes them; a failed step
// returns false after logging what failed, and the destructor stops whatever was started (so no
// error path repeats the unwinding).
class Daemon {
 public:
  explicit Daemon(const Options& options) : options_(options) {}
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  int Run();

 private:
  bool LoadConfiguration();  // config, DKIM keys, log
  bool OpenStorage();        // spool (locked), accounting files, the suppression list
  bool OpenSuppressions();
  bool StartDelivery();      // DNS, deliverers, bus, scheduler; recovery; the spool's committer
  bool StartListeners();     // SMTP
  bool StartPickup();        // the pickup directories (as the user outpostd stays)
  bool StartManagement();    // HTTP API and console
  bool DropPrivileges();     // run-as-root: give up root now that everything is bound and open
  bool StartFeeds();         // the accounting webhooks and pipes (after the drop: no root child)
  bool AnnounceReady();      // the port file
  void StartHousekeeping();  // the one-second tick and the signals
  mgmt::DaemonReadings Read();
  void ReadFeeds(mgmt::DaemonReadings& r) const;
  mgmt::ControlHooks MakeHooks();
  std::string RunAlertAction(const mgmt::ActionStep& step);
  config::LoadResult LoadForReload();
  void ApplyConfig(std::shared_ptr<const config::Config> reloaded);
  void ScheduleTick();
  void WaitControlSignal();

  const Options options_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const dkim::SignerCache> signers_;
  std::shared_ptr<const dkim::SignerCache> reloaded_signers_;  // built by LoadForReload
  outpost::SystemClock clock_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<acct::AccountingLog> accounting_;
  // The accounting webhooks and pipes (acct_feed.hpp), each on its own thread.
  std::vector<std::unique_ptr<acct::FeedRunner>> feeds_;
  // suppression-list yes: the addresses refused at RCPT (null when off).
  std::unique_ptr<suppression::SuppressionList> suppressions_;
  asio::io_context io_{1};

  // The delivery engine: DNS, the SMTP client behind the Deliverer seam, the scheduler.
  std::unique_ptr<dns::Resolver> resolver_;
  std::optional<delivery::SmtpDeliverer> smtp_deliverer_;
  // The worker threads that make DKIM signatures off the io thread (queue-processing-threads);
  // results come back to the io thread through asio::post (work_pool.hpp).
  std::optional<delivery::WorkPool> signing_pool_;
  // DKIM: signs each transaction's bytes just before they go on the wire (signing_deliverer.hpp).
  std::optional<delivery::SigningDeliverer> signing_deliverer_;
  // 8-bit mail for servers without 8BITMIME: converted (or bounced) before it is signed
  // (mime_downgrade_deliverer.hpp).
  std::optional<delivery::MimeDowngradeDeliverer> deliverer_;
  // Queued mail for a recipient listed since is not sent (suppressing_deliverer.hpp).
  std::optional<returnpath::SuppressingDeliverer> suppressing_deliverer_;
  std::optional<acct::AccountingLogSink> accounting_sink_;
  // The metrics bus; delivery outcomes reach it through the accounting sink (d/b/t/tq records).
  bus::Registry metrics_bus_{clock_};
  // Hard bounces among the outcomes go on the suppression list (when it is kept).
  std::optional<returnpath::SuppressionSink> suppression_sink_;
  std::optional<mgmt::BusAccountingSink> bus_sink_;
  queue::QueueManagerOptions queue_options_;
  std::optional<queue::QueueManager> queues_;
  std::optional<queue::QueueRunner> runner_;
  // The return path: reports sent to a processor's addresses are read and recorded, not queued.
  std::optional<returnpath::Processor> returnpath_;

  std::optional<smtp::SmtpServer> server_;
  // pickup DIR BADDIR: files injected through server_->Submit (null without `pickup`).
  std::optional<smtp::PickupWatcher> pickup_;
  std::optional<mgmt::ManagementPlane> plane_;
  asio::steady_timer tick_{io_};
  std::uint64_t ticks_ = 0;
  // Expired suppression entries leave memory every ten minutes (lookups ignore them at once).
  static constexpr std::uint64_t kSuppressionPurgeTicks = 600;
  asio::signal_set stop_signals_{io_, SIGTERM, SIGINT};
  asio::signal_set control_signals_{io_, SIGHUP, SIGUSR1};
};

Daemon::~Daemon() {
  // Every step is safe when its part was never started or is already stopped.
  if (plane_) plane_->Stop();
  if (pickup_) pickup_->Stop();
  if (server_) server_->Stop();
  if (returnpath_) returnpath_->Stop();
  if (signing_pool_) signing_pool_->Stop();
  if (accounting_) accounting_->Flush();
  feeds_.clear();
  if (suppressions_) suppressions_->Sync();
  if (spool_) spool_->Stop();
  if (config_) {
    OUTPOST_LOG(kInfo, "main") << "outpostd stopped";
  }
}

bool Daemon::LoadConfiguration() {
  config_ = LoadOrReport(options_.config_path);
  if (!config_) return false;
  signers_ = PrepareSignersOrReport(*config_, options_.config_path);
  if (!signers_) return false;
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config_->log_level, level);
  std::string error;
  if (!log::Init(config_->log_file, level, &error)) {
    std::fprintf(stderr, "outpostd: cannot open log file: %s\n", error.c_str());
    return false;
  }
  SetInvariantReporter(
      [](std::string_view message) { log::Write(log::Level::kError, "invariant", message); });
  OUTPOST_LOG(kInfo, "main") << "outpostd " << OUTPOST_VERSION << " starting, config "
                             << options_.config_path;
  return true;
}

bool Daemon::OpenStorage() {
  std::string error;
  spool_ = spool::Spool::Open(SpoolOptionsFor(*config_), &error);
  if (!spool_) {
    OUTPOST_LOG(kError, "main") << "cannot open spool " << config_->spool_dir << ": " << error;
    return false;
  }
  if (!config_->sync_msg_create) {
    OUTPOST_LOG(kWarning, "spool")
        << "sync-msg-create is off: new messages are not synced to disk before the 250 reply; "
           "mail already accepted may be lost if the machine crashes or loses power";
  }
  if (!acct::PrepareFeeds(*config_, &error)) {
    OUTPOST_LOG(kError, "main") << error;
    return false;
  }
  accounting_ = acct::AccountingLog::Open(config_->acct_files, &error);
  if (!accounting_) {
    OUTPOST_LOG(kError, "main") << "cannot open accounting file: " << error;
    return false;
  }

  return !config_->suppression_list || OpenSuppressions();
}

bool Daemon::OpenSuppressions() {
  suppression::Options options;
  options.path = config_->spool_dir + "/suppression.log";
  options.max_entries = config_->suppression_max_entries;
  options.expiry = ExpiryOf(*config_);
  suppression::OpenReport report;
  std::string error;
  suppressions_ = suppression::SuppressionList::Open(options, clock_, &report, &error);
  if (!suppressions_) {
    OUTPOST_LOG(kError, "main") << "cannot open the suppression list: " << error;
    return false;
  }
  for (const std::string& problem : report.problems) OUTPOST_LOG(kError, "suppression") << problem;
  if (!report.kept_damaged.empty()) {
    OUTPOST_LOG(kError, "suppression") << "the damaged file is kept as " << report.kept_damaged;
  }
  OUTPOST_LOG(kInfo, "suppression")
      << "suppression list " << options.path << ": " << report.entries << " entries ("
      << report.lines << " lines read, " << report.expired << " expired"
      << (report.torn_tail ? ", a torn last line dropped" : "")
      << (report.compacted ? ", rewritten" : "") << ")";
  return true;
}

bool Daemon::StartDelivery() {
  dns::ResolverOptions resolver_options;
  if (config_->dns_server) {
    const auto& dns_server = *config_->dns_server;
    const bool v6 = dns_server.host.find(':') != std::string::npos;
    resolver_options.server = (v6 ? "[" + dns_server.host + "]" : dns_server.host) + ":" +
                              std::to_string(dns_server.port);
  }
  resolver_options.cache_size = config_->dns_cache_size;
  resolver_options.cache_ttl_cap = config_->dns_cache_ttl;
  std::string error;
  resolver_ = dns::MakeAresResolver(io_, resolver_options, &error);
  if (!resolver_) {
    OUTPOST_LOG(kError, "main") << "cannot start the DNS resolver: " << error;
    return false;
  }
  delivery::SmtpDelivererOptions deliverer_options;
  // Servers whose TLS handshake failed within the hour, kept across restarts (beside the spool's
  // segments; the spool ignores it).
  deliverer_options.tls_memory_path = config_->spool_dir + "/tls-failures";
  smtp_deliverer_.emplace(io_, *resolver_, clock_, deliverer_options);
  const std::size_t signing_threads =
      config_->queue_processing_threads > 0
          ? static_cast<std::size_t>(config_->queue_processing_threads)
          : delivery::WorkPool::CoreCount();
  signing_pool_.emplace(signing_threads, delivery::WorkPool::DefaultCapacity(signing_threads),
                        [this](std::function<void()> f) { asio::post(io_, std::move(f)); });
  OUTPOST_LOG(kInfo, "main") << "signing pool: " << signing_threads << " thread(s)";
  signing_deliverer_.emplace(*smtp_deliverer_, config_, signers_, &*signing_pool_);
  deliverer_.emplace(*signing_deliverer_);
  accounting_sink_.emplace(accounting_.get());
  queue::OutcomeSink* outcomes = &*accounting_sink_;
  if (suppressions_) outcomes = &suppression_sink_.emplace(*suppressions_, *accounting_sink_);
  bus_sink_.emplace(metrics_bus_, *outcomes);

  queue_options_.host_name = config_->host_name;
  if (queue_options_.host_name.empty()) {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) queue_options_.host_name = name;
  }
  queue_options_.postmaster = config_->postmaster;
  queue_options_.cold_counts_path = config_->spool_dir + "/cold-vmta-counts";
  queue_options_.max_queued_recipients = config_->max_queued_recipients;
  if (config_->queue_cache_size != 0) {
    queue_options_.max_active_recipients = config_->queue_cache_size;
  }
  queue::Deliverer* deliverer = &*deliverer_;
  if (suppressions_) deliverer = &suppressing_deliverer_.emplace(*suppressions_, *deliverer_);
  queues_.emplace(config_, queue_options_, clock_, *spool_, *bus_sink_, *deliverer);
  runner_.emplace(io_, *queues_);

  returnpath::Processor::Hooks hooks;
  hooks.post = [this](std::function<void()> f) { asio::post(io_, std::move(f)); };
  hooks.deliver = [this](spool::RecoveredMessage&& message) { queues_->Recover(message); };
  hooks.now = [this] { return clock_.Now().unix_seconds(); };
  if (suppressions_) {
    hooks.suppress = [this](suppression::Kind kind, const std::string& address) {
      if (suppressions_->Add(address, kind) == suppression::AddResult::kFull) {
        OUTPOST_LOG(kWarning, "suppression")
            << "suppression list full (suppression-max-entries): <" << address << "> not added";
      }
    };
    hooks.sync_suppressions = [this] { return suppressions_->Sync(); };
  }
  returnpath_.emplace(config_, *spool_, *accounting_, config_->spool_dir + "/returnpath-unmatched",
                      std::move(hooks));

  // Recovery: every intact entry goes back to its queues (scheduled tier, due now), or to the
  // return path once the spool runs.
  std::vector<spool::RecoveredMessage> reports;
  LogRecovery(spool_->Recover([&](spool::RecoveredMessage&& message) {
    if (returnpath::HasReportRecipient(*config_, message.envelope, &message.done_recipients)) {
      reports.push_back(std::move(message));
    } else {
      queues_->Recover(message);
    }
  }));
  spool_->Start();
  for (const spool::RecoveredMessage& m : reports) {
    returnpath_->Take(m.id, m.envelope, m.data_size, &m.done_recipients);
  }
  return true;
}

bool Daemon::StartListeners() {
  server_.emplace(io_, config_, *spool_, accounting_.get());
  server_->SetAdmissionCheck([this](std::size_t recipients) { return queues_->Admit(recipients); });
  if (suppressions_) {
    server_->SetRecipientCheck([this](const std::string& recipient) {
      return SuppressedReply(*suppressions_, recipient);
    });
  }
  server_->SetAcceptedHandler(
      [this](spool::SpoolId id, const spool::Envelope& envelope, std::uint64_t size) {
        if (!returnpath_->Take(id, envelope, size)) queues_->Enqueue(id, envelope, size);
      });
  std::string error;
  if (!server_->Start(&error)) {
    OUTPOST_LOG(kError, "main") << "cannot start SMTP listener: " << error;
    return false;
  }
  runner_->Start();
  for (const auto& address : server_->BoundAddresses()) {
    OUTPOST_LOG(kInfo, "main") << "smtp listener bound " << address;
  }
  return true;
}

// The largest pickup file: the max-message-size that applies to 127.0.0.1, as for its SMTP mail.
std::uint64_t PickupMaxSize(const config::Config& config) {
  const IpAddress local = IpAddress::Parse("127.0.0.1").value_or(IpAddress{});
  const std::uint64_t own = config.SourcePolicyFor(local).max_message_size;
  return own != 0 ? own : config.max_message_size;
}

bool Daemon::StartPickup() {
  if (config_->pickups.empty()) return true;
  std::vector<smtp::PickupDir> dirs;
  for (const config::Config::Pickup& p : config_->pickups) dirs.push_back({p.dir, p.bad_dir});
  pickup_.emplace(io_, std::move(dirs), PickupMaxSize(*config_),
                  [this](smtp::Submission s, smtp::SubmitDone done) {
                    server_->Submit(std::move(s), std::move(done));
                  });
  std::string error;
  if (!pickup_->Start(&error)) {
    OUTPOST_LOG(kError, "main") << "cannot watch the pickup directory: " << error;
    return false;
  }
  return true;
}

void ReadSuppressions(const suppression::Stats& s, mgmt::DaemonReadings& r) {
  r.suppression_entries = s.entries;
  r.suppression_max_entries = s.max_entries;
  r.suppression_memory_bytes = s.memory_bytes;
  r.suppression_added_complaint = s.added[static_cast<int>(suppression::Kind::kComplaint)];
  r.suppression_added_hard_bounce = s.added[static_cast<int>(suppression::Kind::kHardBounce)];
  r.suppression_added_manual = s.added[static_cast<int>(suppression::Kind::kManual)];
  r.suppression_removed = s.removed;
  r.suppression_expired = s.expired;
  r.suppression_refused_full = s.refused_full;
  r.suppression_write_errors = s.write_errors;
  r.suppressed_recipients = s.suppressed;
}

void Daemon::ReadFeeds(mgmt::DaemonReadings& r) const {
  for (const auto& runner : feeds_) {
    const acct::FeedStats s = runner->feed().Stats();
    const bool pipe = runner->feed().options().delete_consumed;
    r.acct_feeds.push_back({runner->feed().options().feed, pipe, s.records_behind, s.bytes_behind,
                            s.oldest_unsent_seconds, s.records_sent, s.failures, s.restarts});
    if (pipe) {
      r.acct_pipe_records_behind += s.records_behind;
      r.acct_pipe_bytes_behind += s.bytes_behind;
      r.acct_pipe_records_sent += s.records_sent;
      r.acct_pipe_failures += s.failures;
      r.acct_pipe_restarts += s.restarts;
    } else {
      r.acct_webhook_records_behind += s.records_behind;
      r.acct_webhook_bytes_behind += s.bytes_behind;
      r.acct_webhook_oldest_unsent_seconds =
          std::max(r.acct_webhook_oldest_unsent_seconds, s.oldest_unsent_seconds);
      r.acct_webhook_records_sent += s.records_sent;
      r.acct_webhook_failures += s.failures;
    }
  }
}

// What the management plane publishes and shows, read on the io thread.
mgmt::DaemonReadings Daemon::Read() {
  mgmt::DaemonReadings r;
  r.smtp = server_->Stats();
  r.spool = spool_->Stats();
  r.dns = resolver_->Stats();
  r.queues = queues_->Snapshot();
  const std::uint64_t ceiling = queue_options_.max_queued_recipients;
  r.admitting = ceiling == 0 || queues_->queued_recipients() < ceiling;
  for (const acct::WriterStats& w : accounting_->Stats()) {
    r.acct_buffered_bytes += w.buffered_bytes;
    r.acct_write_errors += w.write_errors;
  }
  const returnpath::ProcessorStats rp = returnpath_->Stats();
  r.returnpath_understood = rp.understood[0] + rp.understood[1];
  r.returnpath_unmatched = rp.unmatched[0] + rp.unmatched[1];
  r.returnpath_records = rp.records;
  r.returnpath_today = returnpath_->Today();
  if (suppressions_) ReadSuppressions(suppressions_->GetStats(), r);
  r.acct_writable = accounting_->Durable();
  ReadFeeds(r);
  if (pickup_) {
    const smtp::PickupStats p = pickup_->Stats();
    r.pickup_accepted = p.accepted;
    r.pickup_bad = p.bad;
    r.pickup_deferred = p.deferred;
    r.pickup_errors = p.errors;
  }
  r.dkim = signing_deliverer_->Stats();
  r.signing_pool = signing_pool_->Stats();
  r.delivery = smtp_deliverer_->Stats();
  r.mime = deliverer_->Stats();
  return r;
}

// Reload loads the DKIM keys too: a bad key refuses the reload (file:line) like any config
// error; the cache built here is the one ApplyConfig installs.
config::LoadResult Daemon::LoadForReload() {
  config::LoadResult loaded = config::LoadConfig(options_.config_path);
  if (loaded.errors.empty() && loaded.config) {
    dkim::SignerCache::BuildResult built = dkim::SignerCache::Build(*loaded.config);
    reloaded_signers_ = built.cache;
    if (!built.errors.empty()) {
      loaded.errors = std::move(built.errors);
      loaded.config = nullptr;
    }
  }
  return loaded;
}

void Daemon::ApplyConfig(std::shared_ptr<const config::Config> reloaded) {
  // XXX: listeners, spool, accounting files and the management port keep their start-up
  // settings until restart.
  log::Level new_level = log::Level::kInfo;
  log::ParseLevel(reloaded->log_level, new_level);
  log::SetLevel(new_level);
  server_->SetConfig(reloaded);
  if (pickup_) pickup_->SetMaxSize(PickupMaxSize(*reloaded));
  queues_->SetConfig(reloaded);
  if (reloaded->queue_processing_threads != config_->queue_processing_threads) {
    OUTPOST_LOG(kWarning, "config")
        << "queue-processing-threads changed: the signing pool keeps " << signing_pool_->threads()
        << " thread(s) until outpostd restarts";
  }
  signing_deliverer_->SetConfig(reloaded, std::move(reloaded_signers_));
  if (suppressions_) {
    suppressions_->SetLimits(reloaded->suppression_max_entries, ExpiryOf(*reloaded));
  }
}

// One alert-driven action or its undo (mgmt/alert_actions.hpp), with the scheduler calls behind
// POST /api/queue/* and /api/job/*. A queue or virtual MTA with no queue yet is not an error:
// the plane asserts an active action again each second, which reaches queues created later.
std::string Daemon::RunAlertAction(const mgmt::ActionStep& step) {
  using V = config::AlertVerb;
  // Pause-like verbs pause when done and resume when undone; resume-like ones the other way.
  const bool pause = (step.verb == V::kPauseQueue || step.verb == V::kPauseVmta ||
                      step.verb == V::kPauseJob) != step.undo;
  switch (step.verb) {
    case V::kPauseQueue:
    case V::kResumeQueue:
    case V::kPauseVmta:
    case V::kResumeVmta: {
      const bool vmta = step.verb == V::kPauseVmta || step.verb == V::kResumeVmta;
      const std::string queue = vmta ? "*/" + step.target : step.target;  // every queue of V
      if (pause) {
        queues_->Pause(queue);
      } else {
        queues_->Resume(queue);
      }
      return "";
    }
    case V::kBackoffQueue:
      queues_->SetMode(step.target,
                       step.undo ? queue::QueueMode::kNormal : queue::QueueMode::kBackoff);
      return "";
    case V::kPauseJob:
    case V::kResumeJob:
      if (pause) {
        queues_->PauseJob(step.target);
        return "";
      }
      return queues_->ResumeJob(step.target) ? "" : "no such job: " + step.target;
    case V::kReroute:
      if (!step.undo) return queues_->SetReroute(step.rule, step.target, step.pool).value_or("");
      queues_->ClearReroute(step.rule);
      return "";
  }
  return "unknown action";
}

// The management plane's hooks; they run on the io thread.
mgmt::ControlHooks Daemon::MakeHooks() {
  mgmt::ControlHooks hooks;
  hooks.read = [this] { return Read(); };
  hooks.pause = [this](const std::string& q) { return queues_->Pause(q); };
  hooks.resume = [this](const std::string& q) { return queues_->Resume(q); };
  hooks.set_mode = [this](const std::string& q, queue::QueueMode m) {
    return queues_->SetMode(q, m);
  };
  hooks.remove = [this](const std::string& q, bool hold) {
    using mgmt::ActionResult;
    if (hold) {
      return ActionResult::Failed(ActionResult::Error::kNotSupported,
                                  "hold=1 is not supported: this build has no hold store; delete "
                                  "without hold bounces the queued recipients");
    }
    std::string error;
    const int deleted = queues_->Delete(q, &error);
    if (deleted < 0) return ActionResult::Failed(ActionResult::Error::kNoMatch, error);
    return ActionResult::Done(deleted);
  };
  hooks.job = [this](mgmt::JobAction action, const std::string& job) {
    using mgmt::ActionResult;
    std::optional<std::uint64_t> n;
    switch (action) {
      case mgmt::JobAction::kPause:
        n = queues_->PauseJob(job);
        break;
      case mgmt::JobAction::kResume:
        n = queues_->ResumeJob(job);
        break;
      case mgmt::JobAction::kDelete:
        n = queues_->DeleteJob(job);
        break;
    }
    if (!n) return ActionResult::Failed(ActionResult::Error::kNoMatch, "no such job: " + job);
    return ActionResult::Done(static_cast<int>(std::min<std::uint64_t>(*n, 0x7fffffff)));
  };
  hooks.alert_action = [this](const mgmt::ActionStep& step) { return RunAlertAction(step); };
  hooks.load_config = [this] { return LoadForReload(); };
  hooks.apply_config = [this](std::shared_ptr<const config::Config> reloaded) {
    ApplyConfig(std::move(reloaded));
  };
  return hooks;
}

bool Daemon::StartManagement() {
  mgmt::ManagementOptions mgmt_options;
  mgmt_options.version = OUTPOST_VERSION;
  mgmt_options.spool_dir = config_->spool_dir;
  mgmt_options.alert_state_path = config_->spool_dir + "/alert-actions";
  mgmt_options.suppressions = suppressions_.get();
  mgmt_options.submit = [this](smtp::Submission submission, smtp::SubmitDone done) {
    server_->Submit(std::move(submission), std::move(done));
  };
  plane_.emplace(
      metrics_bus_, config_,
      [this](std::function<void()> task) { asio::post(io_, std::move(task)); }, MakeHooks(),
      mgmt_options);
  if (config_->http_mgmt) {
    std::string error;
    if (!plane_->Start(*config_->http_mgmt, &error)) {
      OUTPOST_LOG(kError, "main") << error;
      return false;
    }
    OUTPOST_LOG(kInfo, "main") << "management http bound " << plane_->BoundAddress();
  }
  return true;
}

bool Daemon::StartFeeds() {
  std::string error;
  feeds_ = acct::StartFeeds(*config_, clock_, &error);
  if (!error.empty()) {
    OUTPOST_LOG(kError, "main") << "cannot start the accounting feeds: " << error;
    return false;
  }
  return true;
}

bool Daemon::DropPrivileges() {
  PrivilegeResult result = ApplyRunAsRoot(*config_, options_.config_path);
  if (!result.ok) {
    OUTPOST_LOG(kError, "main") << result.error;
    return false;
  }
  for (const std::string& warning : result.warnings) OUTPOST_LOG(kWarning, "main") << warning;
  OUTPOST_LOG(kInfo, "main") << result.summary;
  return true;
}

// Written last, so that a port file means the daemon is serving as the user it will stay.
bool Daemon::AnnounceReady() {
  if (!options_.port_file.empty() &&
      !WritePortFile(options_.port_file, server_->BoundAddresses(), plane_->BoundAddress())) {
    OUTPOST_LOG(kError, "main") << "cannot write port file " << options_.port_file;
    return false;
  }
  return true;
}

// Housekeeping once a second: log rotation check, accounting flush and rotation, the management
// plane's reading of the daemon.
void Daemon::ScheduleTick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](std::error_code ec) {
    if (ec) return;
    log::CheckRotation();
    accounting_->Tick(clock_.Now().wall);
    plane_->Tick();
    if (suppressions_ && ++ticks_ % kSuppressionPurgeTicks == 0) suppressions_->Purge();
    ScheduleTick();
  });
}

void Daemon::WaitControlSignal() {
  control_signals_.async_wait([this](std::error_code ec, int signo) {
    if (ec) return;
    if (signo == SIGUSR1) {
      log::Reopen();
      OUTPOST_LOG(kInfo, "main") << "log file reopened";
    } else if (plane_->Reload().ok) {
      // The one reload path, shared with POST /api/reload: a config with errors is refused
      // (logged, counted on the bus, shown in /status.json) and the running one stays.
      OUTPOST_LOG(kInfo, "config") << "configuration reloaded from " << options_.config_path;
    }
    WaitControlSignal();
  });
}

void Daemon::StartHousekeeping() {
  ScheduleTick();
  stop_signals_.async_wait([this](std::error_code ec, int signo) {
    if (ec) return;
    OUTPOST_LOG(kInfo, "main") << "signal " << signo << ": shutting down";
    if (pickup_) pickup_->Stop();
    server_->Stop();
    queues_->Stop();
    runner_->Stop();
    tick_.cancel();
    io_.stop();
  });
  WaitControlSignal();
}

int Daemon::Run() {
  if (!LoadConfiguration() || !OpenStorage() || !StartDelivery() || !StartListeners() ||
      !StartManagement() || !DropPrivileges() || !StartPickup() || !StartFeeds() ||
      !AnnounceReady()) {
    return 1;
  }
  StartHousekeeping();
  io_.run();
  return 0;
}

}  // namespace

int Run(const Options& options) {
  Daemon daemon(options);
  return daemon.Run();
}

}  // namespace outpost::daemon
