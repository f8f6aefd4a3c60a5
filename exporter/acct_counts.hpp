// The exporter's counters: accounting records aggregated by bounded labels, plus its own health.
//
// What it does: Add() folds one parsed record into plain integer arrays indexed by
// (type, provider, vmta), (type, provider, source IP), (kind, provider, bounce category),
// (provider, bounce category, vmta) for remote bounces (rb), (provider, feedback type, vmta) for
// feedback-loop reports (f) and per-provider delay/size histograms. AppendFamilies() turns a
// snapshot into Prometheus metric families (docs/metrics.md lists every one; kStats-like tables
// below are the single list). ToJson()/FromJson() carry the values into and out of the state file,
// so that counters and file positions are restored from one consistent snapshot after a restart
// (exactly-once counting).
//
// Invariants: labels are bounded: provider by the ProviderMap, bounce category by PowerMTA's fixed
// list (+ "other"), feedback type by RFC 5965's registered list (+ "unknown": empty, as in
// Outpost's own files, or unregistered), vmta and source IP by configurable caps beyond which
// values go to "other". No recipient, job id or diagnostic text ever becomes a label. Series with a
// zero value are not exported (they appear on first use).
//
// Error policy: the hot path cannot fail; FromJson returns false with a message on a bad snapshot.
//
// Thread-safety: not thread-safe; the ingest thread owns the live instance and hands copies to the
// scrape side under a mutex (see ExporterCollector).
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/label_cache.hpp"
#include "common/provider_map.hpp"
#include "exporter/acct_line_parser.hpp"

namespace outpost::exporter {

// A label whose values come from traffic, capped: index 0 is "other", then first-seen values.
// Index() is allocation-free for values seen before (LabelCache keyed by the raw bytes).
class CappedLabel {
 public:
  explicit CappedLabel(std::size_t max_values);
  std::uint16_t Index(std::string_view value);  // "" maps to "none" (counts toward the cap)
  const std::vector<std::string>& values() const { return values_; }
  std::size_t capacity() const { return max_values_ + 1; }

 private:
  std::size_t max_values_;
  std::vector<std::string> values_;
  std::unordered_map<std::string, std::uint16_t> index_;
  LabelCache cache_;  // hot path: text -> index (values past the cap -> 0) without allocating
};

struct ExporterHealth {
  std::uint64_t lines_read = 0;
  std::uint64_t malformed_lines = 0;
  std::uint64_t unknown_type_records = 0;
  std::uint64_t headers_read = 0;
  std::uint64_t rotations = 0;
  std::uint64_t truncations = 0;
  std::uint64_t files_opened = 0;
  std::uint64_t state_writes = 0;
  std::uint64_t state_write_errors = 0;
  // Gauges.
  std::int64_t last_record_time = 0;  // timeLogged of the newest record, UNIX seconds
  std::uint64_t bytes_behind = 0;     // unread bytes in the files being followed
  std::uint64_t files_followed = 0;
};

struct CountsLimits {
  std::size_t max_vmtas = 100;
  std::size_t max_source_ips = 64;
};

class AcctCounts {
 public:
  static constexpr std::size_t kTypes = acct::kRecordTypeCount;  // acct::RecordType order
  static constexpr std::array<double, 16> kDelayBuckets = {
      1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600};
  static constexpr std::array<double, 10> kSizeBuckets = {
      1024, 4096, 16384, 65536, 262144, 1048576, 5242880, 10485760, 26214400, 52428800};

  AcctCounts(const ProviderMap& providers, CountsLimits limits);

  // Hot path: one record. `provider` comes from the ProviderResolver.
  void Add(const ParsedRecord& r, std::uint16_t provider);

  ExporterHealth health;

  nlohmann::json ToJson() const;
  bool FromJson(const nlohmann::json& j, std::string* error);
  void AppendFamilies(std::vector<prometheus::MetricFamily>& out) const;

  // Test helpers: total records of a type; sum of a bounce category over providers.
  std::uint64_t TotalOfType(acct::RecordType t) const;
  std::uint64_t BouncesOfCategory(std::string_view category) const;
  // Test helpers: rb records of a bounce category, f records of a feedback type, over providers
  // and vmtas.
  std::uint64_t RemoteBouncesOfCategory(std::string_view category) const;
  std::uint64_t FeedbackOfType(std::string_view feedback_type) const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // non-cumulative; last = above the highest bound
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::size_t RecIdx(std::size_t type, std::size_t prov, std::size_t v) const {
    return (type * providers_.size() + prov) * vmtas_.capacity() + v;
  }
  std::size_t IpIdx(std::size_t type, std::size_t prov, std::size_t ip) const {
    return (type * providers_.size() + prov) * ips_.capacity() + ip;
  }
  std::size_t CatIdx(std::size_t kind, std::size_t prov, std::size_t cat) const;
  std::size_t ProviderOf(const std::string& name) const;  // index of a provider name, 0 if none
  std::size_t RbIdx(std::size_t prov, std::size_t cat, std::size_t v) const;
  std::size_t FbIdx(std::size_t prov, std::size_t type, std::size_t v) const;
  std::uint64_t SumOfLabel(const std::vector<std::uint64_t>& counts, std::size_t labels,
                           std::size_t label) const;
  // The parts of AppendFamilies().
  void AppendRecordFamilies(std::vector<prometheus::MetricFamily>& out) const;
  void AppendCategoryFamilies(std::vector<prometheus::MetricFamily>& out) const;
  void AppendReturnPathFamilies(std::vector<prometheus::MetricFamily>& out) const;
  nlohmann::json ReturnPathToJson() const;
  void ReturnPathFromJson(const nlohmann::json& j);
  void AppendHistogram(std::vector<prometheus::MetricFamily>& out, const char* name,
                       const char* help, const std::vector<Histogram>& per_provider,
                       std::span<const double> bounds) const;
  void AppendHealthFamilies(std::vector<prometheus::MetricFamily>& out) const;

  std::vector<std::string> providers_;
  CappedLabel vmtas_;
  CappedLabel ips_;
  std::vector<std::uint64_t> records_;   // [type][provider][vmta]
  std::vector<std::uint64_t> by_ip_;     // [type][provider][source ip]
  std::vector<std::uint64_t> cats_;      // [b|t|tq][provider][category]
  std::vector<std::uint64_t> remote_;    // rb: [provider][category][vmta]
  std::vector<std::uint64_t> feedback_;  // f: [provider][feedback type][vmta]
  std::vector<Histogram> delay_;         // [provider], deliveries
  std::vector<Histogram> size_;          // [provider], deliveries
};

}  // namespace outpost::exporter
