// The internal metrics bus: one in-process registry that every subsystem publishes to and that
// the management plane (status API, CLI, web console) reads.
//
// Declaring. A subsystem declares its metrics once, where they are produced, as one X-macro list
// (stats.hpp): each entry gives kind, name, label (or source field), unit and help, and the list
// generates the Descriptors, a struct of Metric references (publishers write
// `stats.spool_entries.series().Set(n)`) and a typed snapshot struct (readers read
// `snap.spool_entries.Value()`), so no code names a metric by string and no index can drift.
// Registry::Register(list) returns one Metric per descriptor, in list order. A descriptor with an
// empty `label` is a single series; one with a label (queue, domain, vmta, mode) is a family of
// series, one per label value, created on first use.
//
// Types. kCounter only goes up: Add(n >= 0), or AdvanceTo(total) for a producer that keeps its
// own running total (the difference is added; a lower total is ignored, so a counter never goes
// down). kGauge is set (Set) or moved (Add, negative allowed); Set on a counter is an invariant
// violation. Mirror(reading) is Set for gauges and AdvanceTo for counters (what a sampled list's
// generated Publish calls). kWindowed is a counter that also keeps the last hour in 360 buckets
// of 10 seconds, keyed by epoch-bucket (bucket = now / 10 s), so the counts over the last
// 1 minute, 5 minutes and 1 hour are exact to the bucket: a window of W seconds sums the W/10
// most recent buckets, the current (partial) one included, i.e. it covers between W-10 and W
// seconds of history.
//
// Hot path. Every update is a relaxed atomic: a counter is one fetch_add; a windowed counter is
// that plus a compare-exchange on a packed (epoch, count) bucket word, so a bucket that is reused
// for a new epoch is reset and incremented in one step without a lock and without losing a
// concurrent increment. Family::With(label) takes a shared (reader) lock for the lookup and an
// exclusive lock only to create a series; a publisher that wants no lock at all keeps the
// shared_ptr it got (an expired series is only detached from the registry: updates through a kept
// pointer are then invisible until With() is called again, never a use-after-free).
//
// Expiry. ExpireIdle() removes labelled series that have not been updated for `idle_seconds`
// (default 65 minutes, so that their hour window is empty) and whose value is zero when they are
// gauges: per-queue and per-domain cardinality stays bounded by what was active recently.
// Unlabelled metrics never expire.
//
// Reading. Snapshot() copies every metric: each value is one atomic load, families are copied
// under their reader lock, so a snapshot never sees a half-created or half-removed series; values
// of different series are not one atomic cut (that would need a lock on the hot path).
//
// Time. Whole seconds of the Clock's steady time (common/clock.hpp); tests pass a SimulatedClock
// and move it, so windows and expiry are tested without sleeping.
//
// Thread-safety: Registry, Metric and Series are thread-safe; Register() must finish before the
// returned metrics are shared with other threads. AdvanceTo/Mirror assume one publisher per
// counter (two would each add their own differences).
// Limits (XXX): one label per family (queue names already carry domain/vmta); windows are 1 h at
// most; a bucket counts at most 2^36-1 events per 10 s.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"

namespace outpost::bus {

enum class MetricType { kCounter, kGauge, kWindowed };
std::string_view MetricTypeName(MetricType type);  // "counter", "gauge", "windowed"

// One metric as a subsystem declares it. All views point at string literals.
struct Descriptor {
  std::string_view name;  // snake_case, Prometheus style: base units, _total on counters
  std::string_view help;  // one sentence
  MetricType type = MetricType::kCounter;
  std::string_view unit;   // "recipients", "bytes", "seconds", "connections", ...
  std::string_view label;  // empty: one series; else the label's name ("queue", "domain", ...)
};

inline constexpr std::int64_t kBucketSeconds = 10;
inline constexpr std::size_t kBuckets = 360;  // one hour

// Counts over the standard windows.
struct WindowCounts {
  std::int64_t last_1m = 0;
  std::int64_t last_5m = 0;
  std::int64_t last_1h = 0;
};

// One time series. Thread-safety: thread-safe; every member is lock-free.
class Series {
 public:
  Series(MetricType type, const Clock& time);

