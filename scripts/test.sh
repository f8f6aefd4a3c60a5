#!/usr/bin/env bash
# The test command: installs dependencies, builds once, runs every suite from that build, then the
# sanitizer build's unit tests and the formatting check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh default
ctest --preset default -j2 --timeout 600
bash scripts/check-format.sh
if [ "${OUTPOST_SKIP_ASAN:-0}" != 1 ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j2 --timeout 600
fi
