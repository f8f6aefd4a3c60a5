#!/usr/bin/env bash
# Runs one libFuzzer target: replays its seed corpus (every file once, regression inputs
# included), then fuzzes for SECONDS on a temporary copy of the corpus, so the repository's corpus
# is never modified. Exit 0 when neither found anything; 1 otherwise, with the crashing input kept
# in ARTIFACT_DIR (default: a folder next to the binary) and printed as hex.
#
# usage: run_fuzzer.sh FUZZER_BINARY CORPUS_DIR SECONDS [ARTIFACT_DIR]
set -euo pipefail

bin=$1
corpus=$2
seconds=$3
name=$(basename "$bin")
artifacts=${4:-$(dirname "$bin")/../fuzz-artifacts/$name}
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
if [ -d "$corpus" ]; then cp -R "$corpus"/. "$work/corpus/"; fi

# Inputs up to 4 KiB: enough for a 998-octet line, a long header block or a config file.
opts=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      "-artifact_prefix=$artifacts/")

report() {
  echo "run_fuzzer: $name: $1 (log: $work/$2 follows)" >&2
  tail -n 60 "$work/$2" >&2
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
    [ -e "$f" ] || continue
    echo "run_fuzzer: $name: input $f:" >&2
    od -A d -c "$f" | head -n 40 >&2
  done
}

# 1. Replay: each seed once (files given one by one: libFuzzer only reads them).
seeds=()
while IFS= read -r -d '' f; do seeds+=("$f"); done < <(find "$work/corpus" -type f -print0)
if [ ${#seeds[@]} -gt 0 ]; then
  if ! "$bin" "${opts[@]}" "${seeds[@]}" >"$work/replay.log" 2>&1; then
    report "a seed or regression input fails" replay.log
    trap - EXIT
    exit 1
  fi
fi

# 2. Fuzz for the time budget.
if [ "$seconds" -gt 0 ]; then
  if ! "$bin" "${opts[@]}" -max_total_time="$seconds" "$work/corpus" >"$work/fuzz.log" 2>&1; then
    report "fuzzing found a failure" fuzz.log
    trap - EXIT
    exit 1
  fi
  stats=$(grep -E '^stat::number_of_executed_units' "$work/fuzz.log" | awk '{print $2}')
  echo "run_fuzzer: $name: ok, ${seconds}s, ${stats:-?} runs, ${#seeds[@]} seeds"
else
  echo "run_fuzzer: $name: ok, ${#seeds[@]} seeds replayed"
fi
