#!/usr/bin/env bash
# The main job: install what is missing, build in release mode, and run every
# experiment in quick mode on real clusters. Prints where the report is.
#
#   ./scripts/run.sh                 # all experiments, quick (a few minutes)
#   ./scripts/run.sh --only c4,c7    # any `authlab run` flags
#   FULL=1 ./scripts/run.sh          # full trials (longer, tighter spread)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release -p lab
./target/release/authlab doctor

if [ "${FULL:-0}" = 1 ]; then
  exec ./target/release/authlab run "$@"
else
  exec ./target/release/authlab run --quick "$@"
fi
