#!/usr/bin/env bash
# Relay throughput end to end with a durable spool: smtp-source (20 sessions, 4 KB messages) ->
# outpostd -> smtp-sink, side by side with smtp-source -> Postfix (relayhost) -> smtp-sink, in the
# same run, alternating, REPS times each; also smtp-source -> smtp-sink directly (the harness
# ceiling). A run's time is from the start of smtp-source until the sink has received every
# message. Prints one line per run, the medians, outpostd/Postfix and outpostd/ceiling.
# The path `signed` (not in the default set) is outpostd with `dkim-sign yes` and an RSA-2048
# domain-key for the sender's domain; outpostd's runs also print the cores it used (user + system
# CPU time of the process over the run's time), and with both `outpostd` and `signed` the
# signed/unsigned ratio is printed.
# Usage: bench/relay.sh [MESSAGES=20000] [REPS=3] [SESSIONS=20] [SIZE=4096]
# Env: PATHS="direct postfix outpostd" (a subset runs only those; add `signed`), OUTPOST_BIN (build/bin),
# SIGN_THREADS (queue-processing-threads for outpostd; unset: not written, the default applies),
# OUTPOST_WRAP (a command prefix for outpostd, e.g. "perf record -g -o /tmp/p.data").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
messages=${1:-20000}
reps=${2:-3}
sessions=${3:-20}
size=${4:-4096}
bin=${OUTPOST_BIN:-$root/build/bin}
[ -x "$bin/outpostd" ] || bash scripts/build.sh default >/dev/null
work=$(mktemp -d /var/tmp/outpost-relay-XXXXXX)
chmod 755 "$work"  # Postfix's unprivileged daemons must reach their queue
opid=""
spid=""
cleanup() {
  bash bench/postfix_peer.sh stop "$work/postfix" || true
  [ -n "$opid" ] && kill "$opid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

start_sink() {  # -> sets sport, spid
  sport=$(free_port)
  : > "$work/sink.out"
  smtp-sink -u nobody -c "127.0.0.1:$sport" 1000 > "$work/sink.out" 2>&1 &
  spid=$!
  for _ in $(seq 1 100); do ss -ltn "sport = :$sport" | grep -q LISTEN && return; sleep 0.05; done
  echo "smtp-sink did not start" >&2; exit 1
}
stop_sink() { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true; spid=""; }
sink_count() { tr '\r' '\n' < "$work/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }
wait_sink() {  # waits until the sink has $messages messages (deadline 600 s); prints the time
  local deadline=$(( $(date +%s) + 600 )) c
  while :; do
    c=$(sink_count || true); c=${c:-0}
    [ "$c" -ge "$messages" ] && break
    [ "$(date +%s)" -gt "$deadline" ] && { echo "timeout: sink has $c of $messages" >&2; exit 1; }
    sleep 0.02
  done
  now
}

run() {  # target -> elapsed seconds until the sink has every message
  local t0 t1
  t0=$(now)
  smtp-source -s "$sessions" -m "$messages" -l "$size" -f bench@example.com -t sink@example.net "$1"
  t1=$(wait_sink)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}

rate() { awk -v m="$messages" -v e="$1" 'BEGIN{printf "%.0f", m / e}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, clock ticks
cores() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v e="$2" 'BEGIN{printf "%.2f", t / hz / e}'; }

# Runs outpostd relaying to the sink ($1 "signed": dkim-sign yes with an RSA-2048 key for
# example.com, smtp-source's From: domain). Sets el (seconds) and cpu (cores used).
run_outpostd() {
  local sign_global="" sign_domain="" t0
  if [ "$1" = signed ]; then
    [ -s "$work/dkim.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
      -out "$work/dkim.pem" 2>/dev/null
    sign_global="domain-key s1,example.com,$work/dkim.pem"
    sign_domain="  dkim-sign yes"
  fi
  start_sink
  rm -rf "$work/outpost"; mkdir -p "$work/outpost"
  cat > "$work/outpost/outpost.conf" <<CONF
smtp-listener 127.0.0.1:0
# Benchmarks run as root and keep it (no unprivileged user to set up).
run-as-root yes
spool $work/outpost/spool
log-file $work/outpost/outpostd.log
spool-min-free 256M
# The session curve drives up to 500 sessions from 127.0.0.1: lift the per-client cap (default 100)
# as the Postfix peer has no per-client limit. DNS stays on loopback (every domain is routed).
max-smtp-in 2000
max-smtp-in-per-ip 1000
dns-server 127.0.0.1:9
${SIGN_THREADS:+queue-processing-threads $SIGN_THREADS}
$sign_global
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file $work/outpost/acct.csv>
  records d,b,t
</acct-file>
<domain *>
  route [127.0.0.1]:$sport
  max-smtp-out 20
$sign_domain
</domain>
CONF
  ${OUTPOST_WRAP:-} "$bin/outpostd" --config "$work/outpost/outpost.conf" --port-file "$work/outpost/ports" &
  opid=$!
  for _ in $(seq 1 100); do [ -s "$work/outpost/ports" ] && break; sleep 0.1; done
  oaddr=$(awk '{print $2}' "$work/outpost/ports")
  t0=$(cpu_ticks "$opid")
  el=$(run "$oaddr")
  cpu=$(cores "$(( $(cpu_ticks "$opid") - t0 ))" "$el")
  kill "$opid"; wait "$opid" || true; opid=""; stop_sink
}

paths=${PATHS:-direct postfix outpostd}
want() { [[ " $paths " == *" $1 "* ]]; }
direct_rates=(); postfix_rates=(); outpost_rates=(); signed_rates=()
for rep in $(seq 1 "$reps"); do
  if want direct; then
  start_sink
  el=$(run "127.0.0.1:$sport"); stop_sink
  direct_rates+=("$(rate "$el")")
  echo "rep $rep direct smtp-source->smtp-sink: $messages msgs in ${el}s = $(rate "$el") msg/s"
  fi

  if want postfix; then
  start_sink
  rm -rf "$work/postfix"
  pport=$(free_port)
  bash bench/postfix_peer.sh start "$work/postfix" "$pport" "relay:127.0.0.1:$sport"
  el=$(run "127.0.0.1:$pport")
  bash bench/postfix_peer.sh stop "$work/postfix"; stop_sink
  postfix_rates+=("$(rate "$el")")
  echo "rep $rep postfix relay: $messages msgs in ${el}s = $(rate "$el") msg/s"
  fi

  if want outpostd; then
  run_outpostd unsigned
  outpost_rates+=("$(rate "$el")")
  echo "rep $rep outpostd relay: $messages msgs in ${el}s = $(rate "$el") msg/s, outpostd cpu $cpu cores"
  fi

  if want signed; then
  run_outpostd signed
  signed_rates+=("$(rate "$el")")
  echo "rep $rep signed outpostd relay (DKIM RSA-2048): $messages msgs in ${el}s = $(rate "$el") msg/s, outpostd cpu $cpu cores"
  fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
dm=0; pm=0; om=0
want direct && { dm=$(median "${direct_rates[@]}"); echo "median direct (ceiling): $dm msg/s (runs: ${direct_rates[*]})"; }
want postfix && { pm=$(median "${postfix_rates[@]}"); echo "median postfix relay: $pm msg/s (runs: ${postfix_rates[*]})"; }
want outpostd && { om=$(median "${outpost_rates[@]}"); echo "median outpostd relay: $om msg/s (runs: ${outpost_rates[*]})"; }
want signed && { sm=$(median "${signed_rates[@]}"); echo "median signed outpostd relay: $sm msg/s (runs: ${signed_rates[*]})"; }
if want outpostd && want signed; then
  awk -v s="$sm" -v o="$om" 'BEGIN{printf "ratio signed/unsigned: %.2fx\n", s / o}'
fi
if want direct && want postfix && want outpostd; then
  awk -v o="$om" -v p="$pm" -v d="$dm" 'BEGIN{printf "ratio outpostd/postfix: %.2fx; outpostd/ceiling: %.2f\n", o / p, o / d}'
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
