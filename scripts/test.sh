#!/usr/bin/env bash
# The test command: installs dependencies, builds once, runs every suite from that build, then the
# sanitizer builds: ASan + UBSan (unit tests, and a subset of the integration tests against the
# ASan outpostd) and ThreadSanitizer (unit tests, and a small integration subset against the TSan
# outpostd, outpost_exporter, outpost-isp-sim and outpostctl), then a short libFuzzer run of every
# target (scripts/fuzz.sh). It ends with one line "tests: N passed, M failed" over every ctest run.
# OUTPOST_SKIP_ASAN=1, OUTPOST_SKIP_TSAN=1, OUTPOST_SKIP_FUZZ=1 skip a stage.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every ctest run's output also goes to this log; the last line sums them up.
results=$(mktemp)
trap 'rm -f "$results"' EXIT
bash scripts/build.sh default
ctest --preset default -j2 --timeout 600 | tee -a "$results"
bash scripts/check-format.sh
if [ "${OUTPOST_SKIP_ASAN:-0}" != 1 ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j2 --timeout 600 | tee -a "$results"
  # Integration tests against the sanitized daemon (OUTPOST_BIN=build-asan/bin is set by CTest for
  # this build tree): the abuse matrix, crash recovery, the faulty-receiver / crash-loop runs, and
  # the delivery paths (outcomes and DSNs, backoff and the graceful close, the TLS fallback).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    ctest --test-dir build-asan -L integration --output-on-failure --timeout 900 \
    -R 'integration_test_(smtp_abuse|smtp_injection|crash_recovery|reliability_receivers|reliability_crash_loop|delivery_(smoke|outcomes|backoff|tls_fallback))$' \
    | tee -a "$results"
fi
if [ "${OUTPOST_SKIP_TSAN:-0}" != 1 ]; then
  cmake --preset tsan >/dev/null
  cmake --build build-tsan --target tests/all outpostd outpost_exporter outpost-isp-sim outpostctl
  # setarch -R: gcc 12's TSan cannot map its shadow with the kernel's full mmap randomization.
  setarch "$(uname -m)" -R ctest --preset tsan -j2 --timeout 600 | tee -a "$results"
  # Integration tests against the TSan daemons (OUTPOST_BIN=build-tsan/bin, set by CTest): the
  # threaded paths (SMTP in + spool thread, delivery workers, management API and outpostctl,
  # exporter ingest and scrape threads, the abuse matrix's TLS and AUTH paths); about 1 minute.
  # Reports go to files (log_path), one per process: the pytest plugin harness/sanitizer_reports.py
  # fails the test during which one appeared, and any report left (e.g. from a module fixture's
  # teardown) fails the stage below. halt_on_error stops the process; its exit code is 66.
  tsan_logs=$(mktemp -d)
  OUTPOST_SANITIZER_LOG_DIR="$tsan_logs" PYTHONPATH="$PWD/tests/integration" \
    PYTEST_ADDOPTS="-p harness.sanitizer_reports" \
    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 log_path=$tsan_logs/tsan" \
    setarch "$(uname -m)" -R ctest --test-dir build-tsan -L integration --output-on-failure \
    --timeout 900 \
    -R 'integration_test_(delivery_smoke|smtp_(injection|abuse)|mgmt_(api|outpostctl)|exporter_status)$' \
    | tee -a "$results"
  if [ -n "$(ls -A "$tsan_logs")" ]; then
    echo "ThreadSanitizer reports from the integration tests:" >&2
    cat "$tsan_logs"/* >&2
    exit 1
  fi
  rm -rf "$tsan_logs"
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
