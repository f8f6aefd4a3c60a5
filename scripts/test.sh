#!/usr/bin/env bash
# The test command: installs dependencies, builds once, runs every suite from that build, then the
# sanitizer builds: ASan + UBSan and ThreadSanitizer, each running the unit tests and the
# integration tests against its own build of every binary, then a short libFuzzer run of every
# target (scripts/fuzz.sh). It ends with one line "tests: N passed, M failed" over every ctest run.
# OUTPOST_SKIP_ASAN=1, OUTPOST_SKIP_TSAN=1, OUTPOST_SKIP_FUZZ=1 skip a stage.
# Not here (opt-in): the compose stack in containers, bash scripts/test-containers.sh (a first
# image build takes minutes more than CI's budget allows).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every ctest run's output also goes to this log; the last line sums them up.
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# The disk the builds and the tests' spools share: a spool below spool-min-free answers 452, so a
# nearly full disk shows up as test failures; this line tells that cause from a defect.
df -h . "${TMPDIR:-/tmp}" || true
bash scripts/build.sh default
ctest --preset default -j2 --timeout 600 | tee -a "$results"
bash scripts/check-format.sh
# Integration tests under a sanitizer: every one that starts our binaries (not the benchmark
# harness's smoke run, not the alert-rule checks, which start none), against the sanitized
# builds (OUTPOST_BIN=build-asan/bin or build-tsan/bin, set by CTest). Reports go to files
# (log_path), one per process: the pytest plugin harness/sanitizer_reports.py fails the test
# during which one appeared, and any report left (e.g. from a module fixture's teardown) fails
# the stage. The sanitizer also stops the process (halt_on_error / abort_on_error).
sanitized_integration() {  # BUILD_DIR OPTIONS_VAR OPTIONS [WRAPPER...]
  local dir=$1 var=$2 opts=$3 logs
  shift 3
  logs=$(mktemp -d)
  # outpostd started as root drops to an unprivileged user (run-as-root no): it must still be able
  # to write its report there.
  chmod 1777 "$logs"
  env OUTPOST_SANITIZER_LOG_DIR="$logs" PYTHONPATH="$PWD/tests/integration" \
    PYTEST_ADDOPTS="-p harness.sanitizer_reports" \
    "$var=$opts:log_path=$logs/report" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan" \
    "$@" ctest --test-dir "$dir" -L integration -j2 --output-on-failure --timeout 900 \
    -E 'integration_test_(bench_smoke|alert_rules)$' | tee -a "$results"
  if [ -n "$(ls -A "$logs")" ]; then
    echo "Sanitizer reports from the integration tests ($dir):" >&2
    cat "$logs"/* >&2
    exit 1
  fi
  rm -rf "$logs"
}
if [ "${OUTPOST_SKIP_ASAN:-0}" != 1 ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j2 --timeout 600 | tee -a "$results"
  sanitized_integration build-asan ASAN_OPTIONS "detect_leaks=1:abort_on_error=1"
fi
if [ "${OUTPOST_SKIP_TSAN:-0}" != 1 ]; then
  # The tsan preset compiles at -O2 -g1 (line tables only: less to compile than -O2 -g, and its
  # reports still name file and line). Not -O1: gcc 12 then inlines asio's coroutine frames so
  # that -Wmismatched-new-delete fires (a false positive) and -Werror stops the build.
  cmake --preset tsan >/dev/null
  cmake --build build-tsan
  # setarch -R: gcc 12's TSan cannot map its shadow with the kernel's full mmap randomization.
  setarch "$(uname -m)" -R ctest --preset tsan -j2 --timeout 600 | tee -a "$results"
  # halt_on_error stops the process; its exit code is 66.
  sanitized_integration build-tsan TSAN_OPTIONS \
    "halt_on_error=1:exitcode=66:second_deadlock_stack=1" setarch "$(uname -m)" -R
fi
if [ "${OUTPOST_SKIP_FUZZ:-0}" != 1 ]; then
  # Every libFuzzer target replays its seed corpus (regressions included), then fuzzes briefly.
  bash scripts/fuzz.sh "${OUTPOST_FUZZ_SECONDS:-10}"
fi
# The closing line: every test of every ctest run above (a failure has already stopped the script).
awk '/tests passed, [0-9]+ tests failed out of [0-9]+/ {
       for (i = 1; i <= NF; i++) if ($i == "of") total += $(i + 1);
       for (i = 1; i <= NF; i++) if ($i == "failed" && $(i - 1) == "tests") failed += $(i - 2);
     }
     END { printf "tests: %d passed, %d failed\n", total - failed, failed }' "$results"
