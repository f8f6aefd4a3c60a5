#include "exporter/status_source.hpp"

#include <httplib.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

namespace outpost::exporter {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
// How close to the end of its time a failed request must have come to count as a timeout.
constexpr std::chrono::milliseconds kTimeoutSlack{20};

// One scrape's HTTP conversation: one keep-alive client, one deadline for every request, and a
// watchdog that stops the client at the deadline (see the header for why it is needed).
// Thread-safety: not thread-safe (used by one scrape; the watchdog only calls Client::stop(),
// which cpp-httplib allows from another thread).
class ScrapeSession {
 public:
  ScrapeSession(const std::string& scheme_host_port, Clock::time_point deadline)
      : client_(scheme_host_port), deadline_(deadline) {
    client_.set_keep_alive(true);
    watchdog_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, deadline_, [this] { return done_; })) {
        expired_ = true;
        client_.stop();
      }
    });
  }

  ~ScrapeSession() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }

  ScrapeSession(const ScrapeSession&) = delete;
  ScrapeSession& operator=(const ScrapeSession&) = delete;

  FetchResult Get(const std::string& path) {
    FetchResult r;
    const auto left = deadline_ - Clock::now();
    if (left <= Clock::duration::zero() || expired_) {
      r.transport_error = StatusErrorReason::kTimeout;
      r.detail = "GET " + path + ": no time left of --status-timeout";
      return r;
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left);
    const time_t sec = static_cast<time_t>(us.count() / 1000000);
    const time_t usec = static_cast<time_t>(us.count() % 1000000);
    client_.set_connection_timeout(sec, usec);
    client_.set_read_timeout(sec, usec);
    client_.set_write_timeout(sec, usec);
    bool too_big = false;
    const auto started = Clock::now();
    auto res = client_.Get(path, [&](const char* data, std::size_t len) {
      if (Clock::now() >= deadline_) return false;
      if (r.body.size() + len > kMaxBodyBytes) {
        too_big = true;
        return false;
      }
      r.body.append(data, len);
      return true;
    });
    if (!res) {
      const auto err = res.error();
      if (too_big) {
        r.transport_error = StatusErrorReason::kBadJson;
        r.detail = "GET " + path + ": body larger than 16 MiB";
      } else if (expired_ || err == httplib::Error::ConnectionTimeout ||
                 Clock::now() - started >= left - kTimeoutSlack) {
        // httplib's own read timeout (set to the time left) can fire a moment before the
        // watchdog and report a plain read error: a request that used up its time timed out.
        r.transport_error = StatusErrorReason::kTimeout;
        r.detail = "GET " + path + ": no answer within --status-timeout";
      } else {
        r.transport_error = StatusErrorReason::kConnect;
        r.detail = "GET " + path + ": " + httplib::to_string(err);
      }
      return r;
    }
    r.http_status = res->status;
    if (r.body.empty()) r.body = res->body;
    return r;
  }

 private:
  httplib::Client client_;
  const Clock::time_point deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> expired_{false};
  std::thread watchdog_;  // last: started after everything it uses exists
};

}  // namespace

bool SplitHttpUrl(const std::string& url, std::string* base, std::string* path) {
  const std::string prefix = "http://";
  if (url.compare(0, prefix.size(), prefix) != 0) return false;
  std::size_t slash = url.find('/', prefix.size());
  std::string host = url.substr(0, slash);
  if (host.size() == prefix.size()) return false;
  *base = host;
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  return true;
}

HttpStatusSource::HttpStatusSource(std::string url, std::chrono::milliseconds timeout,
                                   StatusMappingLimits limits)
    : timeout_(timeout), limits_(limits) {
  if (url.empty()) {
    config_error_ = "no status URL configured";
  } else if (!SplitHttpUrl(url, &scheme_host_port_, &path_)) {
    config_error_ = "status URL must be http://host:port/path";
  } else {
    prefix_ = path_.substr(0, path_.rfind('/') + 1);
  }
}

StatusFetches HttpStatusSource::FetchAll(Clock::time_point deadline) const {
  StatusFetches f;
  ScrapeSession session(scheme_host_port_, deadline);
  f.status = session.Get(path_);
  if (f.status.transport_error || f.status.http_status != 200) return f;
  f.queues = session.Get(prefix_ + "queues.json?top=" + std::to_string(limits_.top_queues));
  f.vmtas = session.Get(prefix_ + "vmtas.json");
  f.ready = session.Get(prefix_ + "ready");
  return f;
}

void HttpStatusSource::AppendErrorCounter(std::vector<prometheus::MetricFamily>& out) const {
  prometheus::MetricFamily f;
  f.name = "outpost_exporter_status_errors_total";
  f.help =
      "Failed status API documents by reason (connect, timeout, http_status, bad_json, "
      "schema).";
  f.type = prometheus::MetricType::Counter;
  for (std::size_t i = 0; i < kStatusErrorReasons; ++i) {
    prometheus::ClientMetric m;
    m.label.push_back({"reason", kStatusErrorReasonNames[i]});
    m.counter.value = static_cast<double>(errors_[i].load(std::memory_order_relaxed));
    f.metric.push_back(std::move(m));
  }
  out.push_back(std::move(f));
}

StatusSample HttpStatusSource::Scrape() {
  StatusSample s;
  if (!config_error_.empty()) {
    s.error = config_error_;
    AppendErrorCounter(s.families);
    return s;
  }
  const auto start = Clock::now();
  StatusMapping m = MapStatus(FetchAll(start + timeout_), limits_);
  for (StatusErrorReason r : m.errors) {
    errors_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  s.up = m.up;
  s.error = m.error_text;
  s.families = std::move(m.families);
  AppendErrorCounter(s.families);
  s.duration_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const int up = s.up ? 1 : 0;
  if (last_up_.exchange(up) != up) {
    if (up) {
      std::cerr << "outpost_exporter: status API answering (outpost_up 1)" << std::endl;
    } else {
      std::cerr << "outpost_exporter: status API failed (outpost_up 0): " << s.error << std::endl;
    }
  }
  return s;
}

}  // namespace outpost::exporter
