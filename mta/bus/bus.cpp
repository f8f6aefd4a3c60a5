#include "mta/bus/bus.hpp"

#include <algorithm>
#include <chrono>

#include "common/invariant.hpp"

namespace outpost::bus {
namespace {

constexpr int kCountBits = 36;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
constexpr std::uint64_t kEpochMask = (std::uint64_t{1} << (64 - kCountBits)) - 1;

std::uint64_t EpochTag(std::int64_t epoch) {
  return static_cast<std::uint64_t>(epoch) & kEpochMask;
}
std::uint64_t Pack(std::int64_t epoch, std::uint64_t count) {
  return (EpochTag(epoch) << kCountBits) | (count & kCountMask);
}
std::int64_t EpochOf(std::int64_t now) {
  // Floor division, so that negative fake times still map to consistent buckets.
  return now >= 0 ? now / kBucketSeconds : -((-now + kBucketSeconds - 1) / kBucketSeconds);
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kWindowed:
      return "windowed";
  }
  return "counter";
}

Series::Series(MetricType type, const Clock& time)
    : type_(type), time_(time), last_update_(time.MonoSeconds()) {
  if (type_ == MetricType::kWindowed) {
    buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(kBuckets);
    // Tag every bucket with an epoch that cannot be current, so it reads as empty.
    const std::int64_t stale = EpochOf(time.MonoSeconds()) - static_cast<std::int64_t>(kBuckets);
    for (std::size_t i = 0; i < kBuckets; ++i) {
      buckets_[i].store(Pack(stale, 0), std::memory_order_relaxed);
    }
  }
}

void Series::Add(std::int64_t n) {
  value_.fetch_add(n, std::memory_order_relaxed);
  const std::int64_t now = time_.MonoSeconds();
  last_update_.store(now, std::memory_order_relaxed);
  CountInWindow(now, n);
}

void Series::CountInWindow(std::int64_t now, std::int64_t n) {
  if (!buckets_ || n <= 0) return;
  const std::int64_t epoch = EpochOf(now);
  auto& bucket = buckets_[static_cast<std::size_t>(((epoch % 360) + 360) % 360)];
  std::uint64_t word = bucket.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    const bool same = (word >> kCountBits) == EpochTag(epoch);
    next = same ? Pack(epoch, (word & kCountMask) + static_cast<std::uint64_t>(n))
                : Pack(epoch, static_cast<std::uint64_t>(n));
  } while (!bucket.compare_exchange_weak(word, next, std::memory_order_relaxed));
}

void Series::Set(std::int64_t value) {
  if (!OUTPOST_INVARIANT(type_ == MetricType::kGauge, "bus: Set on a counter")) return;
  value_.store(value, std::memory_order_relaxed);
  last_update_.store(time_.MonoSeconds(), std::memory_order_relaxed);
}

void Series::AdvanceTo(std::int64_t total) {
  std::int64_t current = value_.load(std::memory_order_relaxed);
  while (total > current) {
    if (value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
      const std::int64_t now = time_.MonoSeconds();
      last_update_.store(now, std::memory_order_relaxed);
      CountInWindow(now, total - current);
      return;
    }
  }
}

void Series::Mirror(std::int64_t reading) {
  if (type_ == MetricType::kGauge) {
    Set(reading);
  } else {
    AdvanceTo(reading);
  }
}

std::int64_t Series::CountOver(std::int64_t seconds) const {
  if (!buckets_) return 0;
  const std::int64_t now_epoch = EpochOf(time_.MonoSeconds());
  std::int64_t n = (seconds + kBucketSeconds - 1) / kBucketSeconds;
  n = std::clamp<std::int64_t>(n, 0, static_cast<std::int64_t>(kBuckets));
  std::int64_t total = 0;
  for (std::int64_t e = now_epoch - n + 1; e <= now_epoch; ++e) {
    const std::uint64_t word =
        buckets_[static_cast<std::size_t>(((e % 360) + 360) % 360)].load(std::memory_order_relaxed);
    if ((word >> kCountBits) == EpochTag(e)) total += static_cast<std::int64_t>(word & kCountMask);
  }
  return total;
}

WindowCounts Series::Windows() const { return {CountOver(60), CountOver(300), CountOver(3600)}; }

Metric::Metric(const Descriptor& descriptor, const Clock& time)
    : descriptor_(descriptor),
      time_(time),
      scalar_(std::make_shared<Series>(descriptor.type, time)) {}

