// What /metrics serves: the last published AcctCounts snapshot plus what the status source
// fetched during this scrape (status_source.hpp; bounded by --status-timeout).
//
// Invariants: the ingest thread publishes a copy of its counters right after each state-file
// write, so the exported counters never run ahead of what is durable: after a kill -9 and restart
// they resume from the same values and never go backwards (no false counter resets in Prometheus).
// The cost is freshness: counters lag by at most --state-interval.
//
// Thread-safety: thread-safe (Publish from the ingest thread, Collect from the HTTP threads; a
// mutex guards the snapshot pointer only).
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <mutex>
#include <vector>

#include "exporter/acct_counts.hpp"
#include "exporter/status_source.hpp"

namespace outpost::exporter {

class ExporterCollector : public prometheus::Collectable {
 public:
  explicit ExporterCollector(std::unique_ptr<StatusSource> status);
  void Publish(const AcctCounts& counts);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const AcctCounts> published_;
  std::unique_ptr<StatusSource> status_;
};

}  // namespace outpost::exporter
