#include "mta/mgmt/management_plane.hpp"

#include <httplib.h>

#include <chrono>
#include <future>
#include <optional>

#include "mta/log/log.hpp"
#include "mta/mgmt/access.hpp"
#include "mta/mgmt/alert_actions_api.hpp"
#include "mta/mgmt/console.hpp"
#include "mta/mgmt/http_json.hpp"
#include "mta/mgmt/pmta_pages.hpp"
#include "mta/mgmt/settings_json.hpp"
#include "mta/mgmt/status_json.hpp"
#include "mta/mgmt/suppression_api.hpp"

namespace outpost::mgmt {

const char* JobActionName(JobAction action) {
  switch (action) {
    case JobAction::kPause:
      return "pause";
    case JobAction::kResume:
      return "resume";
    case JobAction::kDelete:
      return "delete";
  }
  return "?";
}

struct ManagementPlane::Impl {
  bus::Registry& registry;
  Poster post;
  ControlHooks hooks;
  ManagementOptions options;
  DaemonMetrics metrics;
  bus::ProcessSampler sampler;
  AlertActions alerts;
  std::uint64_t ticks = 0;

  mutable std::mutex mu;  // guards the fields below
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const queue::QueueSnapshot> queues = std::make_shared<queue::QueueSnapshot>();
  bool admitting = true;
  std::int64_t sampled_unix = 0;
  std::vector<std::string> last_reload_errors;
  returnpath::DayCounts returnpath_today;
  std::vector<AcctFeedReading> acct_feeds;

  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::string bound;

  Impl(bus::Registry& r, std::shared_ptr<const config::Config> c, Poster p, ControlHooks h,
       ManagementOptions o)
      : registry(r),
        post(std::move(p)),
        hooks(std::move(h)),
        options(std::move(o)),
        metrics(DaemonMetrics::Register(r)),
        sampler(r, options.spool_dir),
        alerts(r.time(), AlertActionMetrics::Register(r), options.alert_state_path),
        config(std::move(c)) {
    if (!hooks.alert_action) {
      hooks.alert_action = [](const ActionStep&) {
        return std::string("alert-driven actions are not wired in this build");
      };
    }
    alerts.SetRules(config->alert_actions, hooks.alert_action);
    alerts.Restore(hooks.alert_action);
  }

  // The readers' inputs; `with_bus`: also every metric by name (only /counters.json lists them).
  StatusInputs Inputs(bool with_bus = false) const {
    StatusInputs in;
    in.metrics = metrics.Take();
    if (with_bus) in.bus = registry.Snapshot();
    in.version = options.version;
    in.now_unix = registry.time().Now().unix_seconds();
    std::lock_guard lock(mu);
    in.queues = queues;
    in.admitting = admitting;
    in.sampled_unix = sampled_unix;
    in.last_reload_errors = last_reload_errors;
    in.returnpath_today = returnpath_today;
    in.acct_feeds = acct_feeds;
    return in;
  }

  std::shared_ptr<const config::Config> CurrentConfig() const {
    std::lock_guard lock(mu);
    return config;
  }

  // Reads the daemon and keeps the queue snapshot (io thread).
  void Refresh() {
    if (!hooks.read) return;
    DaemonReadings readings = hooks.read();
    metrics.Publish(readings);
    auto snapshot = std::make_shared<const queue::QueueSnapshot>(std::move(readings.queues));
    std::lock_guard lock(mu);
    queues = std::move(snapshot);
    admitting = readings.admitting;
    returnpath_today = std::move(readings.returnpath_today);
    acct_feeds = std::move(readings.acct_feeds);
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
    RouteAccess();
    RouteReads();
    RouteControls();
  }

