#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what twilio-channel needs on Debian 12: build tools, the libraries it links, Redis 7,
# and what the tests use (cmocka, python3, node for the signature interop test, clang for fuzzing).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=(build-essential cmake pkg-config
  libmicrohttpd-dev libhiredis-dev libssl-dev libcurl4-openssl-dev libjansson-dev
  redis-server redis-tools curl ca-certificates
  # deploy/run-local.sh builds the Twilio stand-in, which lives with the tests (cmocka, python3).
  libcmocka-dev python3)
if [ "${1:-}" = "--test" ]; then
  packages+=(clang libclang-rt-dev valgrind wrk docker-compose)
  # Debian's node only when none is on PATH: a newer one (e.g. NodeSource's) conflicts with it.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
