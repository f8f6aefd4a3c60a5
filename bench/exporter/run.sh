#!/usr/bin/env bash
# Exporter ingest benchmark: outpost_exporter vs mtail vs `wc -l` on one accounting file, plus the
# exporter's memory and the cost of one scrape with >= 5,000 series. Results: bench/RESULTS.md,
# section "Exporter ingest".
#
# usage: bench/exporter/run.sh            (OUTPOST_BIN=build dir's bin, default build/bin)
# env:   ACCT_FILE (default /var/tmp/acct2m.csv; when absent, `tests/data/gen_acct.py bulk` writes
#        it: RECORDS records, default 2,000,000, ~870 MB; kept out of the repository),
#        RUNS (exporter and wc repetitions, best kept; default 3),
#        SKIP_MTAIL=1 to skip mtail (Debian package mtail, scripts/install-deps.sh),
#        SKIP_SCRAPE=1 to skip the scrape-cost part.
# --json: also print, as the last line, one JSON object with the figures (used by bench/run).
# Every server it starts listens on 127.0.0.1 only and is stopped before it exits.
set -euo pipefail
JSON=0
[ "${1:-}" = --json ] && JSON=1

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${OUTPOST_BIN:-$ROOT/build/bin}"
EXPORTER="$BIN/outpost_exporter"
ACCT_FILE="${ACCT_FILE:-/var/tmp/acct2m.csv}"
RECORDS="${RECORDS:-2000000}"
RUNS="${RUNS:-3}"
GEN="$ROOT/tests/data/gen_acct.py"  # the repository's generator (tests/data/README.md)

[ -x "$EXPORTER" ] || { echo "no $EXPORTER (build target outpost_exporter, or set OUTPOST_BIN)" >&2; exit 2; }
if [ ! -f "$ACCT_FILE" ]; then
  echo "generating $ACCT_FILE ($RECORDS records)..." >&2
  python3 "$GEN" bulk "$RECORDS" "$ACCT_FILE"
