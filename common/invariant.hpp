// Invariant checks: what the code relies on but cannot prove at compile time.
//
//   if (!OUTPOST_INVARIANT(index < recipients.size(), "recipient index in range")) return;
//
// OUTPOST_INVARIANT(cond, what) evaluates `cond` once. When it holds, it is true and costs a
// branch. When it does not: the violation is counted (InvariantViolations(), published by
// outpostd as outpost_invariant_violations_total), reported through the reporter (outpostd's log;
// stderr until one is set), and then
// * in debug and sanitizer builds (OUTPOST_INVARIANTS_ABORT, set by CMake) the process aborts, so
//   tests and fuzzers stop at the first impossible state;
// * in release builds the macro is false and the caller takes its recovery path (drop the bad
//   record, defer the recipient): a production MTA keeps delivering the rest of its mail.
// A recovery path never hides the violation: it is always counted and logged.
//
// Thread-safety: thread-safe (the count is atomic; set the reporter before starting threads).
#pragma once

#include <cstdint>
#include <string_view>

namespace outpost {

using InvariantReporter = void (*)(std::string_view message);
void SetInvariantReporter(InvariantReporter reporter);
std::uint64_t InvariantViolations();

// Counts, reports and (in checking builds) aborts; returns false. Use the macro.
bool InvariantFailed(const char* condition, std::string_view what, const char* file, int line);

}  // namespace outpost

#define OUTPOST_INVARIANT(cond, what) \
  (static_cast<bool>(cond) ? true : ::outpost::InvariantFailed(#cond, (what), __FILE__, __LINE__))