std::shared_ptr<Series> Metric::With(std::string_view label) {
  if (!labelled()) return scalar_;
  {
    std::shared_lock lock(mu_);
    auto it = family_.find(std::string(label));
    if (it != family_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  auto [it, inserted] = family_.try_emplace(std::string(label));
  if (inserted) it->second = std::make_shared<Series>(descriptor_.type, time_);
  return it->second;
}

std::size_t Metric::series_count() const {
  if (!labelled()) return 1;
  std::shared_lock lock(mu_);
  return family_.size();
}

std::size_t Metric::ExpireIdle(std::int64_t now, std::int64_t idle_seconds) {
  if (!labelled()) return 0;
  std::unique_lock lock(mu_);
  std::size_t removed = 0;
  for (auto it = family_.begin(); it != family_.end();) {
    const Series& s = *it->second;
    const bool idle = now - s.last_update() >= idle_seconds;
    const bool zero_gauge = s.type() != MetricType::kGauge || s.value() == 0;
    if (idle && zero_gauge) {
      it = family_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

MetricSnapshot Metric::Snapshot() const {
  MetricSnapshot out;
  out.descriptor = descriptor_;
  auto copy = [](const std::string& label, const Series& s) {
    SeriesSnapshot snap;
    snap.label = label;
    snap.value = s.value();
    if (s.type() == MetricType::kWindowed) snap.windows = s.Windows();
    return snap;
  };
  if (!labelled()) {
    out.series.push_back(copy({}, *scalar_));
    return out;
  }
  {
    std::shared_lock lock(mu_);
    out.series.reserve(family_.size());
    for (const auto& [label, series] : family_) out.series.push_back(copy(label, *series));
  }
  std::sort(out.series.begin(), out.series.end(),
            [](const SeriesSnapshot& a, const SeriesSnapshot& b) { return a.label < b.label; });
  return out;
}

std::int64_t MetricSnapshot::Value(std::string_view label) const {
  for (const auto& s : series) {
    if (s.label == label) return s.value;
  }
  return 0;
}

WindowCounts MetricSnapshot::Windows(std::string_view label) const {
  for (const auto& s : series) {
    if (s.label == label) return s.windows;
  }
  return {};
}

std::int64_t MetricSnapshot::Sum() const {
  std::int64_t total = 0;
  for (const auto& s : series) total += s.value;
  return total;
}

WindowCounts MetricSnapshot::SumWindows() const {
  WindowCounts w;
  for (const auto& s : series) {
    w.last_1m += s.windows.last_1m;
    w.last_5m += s.windows.last_5m;
    w.last_1h += s.windows.last_1h;
  }
  return w;
}

const MetricSnapshot* BusSnapshot::Find(std::string_view name) const {
  for (const auto& m : metrics) {
    if (m.descriptor.name == name) return &m;
  }
  return nullptr;
}

std::int64_t BusSnapshot::Value(std::string_view name, std::string_view label) const {
  const MetricSnapshot* m = Find(name);
  return m == nullptr ? 0 : m->Value(label);
}

WindowCounts BusSnapshot::Windows(std::string_view name, std::string_view label) const {
  const MetricSnapshot* m = Find(name);
  return m == nullptr ? WindowCounts{} : m->Windows(label);
}

Registry::Registry(const Clock& time, std::int64_t idle_seconds)
    : time_(time), idle_seconds_(idle_seconds) {}

std::vector<Metric*> Registry::Register(std::span<const Descriptor> list) {
  std::lock_guard lock(mu_);
  std::vector<Metric*> out;
  out.reserve(list.size());
  for (const Descriptor& d : list) {
    Metric* found = nullptr;
    for (const auto& m : metrics_) {
      if (m->descriptor().name == d.name) found = m.get();
    }
    if (found != nullptr) {
      OUTPOST_INVARIANT(found->descriptor().type == d.type && found->descriptor().label == d.label,
                        "bus: a metric name declared twice with another type or label");
    } else {
      metrics_.push_back(std::make_unique<Metric>(d, time_));
      found = metrics_.back().get();
    }
    out.push_back(found);
  }
  return out;
}

Metric* Registry::Find(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& m : metrics_) {
    if (m->descriptor().name == name) return m.get();
  }
  return nullptr;
}

std::size_t Registry::ExpireIdle() {
  std::lock_guard lock(mu_);
  const std::int64_t now = time_.MonoSeconds();
  std::size_t removed = 0;
  for (const auto& m : metrics_) removed += m->ExpireIdle(now, idle_seconds_);
  return removed;
}

BusSnapshot Registry::Snapshot() const {
  BusSnapshot out;
  out.taken_at = time_.MonoSeconds();
  std::lock_guard lock(mu_);
  out.metrics.reserve(metrics_.size());
  for (const auto& m : metrics_) out.metrics.push_back(m->Snapshot());
  return out;
}

}  // namespace outpost::bus
