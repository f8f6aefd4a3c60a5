#include "mta/mgmt/management_plane.hpp"

#include <httplib.h>

#include <chrono>
#include <future>
#include <map>
#include <optional>

#include "mta/log/log.hpp"
#include "mta/mgmt/access.hpp"
#include "mta/mgmt/console.hpp"
#include "mta/mgmt/pmta_pages.hpp"
#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {
namespace {

constexpr const char* kJson = "application/json";

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(2) + "\n", kJson);
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, RenderError(status, message));
}

// Sets a gauge only when its value changes, so that an unchanging labelled series ages and can
// expire (Series::Set refreshes last_update).
void SetIfChanged(bus::Metric& metric, const std::string& label, std::int64_t value) {
  auto series = metric.With(label);
  if (series->value() != value) series->Set(value);
}

}  // namespace

struct ManagementPlane::Impl {
  bus::Registry& registry;
  Poster post;
  ControlHooks hooks;
  ManagementOptions options;
  bus::Group<bus::Traffic> traffic;
  bus::Group<bus::Queue> queue_metrics;
  bus::Group<bus::Storage> storage;
  bus::Group<bus::Accounting> accounting;
  bus::Group<bus::Interop> interop;
  bus::Group<bus::Mgmt> mgmt;
  bus::ProcessSampler sampler;
  std::uint64_t ticks = 0;
  smtp::ServerStats last_smtp;  // io thread only: for deltas

  mutable std::mutex mu;  // guards the fields below
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const queue::QueueSnapshot> queues = std::make_shared<queue::QueueSnapshot>();
  bool admitting = true;
  std::int64_t sampled_unix = 0;
  std::vector<std::string> last_reload_errors;

  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::string bound;

  Impl(bus::Registry& r, std::shared_ptr<const config::Config> c, Poster p, ControlHooks h,
       ManagementOptions o)
      : registry(r),
        post(std::move(p)),
        hooks(std::move(h)),
        options(std::move(o)),
        traffic(r, bus::kTrafficMetrics),
        queue_metrics(r, bus::kQueueMetrics),
        storage(r, bus::kStorageMetrics),
        accounting(r, bus::kAccountingMetrics),
        interop(r, bus::kInteropMetrics),
        mgmt(r, bus::kMgmtMetrics),
        sampler(r, options.spool_dir),
        config(std::move(c)) {}

  StatusInputs Inputs() const {
    StatusInputs in;
    in.bus = registry.Snapshot();
    in.version = options.version;
    in.now_unix = registry.time().Now().unix_seconds();
    std::lock_guard lock(mu);
    in.queues = queues;
    in.admitting = admitting;
    in.sampled_unix = sampled_unix;
    in.last_reload_errors = last_reload_errors;
    return in;
  }

