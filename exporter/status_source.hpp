// The seam for the status half of the exporter: a StatusSource is asked at scrape time for the
// MTA's live status and reports whether it answered.
//
// What it does now: HttpStatusSource GETs the status URL (cpp-httplib, short timeout) and checks
// that the body is a JSON object; `outpost_up` is 1 when it is, 0 when no URL is configured, the
// server is unreachable, answers non-200 or non-JSON. The status API's fields are not exported yet
// (XXX: the status API is not built; extend StatusSample and AppendFamilies when it is).
//
// Error policy: every failure is a value (up = false, error text for the log); never throws.
//
// Tunables: timeout (default 2 s). Limits: http:// only (no TLS), no authentication.
//
// Thread-safety: HttpStatusSource::Scrape is thread-safe (no shared mutable state; a client per
// call), so concurrent scrapes are fine.
#pragma once

#include <chrono>
#include <string>

namespace outpost::exporter {

struct StatusSample {
  bool up = false;
  double duration_seconds = 0;
  std::string error;
};

class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual StatusSample Scrape() = 0;
};

class HttpStatusSource : public StatusSource {
 public:
  // `url` like http://127.0.0.1:8080/status.json; empty means "not configured" (up = 0).
  HttpStatusSource(std::string url, std::chrono::milliseconds timeout);
  StatusSample Scrape() override;

 private:
  std::string scheme_host_port_;
  std::string path_;
  std::string config_error_;
  std::chrono::milliseconds timeout_;
};

// Splits "http://host:port/path" into "http://host:port" and "/path"; false if not http(s).
bool SplitHttpUrl(const std::string& url, std::string* base, std::string* path);

}  // namespace outpost::exporter
