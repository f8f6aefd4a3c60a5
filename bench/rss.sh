#!/usr/bin/env bash
# Queue memory: outpostd's RSS per queued recipient with 10k, 100k and 1M recipients queued and the
# destination paused. Every domain is routed to a loopback port that refuses connections, with
# retry-after 1h: each queue's first connection fails (one tq record) and the queue is held, so
# every recipient stays queued and none is in a transaction. Mail is injected with outpost-load
# (RCPTS recipients per message, 10 domains -> 10 queues), into a fresh outpostd per size.
# Reported: (RSS after - RSS before injection) / recipients, from /proc/PID/status (VmRSS, and
# RssAnon = heap only, without file pages of the spool that happen to be mapped).
# Usage: bench/rss.sh [SIZES="10000 100000 1000000"] [RCPTS=100] [SIZE=1k]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sizes=${1:-"10000 100000 1000000"}
rcpts=${2:-100}
msg_size=${3:-1k}
bin=${OUTPOST_BIN:-$root/build/bin}
work=$(mktemp -d /var/tmp/outpost-rss-XXXXXX)
opid=""
rpid=""
cleanup() {
  [ -n "$opid" ] && kill "$opid" 2>/dev/null
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A port that refuses: bound, never listening, for the whole run.
python3 -c 'import socket,sys,signal; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1], flush=True); signal.pause()' > "$work/refuser" &
rpid=$!
for _ in $(seq 1 100); do [ -s "$work/refuser" ] && break; sleep 0.05; done
refuse=$(cat "$work/refuser")

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
domains="d0.test:1,d1.test:1,d2.test:1,d3.test:1,d4.test:1,d5.test:1,d6.test:1,d7.test:1,d8.test:1,d9.test:1"

for n in $sizes; do
  rm -rf "$work/o"; mkdir -p "$work/o"
  cat > "$work/o/outpost.conf" <<CONF
smtp-listener 127.0.0.1:0
# Benchmarks run as root and keep it (no unprivileged user to set up).
run-as-root yes
spool $work/o/spool
log-file $work/o/outpostd.log
spool-min-free 256M
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file $work/o/acct.csv>
  records d,b,t,tq
</acct-file>
<domain *>
  route [127.0.0.1]:$refuse
  retry-after 1h
  bounce-after 10d
</domain>
CONF
  "$bin/outpostd" --config "$work/o/outpost.conf" --port-file "$work/o/ports" &
  opid=$!
  for _ in $(seq 1 100); do [ -s "$work/o/ports" ] && break; sleep 0.1; done
  addr=$(awk '{print $2}' "$work/o/ports")
  rss0=$(status_kb "$opid" VmRSS); anon0=$(status_kb "$opid" RssAnon)
  messages=$(( n / rcpts ))
  "$bin/outpost-load" --sessions 10 --messages "$messages" --rcpts "$rcpts" --size "$msg_size" \
    --domains "$domains" --json "$addr" > "$work/load.json"
  accepted=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recipients_accepted"])' "$work/load.json")
  # Every accepted recipient is queued once its message is committed (before the 250): settle on
  # the log showing each queue held (tq written), then read RSS.
  for _ in $(seq 1 200); do
    [ "$(grep -c 'connection failed' "$work/o/outpostd.log" || true)" -ge 10 ] && break; sleep 0.05
  done
  rss1=$(status_kb "$opid" VmRSS); anon1=$(status_kb "$opid" RssAnon)
  kill "$opid"; wait "$opid" || true; opid=""
  awk -v n="$accepted" -v r0="$rss0" -v r1="$rss1" -v a0="$anon0" -v a1="$anon1" -v k="$rcpts" \
    'BEGIN{printf "queued %d recipients (%d per message): RSS %d -> %d KiB, %.1f B/recipient; RssAnon %d -> %d KiB, %.1f B/recipient\n",
           n, k, r0, r1, (r1 - r0) * 1024 / n, a0, a1, (a1 - a0) * 1024 / n}'
done