  void Add(std::int64_t n = 1);
  void Set(std::int64_t value);  // gauges only
  // Counters: raises the value to `total` (adding the difference, windows included); a `total`
  // at or below the value changes nothing.
  void AdvanceTo(std::int64_t total);
  // A producer's reading of its own figure: Set for a gauge, AdvanceTo for a counter.
  void Mirror(std::int64_t reading);
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }
  // Events counted in the last `seconds` (rounded up to whole buckets); 0 unless kWindowed.
  std::int64_t CountOver(std::int64_t seconds) const;
  WindowCounts Windows() const;
  std::int64_t last_update() const { return last_update_.load(std::memory_order_relaxed); }
  MetricType type() const { return type_; }

 private:
  void CountInWindow(std::int64_t now, std::int64_t n);

  MetricType type_;
  const Clock& time_;
  std::atomic<std::int64_t> value_{0};
  std::atomic<std::int64_t> last_update_;
  // kWindowed only: bucket word = (epoch mod 2^28) << 36 | count.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
};

struct SeriesSnapshot {
  std::string label;  // empty for unlabelled metrics
  std::int64_t value = 0;
  WindowCounts windows;  // zero unless kWindowed
};

struct MetricSnapshot {
  Descriptor descriptor;
  std::vector<SeriesSnapshot> series;  // labelled: sorted by label

  // The value of the series `label` (empty: the unlabelled series); 0 when absent.
  std::int64_t Value(std::string_view label = {}) const;
  WindowCounts Windows(std::string_view label = {}) const;
  // A family's values and windows summed over every label.
  std::int64_t Sum() const;
  WindowCounts SumWindows() const;
};

struct BusSnapshot {
  std::int64_t taken_at = 0;  // Clock steady seconds
  std::vector<MetricSnapshot> metrics;

  const MetricSnapshot* Find(std::string_view name) const;
  // The value of `name` (unlabelled) or of its series `label`; 0 when absent.
  std::int64_t Value(std::string_view name, std::string_view label = {}) const;
  WindowCounts Windows(std::string_view name, std::string_view label = {}) const;
};

// A declared metric: one series, or a family keyed by one label. Thread-safety: thread-safe.
class Metric {
 public:
  Metric(const Descriptor& descriptor, const Clock& time);

  const Descriptor& descriptor() const { return descriptor_; }
  bool labelled() const { return !descriptor_.label.empty(); }
  // Unlabelled metrics: the series. (On a labelled metric: the series with an empty label.)
  Series& series() { return *scalar_; }
  // Labelled metrics: the series for `label`, created on first use. Never null.
  std::shared_ptr<Series> With(std::string_view label);
  // Convenience for publishers that do not keep the pointer.
  void Add(std::string_view label, std::int64_t n) { With(label)->Add(n); }
  void Set(std::string_view label, std::int64_t value) { With(label)->Set(value); }

  std::size_t series_count() const;
  std::size_t ExpireIdle(std::int64_t now, std::int64_t idle_seconds);
  MetricSnapshot Snapshot() const;

 private:
  Descriptor descriptor_;
  const Clock& time_;
  std::shared_ptr<Series> scalar_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Series>> family_;
};

// The registry. Thread-safety: thread-safe (see the header comment for Register()).
class Registry {
 public:
  explicit Registry(const Clock& time, std::int64_t idle_seconds = 65 * 60);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Declares a subsystem's list; returns its metrics in list order. A name declared twice returns
  // the existing metric (so two instances of a subsystem, or two publishers of one list, share
  // their series); declaring it again with another type or label is an invariant violation.
  std::vector<Metric*> Register(std::span<const Descriptor> list);
  Metric* Find(std::string_view name) const;

  // Removes idle labelled series; returns how many.
  std::size_t ExpireIdle();
  BusSnapshot Snapshot() const;
  const Clock& time() const { return time_; }

 private:
  const Clock& time_;
  std::int64_t idle_seconds_;
  mutable std::mutex mu_;  // guards metrics_ (registration only; metrics are stable)
  std::vector<std::unique_ptr<Metric>> metrics_;
};

}  // namespace outpost::bus
