// The process sampler: reads the process's own resource use and publishes it on the bus
// (catalog.hpp, kProcessMetrics): RSS and swap (VmRSS / VmSwap of /proc/self/status), open file
// descriptors (entries of /proc/self/fd) and their soft limit (RLIMIT_NOFILE), the spool file
// system's used and free bytes (statvfs on the spool directory), CPU time (getrusage, user +
// system) and uptime (the bus's Clock since construction).
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

#include "mta/bus/catalog.hpp"

namespace outpost::bus {

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
  Group<Process> metrics_;
  std::string spool_dir_;
  std::int64_t started_;
  const Clock& time_;
};

}  // namespace outpost::bus
