#!/usr/bin/env bash
# The full reliability run: the crash loop with N rounds (default 20), the kill -9 loop during
# spool compaction (N rounds) and the 50,000-message compaction scenario, the accounting-disk-full,
# faulty-receiver, TLS-fallback and abuse tests, the spool-disk-full and exporter fault tests; every figure
# (what was tried, how many times, what was lost) is rendered into docs/reliability.md.
#
# Usage: scripts/reliability.sh [ROUNDS]     (env: OUTPOST_BIN=build/bin, OUTPOST_RELIABILITY_SEED,
#                                             OUTPOST_CRASH_MESSAGES=2000)
# Needs root for the tmpfs-backed disk-full tests (they are skipped otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
export OUTPOST_BIN="${OUTPOST_BIN:-$PWD/build/bin}"
export OUTPOST_SOURCE="$PWD"
export OUTPOST_CRASH_ROUNDS="$rounds"
export OUTPOST_COMPACTION_ROUNDS="$rounds"
export OUTPOST_COMPACTION_MESSAGES="${OUTPOST_COMPACTION_MESSAGES:-50000}"
export OUTPOST_RELIABILITY_SEED="${OUTPOST_RELIABILITY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
report="$(mktemp -d)"
export OUTPOST_RELIABILITY_REPORT="$report"
trap 'rm -rf "$report"' EXIT
python=/usr/bin/python3
[ -x "$python" ] || python=python3
status=0
"$python" -m pytest -q -p no:cacheprovider -rs \
  tests/integration/test_reliability_crash_loop.py \
  tests/integration/test_spool_compaction.py \
  tests/integration/test_reliability_acct_disk_full.py \
  tests/integration/test_reliability_receivers.py \
  tests/integration/test_smtp_abuse.py \
  tests/integration/test_crash_recovery.py \
  tests/integration/test_spool_disk_full.py \
  tests/integration/test_exporter_rotation_storm.py \
  tests/integration/test_exporter_status.py \
  tests/integration/test_exporter_dir_recreate.py \
  tests/integration/test_delivery_tls_fallback.py \
  --junitxml="$report/junit.xml" || status=$?
"$python" scripts/reliability_report.py "$report" docs/reliability.md
echo "figures written to docs/reliability.md (pytest exit status $status)"
exit "$status"
