#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Generates signature cases with Twilio's official Node helper and checks them with check_sig.
#   run.sh <check_sig binary> <cases file>
# TW_INTEROP_SEED replays a run (each run prints its seed); TW_INTEROP_CASES sets the count.
# Node and npm are required: a machine without them fails this test instead of skipping it.
set -euo pipefail
checker=$1
cases=$2
here="$(cd "$(dirname "$0")" && pwd)"
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "interop: '$tool' not found; install it (bash deploy/install-deps.sh --test)" >&2
    exit 1
  fi
done
if [ ! -d "$here/node_modules/twilio" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
seed=${TW_INTEROP_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
count=${TW_INTEROP_CASES:-300}
echo "interop: seed $seed, $count cases (replay with TW_INTEROP_SEED=$seed)"
node "$here/gen_cases.js" "$seed" "$count" > "$cases"
"$checker" "$cases"
