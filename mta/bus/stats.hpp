// Declaring stats once: a subsystem lists its metrics in one X-macro, and that one list yields the
// descriptors (names, kinds, units, help), a struct of Metric references for the publisher and a
// struct of typed snapshots for readers. Nothing else names a metric: publishers write
// `stats.spool_entries.series().Set(n)`, the status API reads `snap.spool_entries.Value()`, and a
// typo or a removed metric is a compile error, not a silent zero. (The model is Envoy's stats
// macros; this is our own, smaller take on it.)
//
// A list is a macro taking one generator, X, applied to every entry. Two entry shapes:
//
//  * Owned lists: the producer links the bus and updates the metrics itself (the accounting
//    sink, the management plane, the process sampler, the queue publisher):
//      #define OUTPOST_MGMT_METRICS(X)  [one entry per line, lines joined by backslashes]
//        X(Counter, config_reloads_total, "", "reloads", "Configuration reloads applied.")
//        X(Windowed, domain_delivered_total, "domain", "recipients", "Delivered, by domain.")
//      OUTPOST_DEFINE_STATS(MgmtMetrics, OUTPOST_MGMT_METRICS);
//    The third field is the label name ("" for a single series, else a family by that label).
//
//  * Sampled lists: a low-level library (spool, dns, smtp, delivery) keeps its own plain
//    counters (no bus, no clock on its hot paths; see docs/architecture.md) and the list, kept
//    beside that library's Stats struct in a header that includes nothing, maps each metric to a
//    field of it:
//      #define OUTPOST_SPOOL_METRICS(X)
//        X(Gauge, spool_entries, entries, "messages", "Live messages in the spool.")
//      OUTPOST_DEFINE_SAMPLED_STATS(SpoolMetrics, OUTPOST_SPOOL_METRICS);
//    The third field is the source field; the generated `Publish(const Source&)` mirrors every
//    field (Series::Mirror: gauges are set, counters advance to the producer's total and never go
//    down). Sampled metrics are single series.
//
// Kinds are the tokens Counter, Gauge, Windowed (bus::MetricType::kCounter, ...). Names are
// snake_case in base units; a `_total` name is a Counter or Windowed, never a Gauge
// (tests/unit/mgmt/daemon_metrics_test.cpp checks every declared list).
//
// Each generated struct S has:
//   Metric& <name>...;                       the metrics, in list order
//   struct Snapshot { MetricSnapshot <name>...; };
//   static constexpr Descriptor kDescriptors[];
//   static S Register(Registry&);            one Register call for the whole list
//   Snapshot Take() const;                   copies every metric (Metric::Snapshot)
//   void Publish(const Source&) const;       sampled lists only (a template on Source)
// Registering the same list twice returns the same metrics (Registry::Register shares by name),
// so two producers of one list, or a producer and a reader, each call Register.
//
// Invariant: the struct's members, the descriptors and the snapshot come from one expansion of
// one list, so they cannot disagree in order or length.
// Thread-safety: as Metric (thread-safe); Register() before sharing, as Registry::Register.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "mta/bus/bus.hpp"

namespace outpost::bus {

// A producer's field as a reading: integers as they are, booleans as 1 / 0.
template <typename T>
constexpr std::int64_t Reading(T value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? 1 : 0;
  } else {
    return static_cast<std::int64_t>(value);
  }
}

}  // namespace outpost::bus

// Generators (an entry is X(kind, name, label-or-field, unit, help)).
#define OUTPOST_STAT_REF(kind, name, ...) ::outpost::bus::Metric& name;
#define OUTPOST_STAT_SNAPSHOT(kind, name, ...) ::outpost::bus::MetricSnapshot name;
#define OUTPOST_STAT_BIND(kind, name, ...) *metrics[next++],
#define OUTPOST_STAT_TAKE(kind, name, ...) name.Snapshot(),
#define OUTPOST_STAT_DESCRIPTOR(kind, name, label, unit, help) \
  ::outpost::bus::Descriptor{#name, help, ::outpost::bus::MetricType::k##kind, unit, label},
#define OUTPOST_SAMPLED_DESCRIPTOR(kind, name, field, unit, help) \
  ::outpost::bus::Descriptor{#name, help, ::outpost::bus::MetricType::k##kind, unit, ""},
#define OUTPOST_SAMPLED_PUBLISH(kind, name, field, unit, help) \
  name.series().Mirror(::outpost::bus::Reading(source.field));

// The members every generated struct has (see the header comment).
#define OUTPOST_STATS_MEMBERS_(Struct, LIST, DESCRIPTOR)                                  \
  LIST(OUTPOST_STAT_REF)                                                                  \
  struct Snapshot {                                                                       \
    LIST(OUTPOST_STAT_SNAPSHOT)                                                           \
  };                                                                                      \
  static constexpr ::outpost::bus::Descriptor kDescriptors[] = {LIST(DESCRIPTOR)};        \
  static Struct Register(::outpost::bus::Registry& registry) {                            \
    const std::vector<::outpost::bus::Metric*> metrics = registry.Register(kDescriptors); \
    std::size_t next = 0; /* braced initialisation runs left to right: list order */      \
    return Struct{LIST(OUTPOST_STAT_BIND)};                                               \
  }                                                                                       \
  Snapshot Take() const { return Snapshot{LIST(OUTPOST_STAT_TAKE)}; }

// An owned list: X(kind, name, label, unit, help).
#define OUTPOST_DEFINE_STATS(Struct, LIST)                        \
  struct Struct {                                                 \
    OUTPOST_STATS_MEMBERS_(Struct, LIST, OUTPOST_STAT_DESCRIPTOR) \
  }

// A sampled list: X(kind, name, field, unit, help), mirrored from a producer's Stats struct.
#define OUTPOST_DEFINE_SAMPLED_STATS(Struct, LIST)                   \
  struct Struct {                                                    \
    OUTPOST_STATS_MEMBERS_(Struct, LIST, OUTPOST_SAMPLED_DESCRIPTOR) \
    template <typename Source>                                       \
    void Publish(const Source& source) const {                       \
      LIST(OUTPOST_SAMPLED_PUBLISH)                                  \
    }                                                                \
  }
