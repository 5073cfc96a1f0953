#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts or stops a throw-away redis-server on a free loopback port for the C tests.
# usage: redis-fixture.sh start|stop DIR   (the port is written to DIR/port)
set -eu
cmd=$1 dir=$2
case $cmd in
start)
  rm -rf "$dir"; mkdir -p "$dir"
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
      redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || continue
      for _ in $(seq 1 100); do
        if redis-cli -p "$port" ping >/dev/null 2>&1; then echo "$port" > "$dir/port"; exit 0; fi
        sleep 0.05
      done
    fi
  done
  echo "redis-fixture: could not start redis-server" >&2; exit 1 ;;
stop)
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi ;;
esac
