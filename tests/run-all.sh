#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test from a fresh Debian 12 machine: installs the packages, then builds and runs
# the whole CTest suite twice (a plain -Werror build, then AddressSanitizer + UBSan), tw-ingress's
# integration tests under valgrind, and a short libFuzzer run of each fuzz target. Each test
# starts its own redis-server on a free port.
#   TW_SKIP_DEPS=1   skip the package install
#   TW_SKIP_ASAN=1   skip the sanitizer build
#   TW_SKIP_VALGRIND=1  skip the valgrind run of tw-ingress's integration tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ "${TW_SKIP_DEPS:-0}" = 1 ] || bash deploy/install-deps.sh --test
jobs=$(nproc)

echo "== plain build (-Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${TW_SKIP_ASAN:-0}" != 1 ]; then
  echo "== AddressSanitizer + UBSan build"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTW_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
fi

if [ "${TW_SKIP_VALGRIND:-0}" != 1 ]; then
  # the ingress's tests only: the worker's and sender's assert timings (pacing, hand-over) that
  # valgrind's slowdown breaks, and take minutes; run those by hand (docs/RELIABILITY.md)
  echo "== valgrind memcheck (tw-ingress's integration tests, plain build)"
  bash tests/memcheck/run-valgrind.sh build '^ingress_test_'
fi

if [ -d tests/fuzz ] && ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
  echo "== fuzz smoke (libFuzzer, clang)"
  CC=clang cmake -S . -B build-fuzz -DTW_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzzers
  TW_FUZZ_SEED=${TW_FUZZ_SEED:-1} bash tests/fuzz/smoke.sh "$root/build-fuzz" "${TW_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
