#!/usr/bin/env bash
# The main job: builds Outpost if needed, then starts outpostd on local defaults
# (SMTP on 127.0.0.1:2525, files under .run/) and drives a small demo workload into it.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/build.sh default

run="$root/.run"
mkdir -p "$run"
cp etc/outpost-local.conf "$run/outpost.conf"
build/bin/outpostd --check-config "$run/outpost.conf"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo: stopped"
}
trap cleanup INT TERM EXIT

build/bin/outpostd --config "$run/outpost.conf" --port-file "$run/ports" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$run/ports" ] && break; sleep 0.1; done
[ -s "$run/ports" ] || { echo "demo: outpostd did not start; see $run/outpostd.log" >&2; exit 1; }

echo "demo: outpostd accepting mail on $(awk '{print $2}' "$run/ports")"
echo "demo: injecting 2000 x 4 KB messages with smtp-source (20 sessions)"
smtp-source -s 20 -m 2000 -l 4096 -f demo@example.com -t user@example.net 127.0.0.1:2525
echo "demo: accounting file $run/acct.csv: $(grep -c '^r,' "$run/acct.csv" || true) r records"
echo "demo: log $run/outpostd.log; spool $run/spool"
echo "demo: try: swaks --server 127.0.0.1:2525 --to you@example.net"
echo "demo: press Ctrl-C to stop"
wait "${pids[0]}"