fi
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }  # no bc on the machine: awk does the arithmetic
lt() { awk "BEGIN { exit !($1 < $2) }"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

BYTES=$(stat -c %s "$ACCT_FILE")
LINES=$(wc -l < "$ACCT_FILE")
TOTAL=$((LINES - 1))  # one header line
echo "file: $ACCT_FILE, $TOTAL records, $BYTES bytes; $(nproc) CPUs; $(uname -r)"
cat "$ACCT_FILE" > /dev/null  # page cache warm for all contenders

# 1. Physical floor: wc -l.
best_wc=""
for _ in $(seq "$RUNS"); do
  t0=$(now); wc -l "$ACCT_FILE" > /dev/null; t1=$(now)
  s=$(calc "$t1 - $t0")
  if [ -z "$best_wc" ] || lt "$s" "$best_wc"; then best_wc=$s; fi
done

# 2. outpost_exporter --oneshot (wall time of the whole process, and its own ingest time).
best_exp=""
best_ingest=""
rss_kib=""
for _ in $(seq "$RUNS"); do
  t0=$(now)
  out=$("$EXPORTER" --oneshot --from-start --acct-path "$ACCT_FILE")
  t1=$(now)
  got=$(echo "$out" | json_field records)
  [ "$got" = "$TOTAL" ] || { echo "exporter counted $got records, expected $TOTAL" >&2; exit 1; }
  s=$(calc "$t1 - $t0")
  if [ -z "$best_exp" ] || lt "$s" "$best_exp"; then
    best_exp=$s
    best_ingest=$(echo "$out" | json_field seconds)
    rss_kib=$(echo "$out" | json_field max_rss_kib)
  fi
done

# 3. mtail --one_shot with an equivalent program (records by type, domain, vmta).
mtail_s=""
if [ "${SKIP_MTAIL:-0}" != 1 ] && command -v mtail > /dev/null; then
  t0=$(now)
  mtail --one_shot --one_shot_format prometheus --address 127.0.0.1 --port 0 \
    --progs "$HERE" --logs "$ACCT_FILE" > "$WORK/mtail.out" 2> "$WORK/mtail.err"
  t1=$(now)
  mtail_s=$(calc "$t1 - $t0")
  got=$(awk '/^acct_records_total/ {s += $NF} END {printf "%d", s}' "$WORK/mtail.out")
  [ "$got" = "$TOTAL" ] || echo "warning: mtail counted $got records, expected $TOTAL" >&2
fi

# 4. Scrape cost with many series: files with V vmtas x 8 domains x 3 types (V = 200, 400).
scrape_bench() {  # $1 = vmtas; prints "series median_ms max_ms server_peak_rss_kib"
  local file="/var/tmp/acct_series_${1}vmtas.csv"
  [ -f "$file" ] || python3 "$HERE/gen_series.py" $(( $1 * 500 )) "$1" "$file"
  local total=$(($(wc -l < "$file") - 1))
  rm -f "$WORK/state.json"
  "$EXPORTER" --listen 127.0.0.1:0 --acct-path "$file" --from-start --max-vmtas 1000 \
    --state-file "$WORK/state.json" --state-interval 0.2 --poll-interval 0.05 2> "$WORK/exp.err" &
  SERVER_PID=$!
  local port="" deadline=$(( $(date +%s) + 30 ))
  while [ -z "$port" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    port=$(sed -n 's#.*listening on http://[^:]*:\([0-9]*\)/metrics.*#\1#p' "$WORK/exp.err")
    [ -n "$port" ] || sleep 0.05
  done
  [ -n "$port" ] || { echo "exporter did not start" >&2; cat "$WORK/exp.err" >&2; exit 1; }
  # Wait until every record is counted, then time 50 scrapes (python3: no curl needed).
  python3 - "$port" "$((total + 1))" > "$WORK/scrape.txt" <<'PY'
import sys, time, urllib.request
url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
want = int(sys.argv[2])
deadline = time.monotonic() + 60
def get():
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()
while time.monotonic() < deadline:
    lines = [l for l in get().splitlines() if l.startswith("outpost_exporter_lines_read_total ")]
    if lines and float(lines[0].split()[1]) >= want:
        break
    time.sleep(0.05)
else:
    sys.exit("exporter did not catch up")
series = sum(1 for l in get().splitlines() if l and not l.startswith("#"))
times = []
for _ in range(50):
    t0 = time.perf_counter()
    get()
    times.append(time.perf_counter() - t0)
times.sort()
print(series, "%.1f" % (times[len(times) // 2] * 1000), "%.1f" % (times[-1] * 1000))
PY
  local rss
  rss=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  echo "$(cat "$WORK/scrape.txt") $rss"
}
if [ "${SKIP_SCRAPE:-0}" != 1 ]; then
  scrape_bench 200 > "$WORK/s200"  # not $(...): the EXIT trap must see SERVER_PID
  scrape_bench 400 > "$WORK/s400"
else
  echo "0 0 0 0" > "$WORK/s200"; echo "0 0 0 0" > "$WORK/s400"
fi
read -r series1 med1 max1 rss1 < "$WORK/s200"
read -r series2 med2 max2 rss2 < "$WORK/s400"

rate() { awk "BEGIN { printf \"%.0f\", $TOTAL / $1 }"; }
echo
printf '%-34s %9s %14s %10s\n' "contender" "seconds" "records/s" "vs mtail"
wc_rate=$(rate "$best_wc")
exp_rate=$(rate "$best_exp")
ing_rate=$(rate "$best_ingest")
if [ -n "$mtail_s" ]; then
  mtail_rate=$(rate "$mtail_s")
  ratio() { awk "BEGIN { printf \"%.1fx\", $1 / $mtail_rate }"; }
  printf '%-34s %9.3f %14s %10s\n' "mtail --one_shot" "$mtail_s" "$mtail_rate" "1.0x"
else
  ratio() { echo "n/a"; }
fi
printf '%-34s %9.3f %14s %10s\n' "outpost_exporter --oneshot (wall)" "$best_exp" "$exp_rate" "$(ratio "$exp_rate")"
printf '%-34s %9.3f %14s %10s\n' "outpost_exporter ingest only" "$best_ingest" "$ing_rate" "$(ratio "$ing_rate")"
printf '%-34s %9.3f %14s %10s\n' "wc -l (floor)" "$best_wc" "$wc_rate" "$(ratio "$wc_rate")"
echo
echo "exporter vs wc -l: $(calc "$best_wc / $best_exp * 100" | xargs printf '%.0f')% of the floor's speed"
echo "exporter --oneshot max RSS: $rss_kib KiB"
echo "scrape: $series1 series; 50 scrapes: median $med1 ms, max $max1 ms; server peak RSS $rss1 KiB"
echo "scrape: $series2 series; 50 scrapes: median $med2 ms, max $max2 ms; server peak RSS $rss2 KiB"
if [ "$JSON" = 1 ]; then
  printf '{"scenario":"exporter","file":"%s","records":%s,"bytes":%s,"wc_s":%s,"exporter_s":%s,"ingest_s":%s,"mtail_s":%s,"max_rss_kib":%s,"scrape":[[%s,%s,%s,%s],[%s,%s,%s,%s]]}\n' \
    "$ACCT_FILE" "$TOTAL" "$BYTES" "$best_wc" "$best_exp" "$best_ingest" "${mtail_s:-null}" "${rss_kib:-null}" \
    "$series1" "$med1" "$max1" "$rss1" "$series2" "$med2" "$max2" "$rss2"
fi
