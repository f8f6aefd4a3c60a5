// The management API's JSON documents, rendered from plain inputs (the typed snapshot of the
// daemon's metrics, a queue snapshot and a few facts), so that rendering is tested against fixed
// inputs and the HTTP layer only routes. Fields are read from DaemonMetrics::Snapshot members
// (daemon_metrics.hpp), never by metric name; only /counters.json walks the whole registry. The
// schema is versioned: every document carries "schema": "outpost.<doc>/v1"; docs/status-api.md
// documents every field with a JSON Schema that an integration test checks a live answer against. A
// change that removes or retypes a field needs a new version.
//
// Rates are recipients (or messages) per minute over the window: rate_1m = last_1m,
// rate_5m = last_5m / 5, rate_1h = last_1h / 60.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mta/bus/bus.hpp"
#include "mta/mgmt/daemon_metrics.hpp"
#include "mta/queue/queue_manager.hpp"

namespace outpost::mgmt {

inline constexpr const char* kStatusSchema = "outpost.status/v1";
inline constexpr const char* kQueuesSchema = "outpost.queues/v1";
inline constexpr const char* kDomainsSchema = "outpost.domains/v1";
inline constexpr const char* kVmtasSchema = "outpost.vmtas/v1";
inline constexpr const char* kCountersSchema = "outpost.counters/v1";
inline constexpr const char* kJobsSchema = "outpost.jobs/v1";

struct StatusInputs {
  DaemonMetrics::Snapshot metrics;  // every figure the documents show
  bus::BusSnapshot bus;             // the whole registry: read by RenderCounters only
  std::shared_ptr<const queue::QueueSnapshot> queues;  // never null
  std::string version;
  std::int64_t now_unix = 0;
  bool admitting = true;  // the queue's recipient ceiling is not reached
  std::vector<std::string> last_reload_errors;
  std::int64_t sampled_unix = 0;            // when `queues` was taken
  returnpath::DayCounts returnpath_today;   // taken with `queues`
  std::vector<AcctFeedReading> acct_feeds;  // taken with `queues`
};

struct QueueFilter {
  std::string domain;              // exact domain part
  std::string vmta;                // exact vmta part
  std::string mode;                // "normal" | "backoff"
  std::optional<std::size_t> top;  // the N largest by recipients
};

// Readiness: the spool accepts commits and the queue admits mail. `reasons` lists what is not.
struct Readiness {
  bool ready = true;
  std::vector<std::string> reasons;
};
Readiness ReadinessOf(const StatusInputs& in);

nlohmann::json RenderStatus(const StatusInputs& in);
nlohmann::json RenderQueues(const StatusInputs& in, const QueueFilter& filter);
nlohmann::json RenderDomains(const StatusInputs& in);
nlohmann::json RenderVmtas(const StatusInputs& in);
// Every job the scheduler knows (queued or recently finished), most recipients queued first.
nlohmann::json RenderJobs(const StatusInputs& in);
// The snapshot's jobs in that order.
std::vector<const queue::JobStats*> JobsByQueued(const queue::QueueSnapshot& snapshot);
// Every bus metric with its descriptor and series (the CLI's `show counters`).
nlohmann::json RenderCounters(const StatusInputs& in);
// {"error": message, "status": status}
nlohmann::json RenderError(int status, const std::string& message);
// "2025-01-01T00:00:00Z"
std::string IsoTime(std::int64_t unix_seconds);

}  // namespace outpost::mgmt
