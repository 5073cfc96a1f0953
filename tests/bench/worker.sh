#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Worker benchmark (not a test): messages/s with 1, 2 and 4 tw-worker processes draining a
# preloaded queue, and end-to-end latency from tw-ingress's 200 to the agent's admission, against
# a fast local agent (tests/bench/fast_agent). See docs/PERFORMANCE.md.
# usage: tests/bench/worker.sh [build-dir] [messages] [conversations] [latency-messages] [rate]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
shift || true
exec python3 "$here/worker_bench.py" "$build" "$@"
