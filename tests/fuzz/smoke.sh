#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs each libFuzzer target for a few seconds on a scratch copy of its corpus (the committed
# corpus is never written). A crash, leak or sanitizer report fails the run and leaves the
# reproducer in the scratch directory, whose path is printed.
#   smoke.sh <fuzz-build-dir> <seconds>
set -euo pipefail
# TW_FUZZ_SEED fixes libFuzzer's seed (CI sets 1, so a red run can be replayed exactly);
# unset, every run explores from a new random seed.
seed=${TW_FUZZ_SEED:-}
build=${1:?usage: smoke.sh <fuzz-build-dir> <seconds>}
seconds=${2:-20}
here="$(cd "$(dirname "$0")" && pwd)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tw-fuzz.XXXXXX")
status=0
for src in "$here"/fuzz_*.c; do
  name=$(basename "$src" .c)
  bin=$(find "$build" -type f -name "$name" -perm -u+x | head -n 1)
  if [ -z "$bin" ]; then
    echo "fuzz: $name not built in $build (configure with CC=clang -DTW_FUZZ=ON)" >&2
    exit 1
  fi
  mkdir -p "$scratch/$name/corpus" "$scratch/$name/artifacts"
  cp "$here/corpus/$name/"* "$scratch/$name/corpus/"
  echo "fuzz: $name for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin" -max_total_time="$seconds" -dict="$here/$name.dict" -max_len=4096 ${seed:+-seed=$seed} \
      -artifact_prefix="$scratch/$name/artifacts/" -print_final_stats=1 \
      "$scratch/$name/corpus" > "$scratch/$name/log" 2>&1; then
    tail -n 40 "$scratch/$name/log" >&2
    echo "fuzz: $name FAILED; log and reproducer in $scratch/$name" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$scratch/$name/log" | tail -n 2 || true
  fi
done
[ "$status" = 0 ] && rm -rf "$scratch"
exit "$status"
