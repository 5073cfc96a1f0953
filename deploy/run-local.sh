#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole pipeline on this machine, without Docker: installs the packages (Debian 12), builds,
# starts redis-server (data in var/redis, AOF on), tw-ingress, tw-worker (echo agent) and
# tw-sender, and shows one message go through: a signed inbound webhook, the worker's dispatch,
# the reply leaving the sender. Without Twilio credentials in .env, Twilio is simulated by the
# stand-in from tests/; with them, the same command serves real traffic. Ctrl-C stops everything
# it started, by PID.
#
#   deploy/run-local.sh          run until Ctrl-C
#   deploy/run-local.sh --once   show the message go through, stop everything, exit 0 if it did
#
# Environment (optional): variables already set win over .env. TW_SKIP_DEPS=1 skips the package
# install, TW_SKIP_BUILD=1 the build; TW_BUILD_DIR (default build) holds the binaries;
# TW_LOCAL_REDIS_PORT and TW_LOCAL_STANDIN_PORT pick those ports (default: the first free one
# from 6380 and 8090); TW_LOCAL_ENV_FILE (default .env) and TW_LOCAL_VAR (default var) move the
# configuration file and the data and log directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
once=0
for arg in "$@"; do
  case $arg in
    --once) once=1 ;;
    -h | --help)
      sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run-local: unknown option $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

