#!/usr/bin/env bash
# The Docker demo's figures (docs/performance.md, "Docker demo"), measured on
# this machine with the images docker/test-compose.sh uses:
#
#   1. image sizes: the authlab image and its base, the stripped binaries
#   2. `up -d` until every service is healthy: cold (new containers, empty
#      volume: init seeds the users and generates the keys) and warm (the
#      same containers after `stop`)
#   3. each container's memory (docker stats) at idle, and under `authlab
#      load` on both stacks at once (a run with any failed request fails)
#   4. what the container network costs: wrk on /me through HAProxy with one
#      node per stack, the compose project (published ports: docker-proxy,
#      bridge, containers) against `authlab up --nodes 1` (the same HAProxy
#      template, node and Redis as host processes), TRIALS interleaved
#      trials, via scripts/lib/wrk-common.sh like scripts/wrk-*.sh
#
# Login throttling is off on both sides (wrk logs in once per stack, but the
# comparison must never meet a 429). Ports, subnet and project name are
# chosen free for this run, and everything is removed at the end.
#
# Environment: WRK_DURATION (10s), TRIALS (3), WRK_THREADS (2),
# WRK_CONNECTIONS (64), WARMUP (2s), AUTHLAB_BIN_DIR (release binaries).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

WRK_DURATION="${WRK_DURATION:-10s}"
TRIALS="${TRIALS:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WARMUP="${WARMUP:-2s}"
WORKERS=1
RESULTS="${RESULTS:-}"
VARIANT_WIDTH=16
DEMO_PASSWORD=authlab-demo

source "$ROOT/scripts/lib/wrk-common.sh"
require_tools docker wrk curl python3
setup_workdir

source "$ROOT/docker/lib.sh"
compose_command
if [ -z "${AUTHLAB_BIN_DIR:-}" ]; then
  cargo build --release -q -p lab -p session-server -p jwt-server --bins
  AUTHLAB_BIN_DIR="$ROOT/target/release"
fi
AUTHLAB="$AUTHLAB_BIN_DIR/authlab"
export AUTHLAB_TAG=offline-test
BASE_IMAGE=$(offline_images "$AUTHLAB_BIN_DIR")

free_ports_and_subnet
export AUTHLAB_LOGIN_THROTTLE=off AUTHLAB_LOAD_USERS=1000
PROJECT="authlab-figures-$$"
compose() { "${COMPOSE_CMD[@]}" -p "$PROJECT" -f docker-compose.yml -f docker/offline/compose.offline.yml "$@"; }
# Runs before wrk-common's cleanup (which stops PIDS and removes WORK).
trap 'status=$?; compose down -v --remove-orphans >/dev/null 2>&1 || true; (exit $status); cleanup' EXIT

up_seconds() { # up -d arguments...
  local t0 t1
  t0=$(date +%s%N)
  compose up -d "$@" >/dev/null 2>&1
  wait_healthy "$PROJECT" 300 || { compose ps >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }'
}
memory_table() { # title
  echo "-- container memory, $1 (docker stats)"
  docker stats --no-stream --format '{{.Name}}\t{{.MemUsage}}' \
    $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT") | sort | sed 's/^/   /'
}

echo "== 1. sizes"
for image in "authlab:$AUTHLAB_TAG" "$BASE_IMAGE"; do
  printf '   %-36s %s bytes\n' "$image" "$(docker image inspect "$image" --format '{{.Size}}')"
done
for binary in authlab session-server jwt-server; do
  strip --strip-debug -o "$WORK/$binary" "$AUTHLAB_BIN_DIR/$binary"
  printf '   %-15s %s bytes stripped of debug info (%s with it)\n' "$binary" \
    "$(stat -c %s "$WORK/$binary")" "$(stat -c %s "$AUTHLAB_BIN_DIR/$binary")"
done

echo "== 2. up -d until every service is healthy (3 + 3 nodes, $AUTHLAB_LOAD_USERS load users)"
echo "   cold: $(up_seconds) s"
sleep 10
memory_table "idle, 10 s after all healthy"

