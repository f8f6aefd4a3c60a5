#!/usr/bin/env bash
# The test command: installs dependencies, builds once, runs every suite from that build, then the
# sanitizer builds: ASan + UBSan (unit tests, and a subset of the integration tests against the
# ASan outpostd) and ThreadSanitizer (unit tests only: the TSan build compiles only the test folders (tests/all) to
# keep CI time down), then a short libFuzzer run of every target (scripts/fuzz.sh).
# OUTPOST_SKIP_ASAN=1, OUTPOST_SKIP_TSAN=1, OUTPOST_SKIP_FUZZ=1 skip a stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh default
ctest --preset default -j2 --timeout 600
bash scripts/check-format.sh
if [ "${OUTPOST_SKIP_ASAN:-0}" != 1 ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j2 --timeout 600
  # Integration tests against the sanitized daemon (OUTPOST_BIN=build-asan/bin is set by CTest for
  # this build tree): the abuse matrix, crash recovery and the faulty-receiver / crash-loop runs.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    ctest --test-dir build-asan -L integration --output-on-failure --timeout 900 \
    -R 'integration_test_(smtp_abuse|smtp_injection|crash_recovery|reliability_receivers|reliability_crash_loop|delivery_smoke)$'
fi
if [ "${OUTPOST_SKIP_TSAN:-0}" != 1 ]; then
  cmake --preset tsan >/dev/null
  cmake --build build-tsan --target tests/all
  # setarch -R: gcc 12's TSan cannot map its shadow with the kernel's full mmap randomization.
  setarch "$(uname -m)" -R ctest --preset tsan -j2 --timeout 600
fi
if [ "${OUTPOST_SKIP_FUZZ:-0}" != 1 ]; then
  # Every libFuzzer target replays its seed corpus (regressions included), then fuzzes briefly.
  bash scripts/fuzz.sh "${OUTPOST_FUZZ_SECONDS:-10}"
fi
