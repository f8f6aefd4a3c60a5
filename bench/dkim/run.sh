#!/usr/bin/env bash
# DKIM signing speed against the machine's limit: outpost-dkim-bench's signatures/s on 4 KB
# messages divided by `openssl speed`'s sign/s for the same key type (one thread each). Both rates
# are per second of user CPU time (openssl speed's default), and each side's best of ROUNDS
# alternating runs is kept, so neighbours on a shared machine skew the ratio as little as possible.
# Usage: bench/dkim/run.sh [--json] [BUILD_DIR] [SECONDS] [ROUNDS]   (default: build, 3 s, 3 rounds)
# --json: also print, as the last line, one JSON object with every round's rates (used by bench/run).
set -euo pipefail
json=0
[ "${1:-}" = --json ] && { json=1; shift; }
build="${1:-build}"
seconds="${2:-3}"
rounds="${3:-3}"
bench="$build/bin/outpost-dkim-bench"
[ -x "$bench" ] || { echo "run.sh: $bench not built (cmake --build $build --target outpost-dkim-bench)" >&2; exit 2; }

best() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b ? a : b)}'; }
ours_rsa=0 ours_ed=0 wall_rsa=0 wall_ed=0 limit_rsa=0 limit_ed=0
rounds_json=()
for _ in $(seq "$rounds"); do
  ours="$("$bench" --seconds "$seconds")"
  speed="$(openssl speed -seconds "$seconds" rsa2048 ed25519 2>/dev/null)"
  # openssl speed's table: "rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>" and
  # "253 bits EdDSA (Ed25519) <sign s> <verify s> <sign/s> <verify/s>".
  limit_rsa="$(best "$limit_rsa" "$(awk '/^rsa 2048 bits/ {print $(NF-1)}' <<<"$speed")")"
  limit_ed="$(best "$limit_ed" "$(awk '/EdDSA \(Ed25519\)/ {print $(NF-1)}' <<<"$speed")")"
  ours_rsa="$(best "$ours_rsa" "$(awk '$1=="rsa2048" {print $2}' <<<"$ours")")"
  ours_ed="$(best "$ours_ed" "$(awk '$1=="ed25519" {print $2}' <<<"$ours")")"
  wall_rsa="$(best "$wall_rsa" "$(awk '$1=="rsa2048" {print $3}' <<<"$ours")")"
  wall_ed="$(best "$wall_ed" "$(awk '$1=="ed25519" {print $3}' <<<"$ours")")"
  rounds_json+=("$(printf '{"rsa2048":{"outpost":%s,"openssl":%s},"ed25519":{"outpost":%s,"openssl":%s}}' \
    "$(awk '$1=="rsa2048" {print $2}' <<<"$ours")" "$(awk '/^rsa 2048 bits/ {print $(NF-1)}' <<<"$speed")" \
    "$(awk '$1=="ed25519" {print $2}' <<<"$ours")" "$(awk '/EdDSA \(Ed25519\)/ {print $(NF-1)}' <<<"$speed")")")
done

echo "$(openssl version); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "4 KB messages; best of $rounds x ${seconds}s"
printf '%-10s %14s %14s %8s %16s\n' key outpost-sign/s openssl-sign/s ratio "(outpost wall/s)"
for row in "rsa2048 $ours_rsa $limit_rsa $wall_rsa" "ed25519 $ours_ed $limit_ed $wall_ed"; do
  set -- $row
  printf '%-10s %14.1f %14.1f %7.1f%% %16.1f\n' "$1" "$2" "$3" \
    "$(awk -v a="$2" -v b="$3" 'BEGIN {print 100*a/b}')" "$4"
done
if [ "$json" = 1 ]; then
  printf '{"scenario":"dkim","seconds":%s,"rounds":[%s]}\n' "$seconds" "$(IFS=,; echo "${rounds_json[*]}")"
fi
