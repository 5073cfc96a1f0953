#!/usr/bin/env bash
# shellcheck disable=SC2154  # requests, p50_us, ... are set by eval of wrk's RESULT line
# SPDX-License-Identifier: MIT
# Redis durability benchmark (not a test), for docs/OPERATIONS.md: the same wrk load of signed
# inbound webhooks against tw-ingress backed by Redis with appendfsync everysec, then always, in
# the same run; prints requests/s, p50/p99 and the ratio. Then the memory Redis holds per stored
# message (stream entry, dedup claim) from MEMORY USAGE.
# usage: tests/bench/fsync.sh [build-dir] [seconds] [connections] [data-dir]
#   data-dir: where Redis writes its AOF (default a temp dir); put it on the disk you will use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
secs=${2:-10}
conns=${3:-64}
work=$(mktemp -d)
data=${4:-$work}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

python3 "$here/make_requests.py" "$work/load.lua" 256
eval "$(python3 -c "
import sys; sys.path.insert(0, '$here/../lib'); import twtest as t
for k, v in t.run_env().items(): print('export %s=%r' % (k, v))")"
echo "connections=$conns seconds=$secs cores=$(nproc) data=$data (load generator on the same cores)"

run() { # mode
  local rport iport rpid ipid
  rport=$(free_port) iport=$(free_port)
  mkdir -p "$data/$1"
  redis-server --port "$rport" --bind 127.0.0.1 --dir "$data/$1" --save '' --appendonly yes \
    --appendfsync "$1" >/dev/null & rpid=$!; pids+=("$rpid")
  wait_port "$rport"
  REDIS_URL="redis://127.0.0.1:$rport/0" TW_LISTEN="127.0.0.1:$iport" \
    TW_API_LISTEN="127.0.0.1:$(free_port)" LOG_LEVEL=warn "$build/ingress/tw-ingress" \
    >"$work/ingress-$1.log" 2>&1 & ipid=$!; pids+=("$ipid")
  wait_port "$iport"
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/load.lua" "http://127.0.0.1:$iport" >"$work/$1.out" 2>&1
  local res; res=$(grep '^RESULT' "$work/$1.out")
  eval "${res#RESULT }"
  local rps; rps=$(python3 -c "print(round($requests / ($duration_us / 1e6)))")
  printf 'appendfsync %-9s %9s req/s   p50 %6.2f ms   p99 %6.2f ms   non-2xx %s\n' "$1" "$rps" \
    "$(python3 -c "print($p50_us/1000)")" "$(python3 -c "print($p99_us/1000)")" "$errors_status"
  eval "${1}_rps=$rps"
  if [ "$1" = everysec ]; then
    local n stream key dedup
    n=$(redis-cli -p "$rport" XLEN tw:inbound)
    stream=$(redis-cli -p "$rport" MEMORY USAGE tw:inbound SAMPLES 0)
    redis-cli -p "$rport" --scan --pattern 'tw:dedup:*' >"$work/keys"
    key=$(head -n 1 "$work/keys")
    dedup=$(redis-cli -p "$rport" MEMORY USAGE "$key")
    echo "memory: $n entries in tw:inbound use $stream bytes ($((stream / n)) per entry);" \
      "one dedup claim uses $dedup bytes"
  fi
  kill "$ipid" "$rpid"; wait "$ipid" "$rpid" 2>/dev/null || true
}
run everysec
run always
python3 -c "print('ratio always/everysec: %.2f' % ($always_rps / $everysec_rps))"