  void Publish(const DaemonReadings& r) {
    using bus::Queue;
    using bus::Storage;
    using bus::Traffic;
    auto delta = [](std::uint64_t now, std::uint64_t before) {
      return now >= before ? static_cast<std::int64_t>(now - before) : 0;
    };
    traffic[Traffic::kInMessages].series().Add(
        delta(r.smtp.messages_accepted, last_smtp.messages_accepted));
    traffic[Traffic::kInRecipients].series().Add(
        delta(r.smtp.recipients_accepted, last_smtp.recipients_accepted));
    traffic[Traffic::kInBytes].series().Add(delta(r.smtp.bytes_accepted, last_smtp.bytes_accepted));
    traffic[Traffic::kConnectionsInTotal].series().Add(
        delta(r.smtp.connections_total, last_smtp.connections_total));
    last_smtp = r.smtp;
    traffic[Traffic::kConnectionsIn].series().Set(
        static_cast<std::int64_t>(r.smtp.connections_current));
    traffic[Traffic::kConnectionsOut].series().Set(
        static_cast<std::int64_t>(r.queues.totals.connections));

    const auto& t = r.queues.totals;
    queue_metrics[Queue::kRecipients].series().Set(static_cast<std::int64_t>(t.recipients));
    queue_metrics[Queue::kMessages].series().Set(static_cast<std::int64_t>(t.messages));
    queue_metrics[Queue::kQueues].series().Set(static_cast<std::int64_t>(t.queues));
    queue_metrics[Queue::kRecipientsInBackoff].series().Set(
        static_cast<std::int64_t>(t.recipients_in_backoff));
    queue_metrics[Queue::kQueuesInBackoff].series().Set(
        static_cast<std::int64_t>(t.queues_in_backoff));
    queue_metrics[Queue::kAdmissionRefusals].series().Set(
        static_cast<std::int64_t>(t.admission_refusals));
    struct Sums {
      std::int64_t recipients = 0, messages = 0, connections = 0;
    };
    std::map<std::string, Sums> by_vmta;
    // A paused queue counts under "paused" whatever its mode; the others under their mode.
    std::map<std::string, Sums> by_mode{{"normal", {}}, {"backoff", {}}, {"paused", {}}};
    for (const auto& q : r.queues.queues) {
      SetIfChanged(queue_metrics[Queue::kQueueRecipients], q.name,
                   static_cast<std::int64_t>(q.recipients));
      SetIfChanged(queue_metrics[Queue::kQueueMessages], q.name,
                   static_cast<std::int64_t>(q.messages));
      SetIfChanged(queue_metrics[Queue::kQueueConnections], q.name,
                   static_cast<std::int64_t>(q.connections));
      const std::size_t slash = q.name.rfind('/');
      Sums& v = by_vmta[slash == std::string::npos ? "" : q.name.substr(slash + 1)];
      Sums& m = by_mode[q.paused ? "paused" : q.mode];
      for (Sums* s : {&v, &m}) {
        s->recipients += static_cast<std::int64_t>(q.recipients);
        s->messages += static_cast<std::int64_t>(q.messages);
        s->connections += static_cast<std::int64_t>(q.connections);
      }
    }
    for (const auto& [vmta, s] : by_vmta) {
      SetIfChanged(queue_metrics[Queue::kVmtaRecipients], vmta, s.recipients);
      SetIfChanged(queue_metrics[Queue::kVmtaMessages], vmta, s.messages);
      SetIfChanged(queue_metrics[Queue::kVmtaConnections], vmta, s.connections);
    }
    for (const auto& [mode, s] : by_mode) {
      SetIfChanged(queue_metrics[Queue::kModeRecipients], mode, s.recipients);
      SetIfChanged(queue_metrics[Queue::kModeMessages], mode, s.messages);
    }

    storage[Storage::kSpoolEntries].series().Set(static_cast<std::int64_t>(r.spool.entries));
    storage[Storage::kSpoolBytes].series().Set(static_cast<std::int64_t>(r.spool.bytes));
    storage[Storage::kSpoolHealthy].series().Set(r.spool.healthy ? 1 : 0);
    storage[Storage::kSpoolDamaged].series().Set(static_cast<std::int64_t>(r.spool.damaged_total));
    storage[Storage::kSpoolLiveBytes].series().Set(static_cast<std::int64_t>(r.spool.live_bytes));
    storage[Storage::kSpoolCompactions].series().Set(
        static_cast<std::int64_t>(r.spool.compactions));
    storage[Storage::kSpoolCompactionCopied].series().Set(
        static_cast<std::int64_t>(r.spool.compaction_bytes_copied));
    storage[Storage::kSpoolCompactionReclaimed].series().Set(
        static_cast<std::int64_t>(r.spool.compaction_bytes_reclaimed));
    storage[Storage::kSpoolCompactionErrors].series().Set(
        static_cast<std::int64_t>(r.spool.compaction_errors));
    storage[Storage::kDnsCacheEntries].series().Set(static_cast<std::int64_t>(r.dns.cache_entries));
    storage[Storage::kDnsCacheHits].series().Set(static_cast<std::int64_t>(r.dns.cache_hits));
    storage[Storage::kDnsCacheMisses].series().Set(static_cast<std::int64_t>(r.dns.cache_misses));
    storage[Storage::kDnsQueries].series().Set(static_cast<std::int64_t>(r.dns.queries));
    storage[Storage::kDnsFailures].series().Set(static_cast<std::int64_t>(r.dns.failures));

    using bus::Accounting;
    auto set = [this](Accounting a, std::uint64_t v) {
      accounting[a].series().Set(static_cast<std::int64_t>(v));
    };
    set(Accounting::kWritable, r.acct_writable ? 1 : 0);
    set(Accounting::kBufferedBytes, r.acct_buffered_bytes);
    set(Accounting::kWriteErrors, r.acct_write_errors);
    set(Accounting::kHeldCompletions, t.held_completions);
    set(Accounting::kDkimSigned, r.dkim.signed_messages);
    set(Accounting::kDkimUnsignedNoKey, r.dkim.unsigned_no_key);
    set(Accounting::kDkimSignFailures, r.dkim.sign_failures);

    using bus::Interop;
    auto set_interop = [this](Interop i, std::uint64_t v) {
      interop[i].series().Set(static_cast<std::int64_t>(v));
    };
    set_interop(Interop::kTlsFallbacks, r.delivery.tls_fallbacks);
    set_interop(Interop::kTlsFailuresRemembered, r.delivery.tls_failures_remembered);
    set_interop(Interop::kConverted8Bit, r.mime.converted);
    set_interop(Interop::kRefused8Bit, r.mime.refused);
  }

