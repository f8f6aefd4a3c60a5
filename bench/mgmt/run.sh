#!/usr/bin/env bash
# /status.json latency while outpostd relays at full speed.
#
# outpost-load injects into outpostd (SESSIONS sessions, 4 KB messages) for DURATION; outpostd
# relays everything to outpost-isp-sim (accepting) on loopback; meanwhile wrk requests
# /status.json at about 200 requests/s (4 connections, each paced to 50/s by paced.lua) and
# reports the latency distribution. Prints wrk's report and the relay figures.
# Usage: bench/mgmt/run.sh [--json] [DURATION_SECONDS=30] [SESSIONS=20] [BIN=build/bin]
# --json: also print, as the last line, one JSON object with wrk's latency figures and the relay
# figures (used by bench/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
json=0
[ "${1:-}" = --json ] && { json=1; shift; }
duration=${1:-30}
sessions=${2:-20}
bin=${3:-$root/build/bin}
for b in outpostd outpost-isp-sim outpost-load; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b (build it first)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/outpost-mgmt-bench-XXXXXX)
cleanup() {
  for p in ${load_pid:-} ${mta_pid:-} ${sim_pid:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; read -t 0.05 <> <(:) || true; done; return 1; }

cat > "$work/sim.conf" <<CONF
listen 127.0.0.1:0
stats-listen 127.0.0.1:0
<domain *> accept </domain>
CONF
"$bin/outpost-isp-sim" --config "$work/sim.conf" --port-file "$work/sim.ports" >/dev/null &
sim_pid=$!
wait_file "$work/sim.ports"
sim_smtp=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["smtp"])' "$work/sim.ports")
sim_stats=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"])' "$work/sim.ports")

cat > "$work/outpost.conf" <<CONF
smtp-listener 127.0.0.1:0
# Benchmarks run as root and keep it (no unprivileged user to set up).
run-as-root yes
spool $work/spool
host-name bench.outpost.test
log-file $work/outpostd.log
spool-min-free 1M
http-mgmt-port 127.0.0.1:0
http-access 127.0.0.1 admin
dns-server 127.0.0.1:1
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file $work/acct.csv>
  records d,b,t,tq,r
</acct-file>
<domain *>
  route [127.0.0.1]:${sim_smtp##*:}
  max-smtp-out 20
</domain>
CONF
"$bin/outpostd" --config "$work/outpost.conf" --port-file "$work/ports" &
mta_pid=$!
wait_file "$work/ports"
smtp=$(awk '$1=="smtp"{print $2; exit}' "$work/ports")
http=$(awk '$1=="http"{print $2; exit}' "$work/ports")

"$bin/outpost-load" --sessions "$sessions" --duration "${duration}s" --size 4k \
  --domains gmail.com:40,outlook.com:30,example.org:30 "$smtp" > "$work/load.txt" 2>&1 &
load_pid=$!
# Let the relay reach its steady state before measuring.
read -t 3 <> <(:) || true
echo "== wrk: GET /status.json at ~200 req/s for $((duration - 6))s during the relay"
echo "   wrk -t2 -c4 -d$((duration - 6))s --latency -s bench/mgmt/paced.lua http://$http/status.json"
RATE_PER_CONN=50 wrk -t2 -c4 -d"$((duration - 6))s" --latency -s bench/mgmt/paced.lua \
  "http://$http/status.json" | tee "$work/wrk.txt"
wait "$load_pid" || true
load_pid=
echo "== outpost-load summary"
tail -5 "$work/load.txt"
echo "== outpostd /status.json traffic after the run"
curl -s "http://$http/status.json" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({"in": s["traffic"]["in"]["total"], "out": s["traffic"]["out"]["total"], "queued": s["queue"]["recipients"], "rss_bytes": s["process"]["rss_bytes"]}))' | tee "$work/status.txt"
echo "== isp-sim"
curl -s "http://$sim_stats/stats" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["totals"]))' | tee "$work/sim.txt"
if [ "$json" = 1 ]; then
  python3 - "$work" "$duration" <<'PY'
import json, re, sys
work, duration = sys.argv[1], int(sys.argv[2])
wrk = open(work + "/wrk.txt").read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
out = {"scenario": "mgmt", "duration_s": duration, "wrk_seconds": duration - 6}
for pct in ("50", "75", "90", "99"):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, wrk, re.M)
    out["p" + pct + "_ms"] = ms(*m.groups()) if m else None
m = re.search(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", wrk, re.M)
out["max_ms"] = ms(*m.groups()) if m else None
m = re.search(r"(\d+) requests in", wrk)
out["requests"] = int(m.group(1)) if m else None
m = re.search(r"Requests/sec:\s+([\d.]+)", wrk)
out["requests_per_s"] = float(m.group(1)) if m else None
status = json.loads(open(work + "/status.txt").read())
sim = json.loads(open(work + "/sim.txt").read())
out["injected"] = status["in"]["messages"]
out["delivered_to_sim"] = sim["messages"]
m = re.search(r"rate: ([\d.]+) msgs/s", open(work + "/load.txt").read())
out["load_msgs_per_s"] = float(m.group(1)) if m else None
print(json.dumps(out))
PY
fi
