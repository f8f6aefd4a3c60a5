// The status half's mapping: outpostd's management-API answers (docs/status-api.md) in,
// Prometheus metric families out (the names agreed with the dashboards: docs/metrics.md,
// "Status metrics"). Pure: no I/O, no clock, so it is tested against fixed documents.
//
// What it does: MapStatus() takes the raw answers of one scrape (GET /status.json, and when that
// succeeded /queues.json?top=N, /vmtas.json and /ready) and returns the families plus the errors
// to count. kStatusScalars, kStatusFeedMetrics and kStatusByDirection below are the single list of
// the metrics read from /status.json; docs/metrics.md repeats it.
//
// Invariants:
//  * `up` is true exactly when /status.json answered 200 with a JSON object whose "schema" is
//    "outpost.status/v1" and whose known fields have the right types. When it is false no
//    status-derived family is returned (nothing stale, nothing half-parsed).
//  * A field that is missing omits its metric (v1 only ever adds fields; an older daemon lacks
//    some). A field that is present with the wrong type is a schema error: up = false.
//  * Labels are bounded: direction in {in, out}; mode in {normal, backoff, paused}; vmta capped
//    at max_vmtas values by recipients (the rest summed into vmta="other"); queue at top_queues
//    (largest first); feed is an <acct-file>'s configured path (or |PROGRAM), so bounded by the
//    configuration (a feed listed twice is served once). No free text (last_error) ever becomes
//    a label.
//  * The secondary documents (queues, vmtas, ready) only add metrics: their failure is counted
//    and omits their metrics, it does not change `up`.
//
// Error policy: every failure is a value (StatusErrorReason, counted by the caller under
// outpost_exporter_status_errors_total{reason}); nothing throws (nlohmann parse without
// exceptions, every access type-checked first).
//
// Older daemons: outpost_queue_backoff_seconds is 0 when a backoff_queues item carries no numeric
// "backoff_seconds", and mode="paused" is served only when queue.by_mode.paused exists (outpostd
// sends both since status API v1's backoff_seconds and by_mode.paused additions).
//
// Thread-safety: pure functions (thread-safe).
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace outpost::exporter {

enum class StatusErrorReason : std::uint8_t { kConnect, kTimeout, kHttpStatus, kBadJson, kSchema };
inline constexpr std::size_t kStatusErrorReasons = 5;
// Label values of outpost_exporter_status_errors_total, in enum order.
inline constexpr std::array<const char*, kStatusErrorReasons> kStatusErrorReasonNames = {
    "connect", "timeout", "http_status", "bad_json", "schema"};

inline const char* ReasonName(StatusErrorReason r) {
  return kStatusErrorReasonNames[static_cast<std::size_t>(r)];
}

// One HTTP GET's outcome: either a transport error, or a status code and a body.
struct FetchResult {
  std::optional<StatusErrorReason> transport_error;  // connect or timeout (or bad_json: too big)
  int http_status = 0;
  std::string body;
  std::string detail;  // for the log
};

// The answers of one scrape; the secondary ones are absent when not fetched.
struct StatusFetches {
  FetchResult status;
  std::optional<FetchResult> queues;  // /queues.json?top=N
  std::optional<FetchResult> vmtas;   // /vmtas.json
  std::optional<FetchResult> ready;   // /ready
};

struct StatusMappingLimits {
  std::size_t top_queues = 20;
  std::size_t max_vmtas = 100;
};

struct StatusMapping {
  bool up = false;
  std::vector<prometheus::MetricFamily> families;  // status-derived; empty unless up
  std::vector<StatusErrorReason> errors;           // one per failed document
  std::string error_text;                          // first failure, for the log
};

StatusMapping MapStatus(const StatusFetches& fetches, const StatusMappingLimits& limits);

// One scalar metric read from /status.json: name, help, type and the path of its field.
struct StatusScalar {
  const char* name;
  const char* help;
  prometheus::MetricType type;
  std::array<const char*, 3> path;  // unused trailing entries are nullptr
};

// One metric with a `direction` label (in, out), each value read from its own field.
struct StatusByDirection {
  const char* name;
  const char* help;
  prometheus::MetricType type;
  std::array<const char*, 3> in_path;
  std::array<const char*, 3> out_path;
};

// One accounting feed metric, a series per feed (label `feed`) of accounting.feeds whose `kind`
// is `kind`, its value read from the item's `field`.
struct StatusFeedMetric {
  const char* name;
  const char* help;
  prometheus::MetricType type;
  const char* kind;  // "webhook" or "pipe"
  const char* field;
};

extern const std::array<StatusScalar, 49> kStatusScalars;
extern const std::array<StatusFeedMetric, 10> kStatusFeedMetrics;
extern const std::array<StatusByDirection, 4> kStatusByDirection;

}  // namespace outpost::exporter