  // Reads the daemon and keeps the queue snapshot (io thread).
  void Refresh() {
    if (!hooks.read) return;
    DaemonReadings readings = hooks.read();
    Publish(readings);
    auto snapshot = std::make_shared<const queue::QueueSnapshot>(std::move(readings.queues));
    std::lock_guard lock(mu);
    queues = std::move(snapshot);
    admitting = readings.admitting;
    sampled_unix = registry.time().Now().unix_seconds();
  }

  // Runs `task` on the io thread and waits for its JSON answer; nullopt on timeout.
  std::optional<std::pair<int, nlohmann::json>> OnIo(
      std::function<std::pair<int, nlohmann::json>()> task) {
    auto promise = std::make_shared<std::promise<std::pair<int, nlohmann::json>>>();
    auto future = promise->get_future();
    post([this, promise, task = std::move(task)] {
      auto answer = task();
      Refresh();  // control actions show at once in the next read
      promise->set_value(std::move(answer));
    });
    if (future.wait_for(options.control_timeout) != std::future_status::ready) return std::nullopt;
    return future.get();
  }

  void Control(const httplib::Request& req, httplib::Response& res,
               std::function<std::pair<int, nlohmann::json>()> task) {
    auto answer = OnIo(std::move(task));
    if (!answer) {
      SendError(res, 503, "outpostd's scheduler did not answer in time; try again");
      return;
    }
    (void)req;
    SendJson(res, answer->first, answer->second);
  }

  // A queue action: 404 when no queue matched.
  void QueueAction(const httplib::Request& req, httplib::Response& res, const char* verb,
                   std::function<int(const std::string&)> action) {
    const std::string name = req.get_param_value("queue");
    if (name.empty()) {
      SendError(res, 400, std::string("missing parameter: queue (DOMAIN or DOMAIN/VMTA)"));
      return;
    }
    Control(req, res, [name, verb, action = std::move(action)]() -> std::pair<int, nlohmann::json> {
      const int affected = action(name);
      if (affected <= 0) return {404, RenderError(404, "no queue matches '" + name + "'")};
      OUTPOST_LOG(kInfo, "mgmt") << verb << " queue " << name << " (" << affected
                                 << " queues) by operator";
      return {200, {{"ok", true}, {"action", verb}, {"queue", name}, {"queues", affected}}};
    });
  }

