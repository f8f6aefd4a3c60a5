// The status half of the exporter: at scrape time, ask outpostd's management API for its live
// status and turn the answers into metrics (docs/metrics.md, "Status metrics").
//
// What it does: HttpStatusSource::Scrape() GETs, with cpp-httplib's client over one keep-alive
// connection, /status.json and, when that answered 200, /queues.json?top=N, /vmtas.json and
// /ready (the paths sit next to --status-url's: http://h:p/x/status.json -> http://h:p/x/ready).
// MapStatus() (status_metrics.hpp) maps them. Nothing is cached across scrapes: each scrape shows
// what outpostd said during that scrape, or outpost_up 0.
//
// Invariants: one scrape's status part never takes much longer than --status-timeout, whatever
// the server does (refuses, never answers, drips bytes, sends a huge body): all requests share
// one deadline; every socket timeout is the time left; the body receiver cancels past the
// deadline; and a watchdog thread calls Client::stop() at the deadline (this also ends a server
// dripping its headers, which per-recv timeouts alone would not). Bodies over 16 MiB are refused.
//
// Error policy: every failure is a value: outpost_up 0 (for /status.json) and one increment of
// outpost_exporter_status_errors_total{reason} per failed document, reason in connect, timeout,
// http_status, bad_json, schema (all five always exported). Transitions of up are logged to
// stderr once, not every scrape.
//
// Tunables: --status-url, --status-timeout (default 2 s), --top-queues (20), --max-vmtas (100).
// Limits: http:// only (no TLS), no authentication (outpostd's http-access is by address).
//
// Thread-safety: HttpStatusSource::Scrape is thread-safe (a client per call; the error counters
// are atomics), so concurrent scrapes are fine.
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "exporter/status_metrics.hpp"

namespace outpost::exporter {

struct StatusSample {
  bool up = false;
  double duration_seconds = 0;
  std::string error;
  // Status-derived families plus outpost_exporter_status_errors_total.
  std::vector<prometheus::MetricFamily> families;
};

class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual StatusSample Scrape() = 0;
};

class HttpStatusSource : public StatusSource {
 public:
  // `url` like http://127.0.0.1:8080/status.json; empty means "not configured" (up = 0, nothing
  // fetched, no error counted).
  HttpStatusSource(std::string url, std::chrono::milliseconds timeout,
                   StatusMappingLimits limits = {});
  StatusSample Scrape() override;

 private:
  StatusFetches FetchAll(std::chrono::steady_clock::time_point deadline) const;
  void AppendErrorCounter(std::vector<prometheus::MetricFamily>& out) const;

  std::string scheme_host_port_;
  std::string path_;    // of /status.json
  std::string prefix_;  // path_ up to its last '/', for the sibling endpoints
  std::string config_error_;
  std::chrono::milliseconds timeout_;
  StatusMappingLimits limits_;
  std::array<std::atomic<std::uint64_t>, kStatusErrorReasons> errors_{};
  std::atomic<int> last_up_{-1};  // -1 unknown, for logging transitions only
};

// Splits "http://host:port/path" into "http://host:port" and "/path"; false if not http.
bool SplitHttpUrl(const std::string& url, std::string* base, std::string* path);

}  // namespace outpost::exporter
