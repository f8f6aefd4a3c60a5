#!/usr/bin/env bash
# Injection rate with a durable spool: smtp-source (20 sessions, 4 KB messages) into outpostd and
# into Postfix (smtpd + cleanup into its queue) on the same machine in the same run, alternating,
# REPS times each. Prints one line per run and the medians and their ratio.
# Usage: bench/inject.sh [--json] [MESSAGES=20000] [REPS=3] [SESSIONS=20] [SIZE=4096]
# --json: also print, as the last line, one JSON object with every run's rate (used by bench/run).
# Env: OUTPOST_BIN (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
json=0
args=()
for a in "$@"; do if [ "$a" = --json ]; then json=1; else args+=("$a"); fi; done
set -- "${args[@]+"${args[@]}"}"
messages=${1:-20000}
reps=${2:-3}
sessions=${3:-20}
size=${4:-4096}
bin=${OUTPOST_BIN:-$root/build/bin}
[ -x "$bin/outpostd" ] || bash scripts/build.sh default >/dev/null
work=$(mktemp -d /var/tmp/outpost-bench-XXXXXX)
chmod 755 "$work"  # Postfix's unprivileged daemons must reach their queue
trap 'bash bench/postfix_peer.sh stop "$work/postfix" || true; [ -n "${opid:-}" ] && kill $opid 2>/dev/null; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

now() { date +%s.%N; }

run_source() {  # host:port -> elapsed seconds
  local t0 t1
  t0=$(now)
  smtp-source -s "$sessions" -m "$messages" -l "$size" -f bench@example.com -t sink@example.net "$1"
  t1=$(now)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}

outpost_rates=()
postfix_rates=()
for rep in $(seq 1 "$reps"); do
  # Postfix: a fresh queue each repetition.
  rm -rf "$work/postfix"
  pport=$(free_port)
  bash bench/postfix_peer.sh start "$work/postfix" "$pport" hold
  el=$(run_source "127.0.0.1:$pport")
  bash bench/postfix_peer.sh stop "$work/postfix"
  prate=$(awk -v m="$messages" -v e="$el" 'BEGIN{printf "%.0f", m / e}')
  postfix_rates+=("$prate")
  echo "rep $rep postfix: $messages msgs in ${el}s = $prate msg/s"

  # outpostd: a fresh spool each repetition, same disk as Postfix's queue.
  rm -rf "$work/outpost"
  mkdir -p "$work/outpost"
  cat > "$work/outpost/outpost.conf" <<CONF
smtp-listener 127.0.0.1:0
# Benchmarks run as root and keep it (no unprivileged user to set up).
run-as-root yes
spool $work/outpost/spool
log-file $work/outpost/outpostd.log
spool-min-free 256M
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file $work/outpost/acct.csv>
  records r
</acct-file>
# Like the Postfix peer's defer_transports: accepted mail is held, not delivered. The route points
# at a loopback port nothing listens on (one refused connection per queue, then retry in 1 h),
# and DNS stays on loopback.
dns-server 127.0.0.1:9
<domain *>
  route [127.0.0.1]:9
  retry-after 1h
</domain>
CONF
  "$bin/outpostd" --config "$work/outpost/outpost.conf" --port-file "$work/outpost/ports" &
  opid=$!
  for _ in $(seq 1 100); do [ -s "$work/outpost/ports" ] && break; sleep 0.1; done
  oaddr=$(awk '{print $2}' "$work/outpost/ports")
  el=$(run_source "$oaddr")
  kill $opid; wait $opid || true; opid=
  orate=$(awk -v m="$messages" -v e="$el" 'BEGIN{printf "%.0f", m / e}')
  outpost_rates+=("$orate")
  echo "rep $rep outpostd: $messages msgs in ${el}s = $orate msg/s"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pm=$(median "${postfix_rates[@]}")
om=$(median "${outpost_rates[@]}")
echo "median postfix: $pm msg/s (runs: ${postfix_rates[*]})"
echo "median outpostd: $om msg/s (runs: ${outpost_rates[*]})"
awk -v o="$om" -v p="$pm" 'BEGIN{printf "ratio outpostd/postfix: %.2fx\n", o / p}'
if [ "$json" = 1 ]; then
  printf '{"scenario":"inject","messages":%s,"sessions":%s,"size":%s,"postfix":[%s],"outpostd":[%s]}\n' \
    "$messages" "$sessions" "$size" "$(IFS=,; echo "${postfix_rates[*]}")" "$(IFS=,; echo "${outpost_rates[*]}")"
fi
