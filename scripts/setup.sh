#!/usr/bin/env bash
# Installs the programs authlab's tests and experiments run for real:
# redis-server (user directory and session store), haproxy (load balancer),
# wrk (capacity measurements), h2load from nghttp2-client (bytes on the wire
# over HTTP/1.1 and HTTP/2) and openssl (TLS handshakes, `s_time`); with
# `--browser`, also chromium and chromium-driver (the console's browser test,
# which scripts/test.sh runs). Only what is missing is installed.
set -euo pipefail

browser=0
if [ "${1:-}" = "--browser" ]; then
  browser=1
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "$browser" = 1 ]; then
  # The console's browser test: headless chromium driven over WebDriver.
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "authlab needs: ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# Debian may start a redis-server service on 6379; authlab never uses it
# (every process authlab needs is started on a free port of its own).