if [ -t 1 ]; then bold=$'\033[1m' off=$'\033[0m'; else bold='' off=''; fi
say() { printf '%s==> %s%s\n' "$bold" "$*" "$off"; }
note() { printf '    %s\n' "$*"; }
die() {
  printf 'run-local: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- processes we start

pids=() names=() sleeper=''
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping what run-local started"
    # Reverse order: the sender and the worker drain first, Redis goes last.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      kill -TERM "${pids[i]}" 2>/dev/null || true
      for _ in $(seq 1 150); do
        kill -0 "${pids[i]}" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "${pids[i]}" 2>/dev/null; then
        kill -KILL "${pids[i]}" 2>/dev/null || true
        note "${names[i]} (pid ${pids[i]}) did not stop in 15 s: killed"
      else
        note "${names[i]} (pid ${pids[i]}) stopped"
      fi
      wait "${pids[i]}" 2>/dev/null || true
    done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a program in its own session (so Ctrl-C reaches only this script, which then stops
# everything in order), output appended to $var/log/<name>.log.
start() {
  local name=$1
  shift
  setsid "$@" >>"$var/log/$name.log" 2>&1 </dev/null &
  pids+=($!)
  names+=("$name")
  note "started $name (pid $!), log $var/log/$name.log"
}

# Called when the program started last did not become ready.
not_ready() {
  local i=$((${#pids[@]} - 1))
  tail -n 20 "$var/log/${names[i]}.log" >&2 || true
  if kill -0 "${pids[i]}" 2>/dev/null; then
    die "${names[i]} did not become ready (log above)"
  fi
  die "${names[i]} exited at start (log above)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port_from() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}
port_of() { echo "${1##*:}"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls the command until it succeeds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      note "timed out after $secs s waiting for $what"
      return 1
    fi
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
    sleep 0.2
  done
}

# ---------------------------------------------------------------- dependencies and build

if [ "${TW_SKIP_DEPS:-0}" != 1 ]; then
  if command -v cmake >/dev/null && command -v redis-server >/dev/null &&
    command -v curl >/dev/null && command -v python3 >/dev/null && pkg-config --exists libmicrohttpd hiredis jansson libcurl \
    libcrypto cmocka 2>/dev/null; then
    say "dependencies already installed"
  else
    say "installing dependencies (deploy/install-deps.sh)"
    bash deploy/install-deps.sh
  fi
fi
build=${TW_BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
if [ "${TW_SKIP_BUILD:-0}" != 1 ]; then
  say "building in $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin() {
  local p
  for p in "$build/${1#tw-}/$1" "$build/admin/$1" "$build/tests/$1"; do
    [ -x "$p" ] && echo "$p" && return 0
  done
  return 1
}
for prog in tw-ingress tw-worker tw-sender tw-admin; do bin "$prog" >/dev/null || die "$prog is not built in $build"; done
admin=$(bin tw-admin)

# ---------------------------------------------------------------- configuration

var=${TW_LOCAL_VAR:-var}
case $var in /*) ;; *) var=$root/$var ;; esac
envfile=${TW_LOCAL_ENV_FILE:-.env}
# .env fills in what the environment does not set; plain NAME=value lines, no shell evaluation.
if [ -f "$envfile" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    name=${line%%=*}
    [[ $name =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [ -n "${!name+x}" ] || export "$name=${line#*=}"
  done <"$envfile"
fi
placeholder_sid=AC00000000000000000000000000000000
placeholder_token=replace-with-your-auth-token
if [ -n "${TWILIO_ACCOUNT_SID:-}" ] && [ "$TWILIO_ACCOUNT_SID" != $placeholder_sid ] &&
  [ -n "${TWILIO_AUTH_TOKEN:-}" ] && [ "$TWILIO_AUTH_TOKEN" != $placeholder_token ]; then
  simulated=0
else
  simulated=1
fi

mkdir -p "$var/redis" "$var/log"
redis_port=${TW_LOCAL_REDIS_PORT:-$(free_port_from 6380)}
port_free "$redis_port" || die "port $redis_port (TW_LOCAL_REDIS_PORT) is in use"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
export TW_API_LISTEN=${TW_API_LISTEN:-127.0.0.1:8081}
if [ -z "${TW_API_TOKEN:-}" ]; then
  TW_API_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  export TW_API_TOKEN
fi
export TW_AGENT=${TW_AGENT:-echo}

if [ $simulated = 1 ]; then
  bin tw-twilio-standin >/dev/null || die "the Twilio stand-in is not built in $build/tests"
fi
if [ $simulated = 1 ]; then
  standin_port=${TW_LOCAL_STANDIN_PORT:-$(free_port_from 8090)}
  export TW_LISTEN=${TW_LISTEN:-127.0.0.1:8080}
  export TWILIO_ACCOUNT_SID=ACd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0
  export TWILIO_AUTH_TOKEN
  TWILIO_AUTH_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  export TWILIO_PHONE_NUMBER=+15557007007
  unset TWILIO_MESSAGING_SERVICE_SID TWILIO_API_KEY_SID TWILIO_API_KEY_SECRET \
    TWILIO_AUTH_TOKEN_SECONDARY
  export TWILIO_WEBHOOK_URL="http://$TW_LISTEN/channels/twilio/webhook"
  export TWILIO_STATUS_CALLBACK_URL="http://$TW_LISTEN/channels/twilio/status"
  export TWILIO_API_BASE="http://127.0.0.1:$standin_port"
  printf '%s\n' "${bold}TWILIO IS SIMULATED${off}: no Twilio credentials in .env, so replies go to" \
    "the Twilio stand-in from tests/ on 127.0.0.1:$standin_port, and nothing reaches a phone." \
    "Put your real TWILIO_* values in .env (see deploy/env.example) to serve real traffic."
else
  export TW_LISTEN=${TW_LISTEN:-0.0.0.0:8080}
  say "real Twilio account ${TWILIO_ACCOUNT_SID:0:6}…: serving real traffic"
  note "Twilio must reach TWILIO_WEBHOOK_URL ($TWILIO_WEBHOOK_URL); this machine listens on $TW_LISTEN"
fi
ingress_port=$(port_of "$TW_LISTEN")
port_free "$ingress_port" || die "port $ingress_port (TW_LISTEN) is in use"
port_free "$(port_of "$TW_API_LISTEN")" || die "port $(port_of "$TW_API_LISTEN") (TW_API_LISTEN) is in use"

# ---------------------------------------------------------------- start

say "starting"
start redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$var/redis" \
  --appendonly yes --appendfsync everysec --save '' --daemonize no
wait_for 10 redis redis-cli -p "$redis_port" ping || not_ready
if [ $simulated = 1 ]; then
  start twilio-standin "$(bin tw-twilio-standin)" --port "$standin_port" \
    --account "$TWILIO_ACCOUNT_SID" --token "$TWILIO_AUTH_TOKEN"
  wait_for 10 stand-in curl -fs "http://127.0.0.1:$standin_port/_control/log" || not_ready
fi
start ingress "$(bin tw-ingress)"
wait_for 10 ingress curl -fs "http://127.0.0.1:$ingress_port/readyz" || not_ready
worker_metrics=127.0.0.1:$(free_port_from 9100)
start worker env TW_METRICS_LISTEN="$worker_metrics" "$(bin tw-worker)"
wait_for 10 worker "$admin" health --url "http://$worker_metrics/healthz" || not_ready
sender_metrics=127.0.0.1:$(free_port_from $(($(port_of "$worker_metrics") + 1)))
start sender env TW_METRICS_LISTEN="$sender_metrics" "$(bin tw-sender)"
wait_for 10 sender "$admin" health --url "http://$sender_metrics/healthz" || not_ready

# ---------------------------------------------------------------- one message through

demo_ok=1
demo() {
  local from=+15551230001 text
  text="Hello from run-local $(date +%H:%M:%S)"
  say "1. Twilio posts a signed inbound SMS to tw-ingress (tw-admin simulate inbound)"
  local out
  if ! out=$("$admin" simulate inbound --port "$ingress_port" --from "$from" --body "$text"); then
    note "$out"
    return 1
  fi
  note "$out"
  local sid=${out#inbound }
  sid=${sid%% *}
  say "2. tw-worker dispatches it to the echo agent, which queues the reply"
  if ! wait_for 20 dispatch sh -c "\"$admin\" --json message $sid | grep -q '\"outcome\": *\"dispatched\"'"; then
    "$admin" message "$sid" | sed 's/^/    /' || true
    return 1
  fi
  "$admin" message "$sid" | sed 's/^/    /'
  say "3. tw-sender sends the reply to Twilio (simulated)"
  local api="http://127.0.0.1:$standin_port/_control/messages"
  if ! wait_for 20 reply sh -c "curl -fs $api | grep -qF 'Echo: $text'"; then
    return 1
  fi
  local line reply
  line=$(curl -fs "$api" | tr '{' '\n' | grep -F "Echo: $text" | head -n 1)
  reply=$(printf '%s' "$line" | grep -o '"sid": *"SM[0-9a-f]*"' | grep -o 'SM[0-9a-f]*')
  note "Twilio (simulated) created $reply with the body \"Echo: $text\""
  "$admin" message "$reply" | sed 's/^/    /'
}
if [ $simulated = 1 ]; then
  if demo; then
    say "the message went all the way through"
  else
    demo_ok=0
    say "the message did not go through; logs are in $var/log/"
  fi
fi

if [ $once = 1 ]; then
  [ $demo_ok = 1 ] || exit 1
  exit 0
fi
say "running; Ctrl-C stops everything"
note "webhook:      http://$TW_LISTEN/channels/twilio/webhook (Twilio signs $TWILIO_WEBHOOK_URL)"
note "outbound API: http://$TW_API_LISTEN/v1/messages (Authorization: Bearer $TW_API_TOKEN)"
note "try:          $admin simulate inbound --port $ingress_port --from +15551230002 --body hi"
if [ $simulated = 1 ]; then
  demo_key=$("$admin" key encode --participant +15551230001)
  note "              curl -H 'Authorization: Bearer $TW_API_TOKEN' -H 'Content-Type: application/json' \\"
  note "                -d '{\"conversation_key\":\"$demo_key\",\"body\":\"hi\"}' http://$TW_API_LISTEN/v1/messages"
fi
note "              $admin queues"
note "logs:         $var/log/*.log"
# Wait until Ctrl-C, or until one of the programs stops by itself.
while :; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      note "${names[i]} (pid ${pids[i]}) stopped by itself; see $var/log/${names[i]}.log"
      exit 1
    fi
  done
  sleep 1 &
  sleeper=$!
  wait $sleeper || true
done
