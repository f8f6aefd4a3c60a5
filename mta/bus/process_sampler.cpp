#include "mta/bus/process_sampler.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/invariant.hpp"

namespace outpost::bus {
namespace {

// "VmRSS:	    1234 kB" -> 1234 * 1024.
std::optional<std::int64_t> KiloBytesField(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    std::string rest(line.substr(key.size() + 1));
    char* end = nullptr;
    long long kb = std::strtoll(rest.c_str(), &end, 10);
    if (end == rest.c_str()) return std::nullopt;
    return static_cast<std::int64_t>(kb) * 1024;
  }
  return std::nullopt;
}

}  // namespace

ProcStatus ParseProcStatus(std::string_view text) {
  return {KiloBytesField(text, "VmRSS"), KiloBytesField(text, "VmSwap")};
}

ProcessSampler::ProcessSampler(Registry& registry, std::string spool_dir)
    : metrics_(ProcessMetrics::Register(registry)),
      spool_dir_(std::move(spool_dir)),
      started_(registry.time().MonoSeconds()),
      time_(registry.time()) {}

int ProcessSampler::Sample() {
  int failures = 0;
  {
    std::ifstream in("/proc/self/status");
    std::stringstream buffer;
    buffer << in.rdbuf();
    ProcStatus status = ParseProcStatus(buffer.str());
    if (status.rss_bytes) {
      metrics_.process_resident_memory_bytes.series().Set(*status.rss_bytes);
    } else {
      ++failures;
    }
    // VmSwap is absent on kernels without swap accounting: that is zero, not a failure.
    metrics_.process_swap_bytes.series().Set(status.swap_bytes.value_or(0));
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    std::int64_t count = 0;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
    metrics_.process_open_fds.series().Set(count - 1);  // not the one opendir used
  } else {
    ++failures;
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    metrics_.process_max_fds.series().Set(
        limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<std::int64_t>(limit.rlim_cur));
  } else {
    ++failures;
  }
  struct statvfs fs {};
  if (!spool_dir_.empty() && ::statvfs(spool_dir_.c_str(), &fs) == 0) {
    const auto frsize = static_cast<std::int64_t>(fs.f_frsize);
    metrics_.spool_disk_used_bytes.series().Set(
        static_cast<std::int64_t>(fs.f_blocks - fs.f_bfree) * frsize);
    metrics_.spool_disk_free_bytes.series().Set(static_cast<std::int64_t>(fs.f_bavail) * frsize);
  } else {
    ++failures;
  }
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    const std::int64_t ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
                            (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
    metrics_.process_cpu_milliseconds_total.series().AdvanceTo(ms);
  } else {
    ++failures;
  }
  metrics_.process_uptime_seconds.series().Set(time_.MonoSeconds() - started_);
  metrics_.invariant_violations_total.series().AdvanceTo(
      static_cast<std::int64_t>(InvariantViolations()));
  return failures;
}

}  // namespace outpost::bus