  // Every request: counted, then checked against http-access (403 before any handler runs).
  void RouteAccess() {
    httplib::Server& s = *server;
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      metrics.mgmt.mgmt_http_requests_total.series().Add(1);
      const config::AccessLevel level = AccessFor(*CurrentConfig(), req.remote_addr);
      const bool read =
          (req.method == "GET" || req.method == "HEAD") && !IsSuppressionPath(req.path);
      const bool submit = IsSubmissionPath(req.path);
      const Need need = submit ? Need::kSubmit : read ? Need::kMonitor : Need::kAdmin;
      if (Permits(level, need)) return httplib::Server::HandlerResponse::Unhandled;
      metrics.mgmt.mgmt_http_denied_total.series().Add(1);
      SendError(res, 403,
                std::string("access denied: ") + req.remote_addr + " has level '" +
                    AccessLevelName(level) + "' (http-access); " +
                    (submit                        ? "submission needs submit or admin"
                     : read                        ? "reading needs monitor"
                     : IsSuppressionPath(req.path) ? "the suppression list needs admin"
                                                   : "control needs admin"));
      return httplib::Server::HandlerResponse::Handled;
    });
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      SendError(res, res.status == 404 ? 404 : res.status,
                res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                  : "request failed");
    });
  }

  // GET: the console, liveness, readiness and the JSON documents (monitor level).
  void RouteReads() {
    httplib::Server& s = *server;
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
      nlohmann::json status = RenderStatus(Inputs());
      status["actions"] = alerts.Render();
      SendJson(res, 200, status);
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
    s.Get("/jobs.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderJobs(Inputs()));
    });
    s.Get("/domains.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderDomains(Inputs()));
    });
    s.Get("/vmtas.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderVmtas(Inputs()));
    });
    RegisterPmtaPages(s, [this] { return Inputs(); });  // PowerMTA's /status, /queues, ...
    s.Get("/settings.json", [this](const httplib::Request& req, httplib::Response& res) {
      auto [status, body] = RenderSettings(*CurrentConfig(), req.get_param_value("queue"));
      SendJson(res, status, body);
    });
    RegisterSuppressionApi(s, options.suppressions);  // admin only (RouteAccess)
    s.Get("/counters.json", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, RenderCounters(Inputs(/*with_bus=*/true)));
    });
  }

  // POST: the controls, run on the io thread (admin level).
  void RouteControls() {
    httplib::Server& s = *server;
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
        const ActionResult result = hooks.remove(name, hold);
        if (result.error != ActionResult::Error::kNone) {
          const int status = result.error == ActionResult::Error::kNotSupported ? 501 : 404;
          return {status, RenderError(status, result.message)};
        }
        const int n = result.affected;
        OUTPOST_LOG(kInfo, "mgmt")
            << "deleted " << n << " recipients of queue " << name << " by operator";
        return {200, {{"ok", true}, {"action", "delete"}, {"queue", name}, {"recipients", n}}};
      });
    });
    for (JobAction action : {JobAction::kPause, JobAction::kResume, JobAction::kDelete}) {
      s.Post(std::string("/api/job/") + JobActionName(action),
             [this, action](const httplib::Request& req, httplib::Response& res) {
               JobControl(req, res, action);
             });
    }
    RegisterSubmissionApi(s, {[this] { return CurrentConfig(); }, post, options.submit});
    RegisterAlertApi(s, {[this] { return CurrentConfig()->alert_action_token_file; },
                         [this](auto task) { return OnIo(std::move(task)); }, &alerts,
                         hooks.alert_action, AlertActionMetrics::Register(registry)});
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

  // POST /api/job/{pause,resume,delete}?job=J
  void JobControl(const httplib::Request& req, httplib::Response& res, JobAction action) {
    const std::string job = req.get_param_value("job");
    if (job.empty()) {
      SendError(res, 400, "missing parameter: job (the job id, as in X-Job)");
      return;
    }
    if (!hooks.job) {
      SendError(res, 501, "jobs are not supported by this outpostd build");
      return;
    }
    Control(req, res, [this, job, action]() -> std::pair<int, nlohmann::json> {
      const ActionResult result = hooks.job(action, job);
      if (result.error != ActionResult::Error::kNone) {
        const int status = result.error == ActionResult::Error::kNotSupported ? 501 : 404;
        return {status, RenderError(status, result.message)};
      }
      OUTPOST_LOG(kInfo, "mgmt") << JobActionName(action) << " job " << job << " ("
                                 << result.affected << " recipients) by operator";
      return {200,
              {{"ok", true},
               {"action", std::string(JobActionName(action)) + " job"},
               {"job", job},
               {"recipients", result.affected}}};
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
      metrics.mgmt.config_reload_failures_total.series().Add(1);
      std::lock_guard lock(mu);
      last_reload_errors = result.errors;
      return result;
    }
    if (hooks.apply_config) hooks.apply_config(loaded.config);
    alerts.SetRules(loaded.config->alert_actions, hooks.alert_action);
    metrics.mgmt.config_reloads_total.series().Add(1);
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
  impl_->alerts.Tick(impl_->hooks.alert_action);
  impl_->Refresh();
  impl_->sampler.Sample();
  if (++impl_->ticks % 60 == 0) impl_->registry.ExpireIdle();
}

ReloadResult ManagementPlane::Reload() { return impl_->DoReload(); }

}  // namespace outpost::mgmt
