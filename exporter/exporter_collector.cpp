#include "exporter/exporter_collector.hpp"

namespace outpost::exporter {

ExporterCollector::ExporterCollector(std::unique_ptr<StatusSource> status)
    : status_(std::move(status)) {}

void ExporterCollector::Publish(const AcctCounts& counts) {
  auto copy = std::make_shared<const AcctCounts>(counts);
  std::lock_guard<std::mutex> lock(mu_);
  published_ = std::move(copy);
}

std::vector<prometheus::MetricFamily> ExporterCollector::Collect() const {
  std::shared_ptr<const AcctCounts> snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap = published_;
  }
  std::vector<prometheus::MetricFamily> out;
  if (snap) snap->AppendFamilies(out);
  StatusSample s;
  if (status_) s = status_->Scrape();
  auto gauge = [&](const char* name, const char* help, double v) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  };
  gauge("outpost_up",
        "1 if outpostd's /status.json answered this scrape with a valid outpost.status/v1 "
        "document, else 0.",
        s.up ? 1 : 0);
  gauge("outpost_status_scrape_duration_seconds", "Time taken to query the status API.",
        s.duration_seconds);
  for (auto& f : s.families) out.push_back(std::move(f));
  return out;
}

}  // namespace outpost::exporter
