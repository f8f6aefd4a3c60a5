#include "common/invariant.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace outpost {
namespace {

std::atomic<std::uint64_t> g_violations{0};
std::atomic<InvariantReporter> g_reporter{nullptr};

void WriteStderr(std::string_view message) {
  std::string line(message);
  line += '\n';
  // One write(2): a line is never interleaved with another thread's.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void SetInvariantReporter(InvariantReporter reporter) { g_reporter.store(reporter); }

std::uint64_t InvariantViolations() { return g_violations.load(std::memory_order_relaxed); }

bool InvariantFailed(const char* condition, std::string_view what, const char* file, int line) {
  g_violations.fetch_add(1, std::memory_order_relaxed);
  std::string message = "invariant violated: ";
  message += what;
  message += " (";
  message += condition;
  message += ") at ";
  message += file;
  message += ':';
  message += std::to_string(line);
  InvariantReporter reporter = g_reporter.load();
  (reporter ? reporter : WriteStderr)(message);
#ifdef OUTPOST_INVARIANTS_ABORT
  std::abort();
#else
  return false;
#endif
}

}  // namespace outpost
