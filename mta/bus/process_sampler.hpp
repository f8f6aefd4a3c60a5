// The process sampler: reads the process's own resource use and publishes it on the bus
// (OUTPOST_PROCESS_METRICS below): RSS and swap (VmRSS / VmSwap of /proc/self/status), open file
// descriptors (entries of /proc/self/fd) and their soft limit (RLIMIT_NOFILE), the spool file
// system's used and free bytes (statvfs on the spool directory), CPU time (getrusage, user +
// system), uptime (the bus's Clock since construction) and the invariant violations counted so
// far (common/invariant.hpp).
//
// Errors: a reading that fails (no /proc, statvfs error) leaves its gauge at the previous value;
// Sample() reports how many readings failed so a caller can log it once.
// Cost: one small file read, one directory scan, three system calls; meant for once a second.
//
// Thread-safety: not thread-safe; call Sample() from one thread (the gauges it sets are safe to
// read from anywhere).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mta/bus/stats.hpp"

// clang-format off
#define OUTPOST_PROCESS_METRICS(X)                                                                \
  X(Gauge, process_resident_memory_bytes, "", "bytes", "Resident set size (VmRSS).")              \
  X(Gauge, process_swap_bytes, "", "bytes", "Swapped-out memory (VmSwap).")                       \
  X(Gauge, process_open_fds, "", "descriptors", "Open file descriptors.")                         \
  X(Gauge, process_max_fds, "", "descriptors", "The soft RLIMIT_NOFILE.")                         \
  X(Gauge, spool_disk_used_bytes, "", "bytes", "Used bytes of the spool's file system.")          \
  X(Gauge, spool_disk_free_bytes, "", "bytes",                                                    \
    "Bytes available to outpostd on the spool's file system.")                                    \
  X(Counter, process_cpu_milliseconds_total, "", "milliseconds", "User + system CPU time.")       \
  X(Gauge, process_uptime_seconds, "", "seconds", "Seconds since outpostd started.")              \
  X(Counter, invariant_violations_total, "", "violations",                                        \
    "Impossible states detected (OUTPOST_INVARIANT) since start: each one is a bug to report.")
// clang-format on

namespace outpost::bus {

OUTPOST_DEFINE_STATS(ProcessMetrics, OUTPOST_PROCESS_METRICS);

// VmRSS and VmSwap of a /proc/PID/status text, in bytes (nullopt when absent).
struct ProcStatus {
  std::optional<std::int64_t> rss_bytes;
  std::optional<std::int64_t> swap_bytes;
};
ProcStatus ParseProcStatus(std::string_view text);

class ProcessSampler {
 public:
  ProcessSampler(Registry& registry, std::string spool_dir);
  // Reads everything and sets the gauges; returns the number of readings that failed.
  int Sample();

 private:
  ProcessMetrics metrics_;
  std::string spool_dir_;
  std::int64_t started_;
  const Clock& time_;
};

}  // namespace outpost::bus
