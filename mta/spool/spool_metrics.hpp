// What the spool contributes to the metrics bus: one list, mapping bus metrics to the fields of
// spool::SpoolStats (spool.hpp), kept here so that a new SpoolStats figure and its metric are
// declared side by side. The list is a plain macro: this header includes nothing and mta/spool
// does not link the bus (the committer and compaction threads keep their own counters, read by
// Spool::Stats(); docs/architecture.md, "Management plane and metrics bus").
// mgmt/daemon_metrics.hpp instantiates the list and mirrors Spool::Stats() once a second
// (mta/bus/stats.hpp explains the entry shape: kind, bus name, source field, unit, help).
//
// Thread-safety: a macro; no code.
#pragma once

// clang-format off
#define OUTPOST_SPOOL_METRICS(X)                                                                  \
  X(Gauge, spool_entries, entries, "messages", "Live messages in the spool.")                     \
  X(Gauge, spool_bytes, bytes, "bytes", "Bytes of spool segment files on disk.")                  \
  X(Gauge, spool_healthy, healthy, "bool", "1 when the spool accepts commits, 0 when it refuses mail.") \
  X(Counter, spool_damaged_total, damaged_total, "entries",                                       \
    "Spool entries set aside as damaged since start.")                                            \
  X(Gauge, spool_live_bytes, live_bytes, "bytes",                                                 \
    "Bytes of live spool entries (what a fully compacted spool would hold on disk).")             \
  X(Counter, spool_compactions_total, compactions, "segments",                                    \
    "Spool segments emptied by compaction (live entries copied forward) and deleted since start.") \
  X(Counter, spool_compaction_copied_bytes_total, compaction_bytes_copied, "bytes",               \
    "Bytes of live entries compaction copied forward since start.")                               \
  X(Counter, spool_compaction_reclaimed_bytes_total, compaction_bytes_reclaimed, "bytes",         \
    "Bytes of segment files compaction deleted since start.")                                     \
  X(Counter, spool_compaction_errors_total, compaction_errors, "errors",                          \
    "Failed compaction attempts since start.")
// clang-format on
