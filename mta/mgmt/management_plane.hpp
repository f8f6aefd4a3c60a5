// The management plane of outpostd: the HTTP API and web console on `http-mgmt-port`, the reload
// path shared by SIGHUP and the API, and the publishing of the daemon's state on the metrics bus.
//
// Endpoints (docs/status-api.md has the schemas and examples):
//   GET  /status.json  /queues.json?domain=&vmta=&mode=&top=  /domains.json  /vmtas.json
//        /counters.json  /health (liveness)  /ready (503 when the spool refuses mail or the queue
//        is full)  /  (the web console)                                    -> monitor or admin
//   POST /api/queue/pause?queue=Q  /api/queue/resume?queue=Q  /api/queue/mode?queue=Q&mode=M
//        /api/queue/delete?queue=Q[&hold=1]  /api/reload
//        /api/job/pause?job=J  /api/job/resume?job=J  /api/job/delete?job=J -> admin only
//   GET  /jobs.json (every job the scheduler knows, with its counters)     -> monitor or admin
//   GET  /api/suppressions  POST /api/suppressions/{add,remove} (suppression_api.hpp) -> admin
//   POST /api/v1/transmissions (HTTP submission, submission_api.hpp) -> submit or admin + API key
//   POST /api/alerts (Alertmanager's webhook; admin + bearer token, alert_actions_api.hpp)
// Q is "domain/vmta" or "domain" (all of that domain's queues). Errors are JSON,
// {"error": "...", "status": N}: 400 bad request, 403 http-access, 404 no such queue/path,
// 422 reload refused (the errors are listed), 501 not supported, 503 scheduler not answering.
//
// Threads. cpp-httplib serves requests on its own thread pool. The scheduler (QueueManager) is
// not thread-safe, so the plane never touches it from those threads: Tick(), called on the
// io_context's thread once a second, reads the daemon (ControlHooks::read), mirrors the readings
// onto the bus (DaemonMetrics::Publish: the lists that low-level libraries declare beside their
// Stats structs, daemon_metrics.hpp) and keeps the queue snapshot for readers; control actions are
// posted to the io_context and awaited with a timeout (a std::promise; a late answer is dropped
// safely). So a read never waits for the scheduler: queue figures are at most one tick old
// (`queues_sampled_at`) and control actions refresh them at once.
//
// Reload. Reload() (io thread) loads the configuration file; with errors it changes nothing,
// logs each error, counts config_reload_failures_total and returns the errors (the API answers
// 422 with them, /status.json shows them); otherwise it applies the new configuration through
// ControlHooks::apply (running connections and queued mail stay) and takes the new http-access
// rules. The management listener's own address is not re-bound (XXX: needs a restart).
//
// Thread-safety: Tick() and Reload() on the io_context's thread; Start()/Stop() from the owner's
// thread; everything else is internal to the HTTP threads and synchronised.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mta/bus/process_sampler.hpp"
#include "mta/config/config.hpp"
#include "mta/mgmt/alert_actions.hpp"
#include "mta/mgmt/daemon_metrics.hpp"
#include "mta/mgmt/submission_api.hpp"
#include "mta/returnpath/suppression_list.hpp"

namespace httplib {
class Server;
}

namespace outpost::mgmt {

// DaemonReadings (what the daemon reports each tick) is declared in daemon_metrics.hpp.

// What a control action did: how many recipients or queues it affected, or why it could not act
// (the HTTP layer maps the kind to a status code; the message is said to the operator).
struct ActionResult {
  enum class Error { kNone, kNoMatch, kNotSupported };
  Error error = Error::kNone;
  int affected = 0;
  std::string message;

  static ActionResult Done(int affected) { return {Error::kNone, affected, {}}; }
  static ActionResult Failed(Error error, std::string message) {
    return {error, 0, std::move(message)};
  }
};

enum class JobAction { kPause, kResume, kDelete };
const char* JobActionName(JobAction action);  // "pause", "resume", "delete"

// How the plane reaches the daemon. Every hook runs on the io_context's thread.
struct ControlHooks {
  std::function<DaemonReadings()> read;
  std::function<int(const std::string& queue)> pause;
  std::function<int(const std::string& queue)> resume;
  std::function<int(const std::string& queue, queue::QueueMode mode)> set_mode;
  // Deletes the queue's mail: the recipients deleted, kNoMatch (404) when no queue matches,
  // kNotSupported (501) for what this build cannot do (hold=1). Empty: the API answers 501.
  std::function<ActionResult(const std::string& queue, bool hold)> remove;
  // By job (PowerMTA's `pause job`, `resume job`, `delete --jobId`): the recipients held, released
  // or deleted; kNoMatch (404) for a job the scheduler does not know (pause creates it). Empty:
  // the API answers 501.
  std::function<ActionResult(JobAction action, const std::string& job)> job;
  // Alert-driven actions (alert_actions.hpp): does or undoes one step. Empty: POST /api/alerts
  // answers, but every action fails.
  ActionRunner alert_action;
  std::function<config::LoadResult()> load_config;
  std::function<void(std::shared_ptr<const config::Config>)> apply_config;
};

// Runs a task on the io_context's thread (asio::post).
using Poster = std::function<void(std::function<void()>)>;

struct ManagementOptions {
  std::string version = "0.0.0";
  std::string spool_dir;         // for the process sampler's statvfs
  std::string alert_state_path;  // the active alert-driven actions, kept across restarts; "": not
  std::chrono::milliseconds control_timeout{5000};       // waiting for the io_context
  suppression::SuppressionList* suppressions = nullptr;  // suppression_api.hpp; null: off
  SubmitHook submit;  // HTTP submission (submission_api.hpp), on the io thread; empty: 501
};

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;  // "file:line: message"
};

class ManagementPlane {
 public:
  ManagementPlane(bus::Registry& registry, std::shared_ptr<const config::Config> config,
                  Poster post, ControlHooks hooks, ManagementOptions options);
  ~ManagementPlane();
  ManagementPlane(const ManagementPlane&) = delete;
  ManagementPlane& operator=(const ManagementPlane&) = delete;

  // Binds `address` (port 0: an ephemeral port) and starts serving. False + error on failure.
  bool Start(const config::ListenAddress& address, std::string* error);
  // "host:port" actually bound ("" before Start()).
  std::string BoundAddress() const;
  void Stop();

  // Io thread, once a second: read the daemon, publish on the bus, sample the process.
  void Tick();
  // Io thread: the one reload path (SIGHUP and POST /api/reload).
  ReloadResult Reload();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::mgmt
