#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang) and runs each for a bounded time on a copy of its
# seed corpus. Fails on any crash, sanitizer report, broken invariant, leak or timeout.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET_NAME...]   (default 30 s, every target)
#   BUILD_DIR=build-fuzz   build directory (configured with OUTPOST_FUZZ=ON, clang++)
#   JOBS=2                 build parallelism
# Crashing inputs are kept in $BUILD_DIR/fuzz-artifacts/<target>/; to make one a regression test,
# copy it into fuzz/corpus/<name>/ (replayed on every run) and add a unit test case for it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
build=${BUILD_DIR:-build-fuzz}
jobs=${JOBS:-2}

targets=()
for src in fuzz/*_fuzzer.cpp; do
  name=$(basename "$src" _fuzzer.cpp)
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no target matches: $*" >&2
  exit 2
fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DOUTPOST_FUZZ=ON >/dev/null
# Only the fuzzers and the libraries they link: nothing else of the tree is compiled.
cmake --build "$build" -j "$jobs" --target "${targets[@]/%/_fuzzer}"

failed=()
for name in "${targets[@]}"; do
  if ! bash fuzz/run_fuzzer.sh "$build/bin/${name}_fuzzer" "fuzz/corpus/$name" "$seconds" \
      "$build/fuzz-artifacts/$name"; then
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each: no finding"
