#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ingress benchmark (not a test): wrk POSTs signed inbound webhooks, each with a unique
# idempotency token, first to a trivial libmicrohttpd server that only answers 200 (the machine's
# HTTP ceiling), then to tw-ingress with a real redis-server (AOF on, appendfsync everysec), in
# the same run. Prints requests/s, p50/p99 and the ratio, and checks every 200 was stored.
# usage: tests/bench/ingress.sh [build-dir] [seconds] [connections]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
secs=${2:-10}
conns=${3:-64}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

python3 "$here/make_requests.py" "$work/load.lua" 256
rport=$(free_port); tport=$(free_port); iport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work" --save '' --appendonly yes \
  --appendfsync everysec >/dev/null & pids+=($!); rpid=$!
"$build/tests/bench/trivial_server" "$tport" & pids+=($!); tpid=$!
eval "$(python3 -c "
import sys; sys.path.insert(0, '$here/../lib'); import twtest as t
for k, v in t.run_env().items(): print('export %s=%r' % (k, v))")"
REDIS_URL="redis://127.0.0.1:$rport/0" TW_LISTEN="127.0.0.1:$iport" TW_API_LISTEN="127.0.0.1:$(free_port)" \
  "$build/ingress/tw-ingress" >"$work/ingress.log" 2>&1 & pids+=($!); ipid=$!
wait_port "$rport"; wait_port "$tport"; wait_port "$iport"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user+system, in clock ticks
run() { # name port pid...
  local name=$1 port=$2; shift 2
  local before=(); for p in "$@"; do before+=("$(cpu_ticks "$p")"); done
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/load.lua" "http://127.0.0.1:$port" >"$work/$name.out" 2>&1
  local res; res=$(grep '^RESULT' "$work/$name.out")
  eval "${res#RESULT }"
  local hz; hz=$(getconf CLK_TCK) cpu=0 i=0
  for p in "$@"; do cpu=$((cpu + $(cpu_ticks "$p") - ${before[$i]})); i=$((i + 1)); done
  local us_per_req; us_per_req=$(python3 -c "print(round($cpu * 1e6 / $hz / $requests, 1))")
  local rps; rps=$(python3 -c "print(round($requests / ($duration_us / 1e6)))")
  printf '%-12s %8s req/s  p50 %6.2f ms  p99 %6.2f ms  non-2xx %s  server CPU %s us/req\n' \
    "$name" "$rps" "$(python3 -c "print($p50_us/1000)")" "$(python3 -c "print($p99_us/1000)")" \
    "$errors_status" "$us_per_req"
  eval "${name//-/_}_rps=$rps ${name//-/_}_ok=$((requests - errors_status))"
}
echo "connections=$conns seconds=$secs cores=$(nproc) (load generator on the same cores)"
run trivial "$tport" "$tpid"
redis-cli -p "$rport" FLUSHALL >/dev/null
run tw-ingress "$iport" "$ipid" "$rpid"  # CPU: tw-ingress + redis-server
stored=$(redis-cli -p "$rport" XLEN tw:inbound)
python3 -c "print('ratio tw-ingress/trivial: %.2f' % ($tw_ingress_rps / $trivial_rps))"
echo "200s answered: $tw_ingress_ok   entries stored: $stored"
if [ "$stored" -lt "$tw_ingress_ok" ]; then echo "LOST: fewer entries than 200s" >&2; exit 1; fi