  void Route() {
    httplib::Server& s = *server;
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      mgmt[bus::Mgmt::kHttpRequests].series().Add(1);
      std::shared_ptr<const config::Config> current;
      {
        std::lock_guard lock(mu);
        current = config;
      }
      const config::AccessLevel level = AccessFor(*current, req.remote_addr);
      const Need need = req.method == "GET" || req.method == "HEAD" ? Need::kMonitor : Need::kAdmin;
      if (Permits(level, need)) return httplib::Server::HandlerResponse::Unhandled;
      mgmt[bus::Mgmt::kHttpDenied].series().Add(1);
      SendError(res, 403,
                std::string("access denied: ") + req.remote_addr + " has level '" +
                    AccessLevelName(level) + "' (http-access); " +
                    (need == Need::kAdmin ? "control needs admin" : "reading needs monitor"));
      return httplib::Server::HandlerResponse::Handled;
    });
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      SendError(res, res.status == 404 ? 404 : res.status,
                res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                  : "request failed");
    });
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(ConsoleHtml(), "text/html; charset=utf-8");
    });
    s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, {{"status", "ok"}, {"version", options.version}});
    });
    s.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
      const Readiness r = ReadinessOf(Inputs());
      SendJson(res, r.ready ? 200 : 503, {{"ready", r.ready}, {"reasons", r.reasons}});
    });
    s.Get("/status.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderStatus(Inputs()));
    });
    s.Get("/queues.json", [this](const httplib::Request& req, httplib::Response& res) {
      QueueFilter filter;
      filter.domain = req.get_param_value("domain");
      filter.vmta = req.get_param_value("vmta");
      filter.mode = req.get_param_value("mode");
      if (!filter.mode.empty() && filter.mode != "normal" && filter.mode != "backoff") {
        SendError(res, 400, "mode must be normal or backoff");
        return;
      }
      if (req.has_param("top")) {
        const std::string top = req.get_param_value("top");
        char* end = nullptr;
        const unsigned long n = std::strtoul(top.c_str(), &end, 10);
        if (top.empty() || *end != '\0') {
          SendError(res, 400, "top must be a number");
          return;
        }
        filter.top = n;
      }
      SendJson(res, 200, RenderQueues(Inputs(), filter));
    });
    s.Get("/domains.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderDomains(Inputs()));
    });
    s.Get("/vmtas.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderVmtas(Inputs()));
    });
    RegisterPmtaPages(s, [this] { return Inputs(); });  // PowerMTA's /status, /queues, ...
    s.Get("/counters.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderCounters(Inputs()));
    });
    s.Post("/api/queue/pause", [this](const httplib::Request& req, httplib::Response& res) {
      QueueAction(req, res, "pause", hooks.pause);
    });
    s.Post("/api/queue/resume", [this](const httplib::Request& req, httplib::Response& res) {
      QueueAction(req, res, "resume", hooks.resume);
    });
    s.Post("/api/queue/mode", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string mode = req.get_param_value("mode");
      if (mode != "normal" && mode != "backoff") {
        SendError(res, 400, "mode must be normal or backoff");
        return;
      }
      const auto m = mode == "backoff" ? queue::QueueMode::kBackoff : queue::QueueMode::kNormal;
      QueueAction(req, res, mode == "backoff" ? "set-mode backoff" : "set-mode normal",
                  [this, m](const std::string& q) { return hooks.set_mode(q, m); });
    });
    s.Post("/api/queue/delete", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.get_param_value("queue");
      const bool hold = req.get_param_value("hold") == "1" || req.get_param_value("hold") == "true";
      if (name.empty()) {
        SendError(res, 400, "missing parameter: queue (DOMAIN or DOMAIN/VMTA)");
        return;
      }
      if (!hooks.remove) {
        SendError(res, 501, "delete is not supported by this outpostd build");
        return;
      }
      Control(req, res, [this, name, hold]() -> std::pair<int, nlohmann::json> {
        std::string error;
        const int n = hooks.remove(name, hold, &error);
        if (n < 0) {
          const int status = error.find("not supported") != std::string::npos ? 501 : 404;
          return {status, RenderError(status, error)};
        }
        OUTPOST_LOG(kInfo, "mgmt")
            << "deleted " << n << " recipients of queue " << name << " by operator";
        return {200, {{"ok", true}, {"action", "delete"}, {"queue", name}, {"recipients", n}}};
      });
    });
    s.Post("/api/reload", [this](const httplib::Request& req, httplib::Response& res) {
      Control(req, res, [this]() -> std::pair<int, nlohmann::json> {
        ReloadResult r = DoReload();
        if (!r.ok) {
          nlohmann::json body = RenderError(422,
                                            "reload refused: the configuration has errors; "
                                            "the running configuration stays");
          body["errors"] = r.errors;
          return {422, body};
        }
        return {200, {{"ok", true}, {"action", "reload"}}};
      });
    });
  }

  ReloadResult DoReload() {
    ReloadResult result;
    if (!hooks.load_config) {
      result.errors.push_back("reload is not wired in this build");
      return result;
    }
    config::LoadResult loaded = hooks.load_config();
    if (!loaded.errors.empty() || !loaded.config) {
      for (const auto& e : loaded.errors) result.errors.push_back(e.ToString());
      if (result.errors.empty()) result.errors.push_back("configuration could not be loaded");
      for (const auto& e : result.errors) OUTPOST_LOG(kError, "config") << "reload refused: " << e;
      OUTPOST_LOG(kError, "config") << "reload refused (" << result.errors.size()
                                    << " errors); the running configuration stays";
      mgmt[bus::Mgmt::kReloadFailures].series().Add(1);
      std::lock_guard lock(mu);
      last_reload_errors = result.errors;
      return result;
    }
    if (hooks.apply_config) hooks.apply_config(loaded.config);
    mgmt[bus::Mgmt::kReloads].series().Add(1);
    OUTPOST_LOG(kInfo, "config") << "configuration reloaded";
    result.ok = true;
    std::lock_guard lock(mu);
    config = loaded.config;
    last_reload_errors.clear();
    return result;
  }
};

