// What the DNS resolver contributes to the metrics bus: one list, mapping bus metrics to the
// fields of dns::ResolverStats (resolver.hpp), kept here so that a new ResolverStats figure and
// its metric are declared side by side. The list is a plain macro: this header includes nothing
// and mta/dns does not link the bus (docs/architecture.md, "Management plane and metrics bus");
// mgmt/daemon_metrics.hpp instantiates it and mirrors Resolver::Stats() once a second
// (mta/bus/stats.hpp explains the entry shape: kind, bus name, source field, unit, help).
//
// Thread-safety: a macro; no code.
#pragma once

// clang-format off
#define OUTPOST_RESOLVER_METRICS(X)                                                               \
  X(Gauge, dns_cache_entries, cache_entries, "entries", "Entries in the DNS cache.")              \
  X(Counter, dns_cache_hits_total, cache_hits, "lookups", "DNS lookups answered from the cache.") \
  X(Counter, dns_cache_misses_total, cache_misses, "lookups", "DNS lookups that missed the cache.") \
  X(Counter, dns_queries_total, queries, "queries", "Queries sent to the DNS server.")            \
  X(Counter, dns_failures_total, failures, "failures", "Temporary DNS failures.")
// clang-format on
