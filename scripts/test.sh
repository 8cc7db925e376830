#!/usr/bin/env bash
# Runs authlab's test suite: installs what the tests need when missing, then
# `cargo test --workspace`. Tests start their own redis-server processes on
# free loopback ports; nothing needs to be running beforehand. The console's
# browser test needs chromium and chromium-driver, installed here too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec cargo test --workspace "$@"