ManagementPlane::ManagementPlane(bus::Registry& registry,
                                 std::shared_ptr<const config::Config> config, Poster post,
                                 ControlHooks hooks, ManagementOptions options)
    : impl_(std::make_unique<Impl>(registry, std::move(config), std::move(post), std::move(hooks),
                                   std::move(options))) {}

ManagementPlane::~ManagementPlane() { Stop(); }

bool ManagementPlane::Start(const config::ListenAddress& address, std::string* error) {
  impl_->server = std::make_unique<httplib::Server>();
  // Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add 40 ms to
  // every keep-alive answer (measured by bench/mgmt/run.sh).
  impl_->server->set_tcp_nodelay(true);
  impl_->Route();
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  int port = address.port;
  if (port == 0) {
    port = impl_->server->bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!impl_->server->bind_to_port(host, port)) {
    port = 0;
  }
  if (port <= 0) {
    *error = "cannot bind management port " + host + ":" + std::to_string(address.port);
    impl_->server.reset();
    return false;
  }
  const bool v6 = host.find(':') != std::string::npos;
  impl_->bound = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  impl_->Refresh();
  impl_->sampler.Sample();
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  return true;
}

std::string ManagementPlane::BoundAddress() const { return impl_->bound; }

void ManagementPlane::Stop() {
  if (impl_->server) impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ManagementPlane::Tick() {
  impl_->Refresh();
  impl_->sampler.Sample();
  if (++impl_->ticks % 60 == 0) impl_->registry.ExpireIdle();
}

ReloadResult ManagementPlane::Reload() { return impl_->DoReload(); }

}  // namespace outpost::mgmt
