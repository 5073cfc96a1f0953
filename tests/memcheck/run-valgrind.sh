#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs integration tests with every program they start under valgrind memcheck, then fails when
# any run reported an error or a definite leak. One log per process is kept, so a test that does
# not check its program's exit status still cannot hide a report.
#   tests/memcheck/run-valgrind.sh [build-dir] [ctest -R regex]
# The build must not use sanitizers (valgrind and ASan do not mix): the plain build/ is fine.
# Default regex: the integration tests of the programs (ingress, worker, sender).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "${1:-build}" && pwd)
regex=${2:-'^(ingress|worker|sender)_test_'}
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
if grep -q 'TW_SANITIZE:STRING=.\+' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "$build is a sanitizer build; use a plain one"; exit 1
fi
logs=$(mktemp -d /tmp/tw-valgrind.XXXXXX)
supp=$PWD/tests/memcheck/valgrind.supp
export TW_TEST_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --error-exitcode=97 --track-origins=yes --num-callers=30 \
--suppressions=$supp --log-file=$logs/%p.log"
echo "== valgrind: ctest -R '$regex' in $build (logs in $logs)"
status=0
(cd "$build" && ctest --output-on-failure -R "$regex") || status=$?

runs=0 bad=0 unfinished=0
for f in "$logs"/*.log; do
  [ -e "$f" ] || continue
  runs=$((runs + 1))
  if grep -qE 'ERROR SUMMARY: [1-9]|Invalid (read|write|free)|uninitialised' "$f"; then
    echo "== valgrind report in $f:"; cat "$f"; bad=$((bad + 1))
  elif ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
    unfinished=$((unfinished + 1)) # killed with SIGKILL on purpose: no summary to read
  fi
done
echo "== valgrind: $runs program runs, $bad with errors or definite leaks," \
     "$unfinished killed before their summary"
[ "$runs" -gt 0 ] || { echo "no program ran under valgrind"; exit 1; }
# Under valgrind the programs run 20-50 times slower, so tests that wait for the worker's or the
# sender's timing (claim keep-alive, backoff, pacing) can miss their bounds: those assertions are
# enforced by the plain and sanitizer runs. Here the verdict is memory: any error or definite
# leak fails. TW_VALGRIND_STRICT=1 also fails on a test's own assertions.
if [ "$status" -ne 0 ]; then
  echo "== valgrind: some tests missed their timing under valgrind (informational)"
fi
[ "$bad" -eq 0 ] || exit 1
if [ "${TW_VALGRIND_STRICT:-0}" = 1 ] && [ "$status" -ne 0 ]; then exit 1; fi
rm -rf "$logs"
