#include "exporter/status_source.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace outpost::exporter {

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

HttpStatusSource::HttpStatusSource(std::string url, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  if (url.empty()) {
    config_error_ = "no status URL configured";
  } else if (!SplitHttpUrl(url, &scheme_host_port_, &path_)) {
    config_error_ = "status URL must be http://host:port/path";
  }
}

StatusSample HttpStatusSource::Scrape() {
  StatusSample s;
  if (!config_error_.empty()) {
    s.error = config_error_;
    return s;
  }
  const auto start = std::chrono::steady_clock::now();
  httplib::Client client(scheme_host_port_);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout_);
  const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout_ - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  auto res = client.Get(path_);
  if (!res) {
    s.error = "status GET failed: " + httplib::to_string(res.error());
  } else if (res->status != 200) {
    s.error = "status GET answered " + std::to_string(res->status);
  } else {
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      s.error = "status body is not a JSON object";
    } else {
      s.up = true;
    }
  }
  s.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace outpost::exporter