login_session() { # url -> cookie
  curl -sS -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" "$1/login" | tr -d '\r' \
    | sed -n 's/^[Ss]et-[Cc]ookie: *\(authlab_session=[^;]*\).*/\1/p' | head -n1
}
login_jwt() { # url -> access token
  curl -sS -H 'content-type: application/json' \
    -d "{\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" "$1/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
D_SESSION="http://127.0.0.1:$AUTHLAB_SESSION_PORT"
D_JWT="http://127.0.0.1:$AUTHLAB_JWT_PORT"
D_COOKIE=$(login_session "$D_SESSION")
D_TOKEN=$(login_jwt "$D_JWT")
[ -n "$D_COOKIE" ] && [ -n "$D_TOKEN" ] || { echo "login on the compose project failed" >&2; exit 1; }

# authlab's own load (goose, the browse scenario) on both stacks at once;
# `authlab load` exits non-zero when any request failed.
"$AUTHLAB" load --target "$D_SESSION" --stack session --users 16 --duration 15s >"$WORK/load-session.txt" 2>&1 &
session_load=$!
"$AUTHLAB" load --target "$D_JWT" --stack jwt --users 16 --duration 15s >"$WORK/load-jwt.txt" 2>&1 &
jwt_load=$!
sleep 10
memory_table "under authlab load (16 users per stack, both stacks at once; at 10 s of 15 s)"
for stack in session jwt; do
  pid_var=${stack}_load
  if ! wait "${!pid_var}"; then
    echo "error: the $stack load failed; its memory figure is not valid:" >&2
    cat "$WORK/load-$stack.txt" >&2
    exit 1
  fi
  echo "   $stack: $(grep -m1 '^requests ' "$WORK/load-$stack.txt")"
done

compose stop >/dev/null 2>&1
echo "   warm (the same containers after stop): $(up_seconds) s"

echo "== 3. one node per stack: compose (published ports) against authlab up (host processes)"
compose up -d --scale session=1 --scale jwt=1 >/dev/null 2>&1
wait_healthy "$PROJECT" 120
# HAProxy drops the removed replicas from DNS within its hold time.
until [ "$("$AUTHLAB" fault --haproxy-api "127.0.0.1:$AUTHLAB_HAPROXY_API_PORT" servers | grep -c ' UP')" = 2 ]; do sleep 0.5; done
D_COOKIE=$(login_session "$D_SESSION")
D_TOKEN=$(login_jwt "$D_JWT")

tail -f /dev/null | "$AUTHLAB" up --nodes 1 --login-throttle off --users 0 >"$WORK/up.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
for _ in $(seq 600); do grep -q 'jwt stack (HAProxy)' "$WORK/up.log" && break; sleep 0.1; done
L_SESSION=$(awk '/session stack \(HAProxy\)/ {print $NF}' "$WORK/up.log")
L_JWT=$(awk '/jwt stack \(HAProxy\)/ {print $NF}' "$WORK/up.log")
[ -n "$L_SESSION" ] && [ -n "$L_JWT" ] || { echo "authlab up did not start:" >&2; cat "$WORK/up.log" >&2; exit 1; }
L_COOKIE=$(login_session "$L_SESSION")
L_TOKEN=$(login_jwt "$L_JWT")

# CPU accounting (wrk-common's "other CPU"): every process that serves a
# request on either side counts as ours.
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do echo "$p"; descendants "$p"; done; }
PIDS+=($(descendants "$UP_PID"))
for id in $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
  pid=$(docker inspect --format '{{.State.Pid}}' "$id")
  PIDS+=("$pid" $(descendants "$pid"))
done
PIDS+=($(pgrep -f docker-proxy || true))

VARIANTS=(session/local session/docker jwt/local jwt/docker)
run_wrk() { # variant duration output
  local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2" --latency)
  case "$1" in
    session/local) args+=(-H "Cookie: $L_COOKIE" "$L_SESSION/me") ;;
    session/docker) args+=(-H "Cookie: $D_COOKIE" "$D_SESSION/me") ;;
    jwt/local) args+=(-H "authorization: Bearer $L_TOKEN" "$L_JWT/me") ;;
    jwt/docker) args+=(-H "authorization: Bearer $D_TOKEN" "$D_JWT/me") ;;
  esac
  wrk "${args[@]}" >"$3" 2>&1
}
run_trials
print_summary session/local
python3 - "$ROWS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def rps(v):
    return {r["trial"]: float(r["req_per_s"]) for r in rows if r["variant"] == v}
print()
for stack in ("session", "jwt"):
    local, docker = rps(f"{stack}/local"), rps(f"{stack}/docker")
    ratios = [docker[t] / local[t] for t in sorted(local)]
    print(f"{stack}: containers / host processes = {statistics.median(ratios):.2f}x "
          f"(per trial {', '.join(f'{r:.2f}' for r in ratios)})")
PY
finish
