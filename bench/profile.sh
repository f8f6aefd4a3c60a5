#!/usr/bin/env bash
# Profiles outpostd while it relays (bench/relay.sh's outpostd leg under perf record): prints where
# the CPU samples went, by shared object and by symbol. Software clock sampling (-e cpu-clock), so
# it works on VMs without hardware counters; perf comes from Debian's linux-perf.
# Usage: bench/profile.sh [MESSAGES=300] [SIZE=1048576] [SESSIONS=20]   (env: OUTPOST_BIN, TOP=15,
#        PERF_DATA=$TMPDIR/outpost-relay.perf.data — kept for `perf report -i` afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-300}
size=${2:-1048576}
sessions=${3:-20}
top=${TOP:-15}
data=${PERF_DATA:-${TMPDIR:-/tmp}/outpost-relay.perf.data}
if ! command -v perf >/dev/null; then  # from Debian's packages, as bench/run installs its peers
  [ "$(id -u)" = 0 ] || { echo "profile.sh: perf missing (apt-get install linux-perf)" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
fi
PATHS=outpostd OUTPOST_WRAP="perf record -q -e cpu-clock -g -o $data" \
  bash bench/relay.sh "$messages" 1 "$sessions" "$size" | grep -E '^rep|^median'
echo "--- samples by shared object"
perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -Ev '^#|^$' | head -6
echo "--- samples by symbol (top $top)"
perf report -i "$data" --stdio --no-children --sort sym -g none 2>/dev/null | grep -Ev '^#|^$' |
  head -"$top"
echo "perf data: $data"
