#!/usr/bin/env bash
# authlab on Docker Swarm, tested on a real swarm of three Docker engines on
# this one machine (docker/swarm/testbed.sh: engines in containers, joined
# into one swarm), end to end:
#
#   1. the image: authlab:<tag> from this checkout's binaries (the offline
#      base, as the compose test builds it), brought to every engine with
#      `docker save | docker load`, as a real multi-machine swarm without a
#      registry would get it
#   2. `authlab up --engine swarm` deploys a stack of 3 nodes per stack; the
#      nodes of each stack are spread over the three engines (by the swarm's
#      task list and by `x-node` answered through each node's own port), and
#      HAProxy, the store and the user directory run on the manager
#   3. log in on both stacks through HAProxy
#   4. one engine is stopped while requests go on against both stacks with
#      the credentials from 3: the requests that failed are counted and must
#      stay few (bounded), and the last ones must all succeed: the stacks
#      keep serving, and the swarm moves the lost tasks to the others
#   5. `authlab up` is stopped with Ctrl-C and leaves no service behind
#   6. `authlab run --engine swarm --quick --only c1,c3,c5,c7`: the report
#      has a verdict for each, names the swarm's nodes, and says the nodes
#      share one machine
#   7. the test bed is removed: no container, network, volume or image this
#      run made is left (AUTHLAB_KEEP_IMAGES=1 keeps the images as a cache)
#
# No Docker engine: exits 1, or 0 with a SKIPPED line when AUTHLAB_SKIP_DOCKER=1.
# AUTHLAB_BIN_DIR: use these binaries instead of building release ones.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if ! docker info >/dev/null 2>&1; then
  if [ "${AUTHLAB_SKIP_DOCKER:-}" = 1 ]; then
    echo "SKIPPED: no Docker engine answers (docker info failed) and AUTHLAB_SKIP_DOCKER=1"
    exit 0
  fi
  fail "no Docker engine answers (docker info failed); start one, or set AUTHLAB_SKIP_DOCKER=1 to skip this test"
fi

source docker/lib.sh
# Before DOCKER_HOST points at the test bed: these are the host engine's,
# and cleanup points the CLI back there before removing what was added.
host_engine=${DOCKER_HOST-}
record_images

started=$(date +%s.%N)
export AUTHLAB_TAG=swarm-test
if [ -z "${AUTHLAB_BIN_DIR:-}" ]; then
  say "release binaries"
  cargo build --release -q -p lab -p session-server -p jwt-server --bins
  AUTHLAB_BIN_DIR="$root/target/release"
fi
authlab="$AUTHLAB_BIN_DIR/authlab"

work=$(mktemp -d)
up_pid=""
cleanup() {
  status=$?
  set +e
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -INT "$up_pid"; wait "$up_pid"
  fi
  if [ "$status" -ne 0 ]; then
    echo "--- state at failure" >&2
    [ -f "$work/up.log" ] && tail -n 40 "$work/up.log" >&2
    [ -n "${DOCKER_HOST:-}" ] && docker service ls >&2
  fi
  if [ -n "$host_engine" ]; then export DOCKER_HOST="$host_engine"; else unset DOCKER_HOST; fi
  docker/swarm/testbed.sh down >&2
  rm -rf "$work"
  remove_new_images
  exit "$status"
}
trap cleanup EXIT

say "images"
docker/offline/build-authlab.sh "$AUTHLAB_BIN_DIR" >/dev/null

say "a swarm of three engines"
t0=$(date +%s.%N)
testbed_env=$(docker/swarm/testbed.sh up 3)
export "$testbed_env"
echo "swarm formed in $(elapsed "$t0") s; manager: $DOCKER_HOST"
docker node ls
t0=$(date +%s.%N)
docker/swarm/testbed.sh load "authlab:$AUTHLAB_TAG"
echo "image on every engine in $(elapsed "$t0") s"

say "authlab up --engine swarm"
t0=$(date +%s.%N)
# Its prompt reads a FIFO this script holds open, for the host faults below.
mkfifo "$work/prompt"
exec 3<>"$work/prompt"
"$authlab" up --engine swarm --nodes 3 --no-console --users 50 <"$work/prompt" >"$work/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 1 180); do
  grep -q 'session stack (HAProxy)' "$work/up.log" && break
  kill -0 "$up_pid" 2>/dev/null || fail "authlab up exited: $(tail -n 20 "$work/up.log")"
  sleep 1
done
grep -q 'session stack (HAProxy)' "$work/up.log" || fail "authlab up printed no address in 180 s"
echo "deployed and serving in $(elapsed "$t0") s"
cat "$work/up.log"
session_url=$(awk '/^session stack \(HAProxy\)/ {print $NF}' "$work/up.log")
jwt_url=$(awk '/^jwt stack \(HAProxy\)/ {print $NF}' "$work/up.log")
stack=$(docker stack ls --format '{{.Name}}' | grep '^authlab-' | head -n 1)
[ -n "$stack" ] || fail "no authlab stack on the swarm"

say "the nodes of each stack are spread over the three engines"
for service in session jwt; do
  hosts=$(docker service ps "${stack}_$service" --filter desired-state=running --format '{{.Node}}' | sort -u | wc -l)
  [ "$hosts" -eq 3 ] || fail "$service's tasks run on $hosts engine(s), not 3: $(docker service ps "${stack}_$service")"
  # Each node answers on its own published port, as x-node names it.
  while read -r name url; do
    answered=$(curl -s -D - -o /dev/null --max-time 5 "$url/health" | awk -F': ' 'tolower($1) == "x-node" {print $2}' | tr -d '\r')
    [ "$answered" = "$name" ] || fail "$url answered as '$answered', not $name"
  done < <(awk -v s="$service" '$1 == "node" && index($2, s "-") == 1 {print $2, $3}' "$work/up.log")
  echo "$service: 3 tasks on 3 engines, each answering as itself"
done
infra=$(docker service ps "${stack}_haproxy" --format '{{.Node}}' --filter desired-state=running)
echo "haproxy on $infra"

say "log in on both stacks through HAProxy"
login='{"username":"alice","password":"authlab-demo"}'
jar="$work/jar"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -H 'content-type: application/json' -d "$login" "$session_url/login")
[ "$code" = 200 ] || fail "session login answered $code"
curl -sf -b "$jar" "$session_url/me" | grep -q '"user":"alice"' || fail "session /me did not name alice"
access=$(curl -sf -H 'content-type: application/json' -d "$login" "$jwt_url/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -H "authorization: Bearer $access" "$jwt_url/me" | grep -q '"user":"alice"' || fail "JWT /me did not name alice"
echo "alice logged in on both stacks"

say "host faults through the engine: drain a node, cut one off the overlay"
prompt() { # command, the line that says it is done
  echo "$1" >&3
  for _ in $(seq 1 240); do
    grep -qF "$2" "$work/up.log" && return 0
    grep -q '^error:' "$work/up.log" && fail "authlab up: $(grep '^error:' "$work/up.log")"
    sleep 0.5
  done
  fail "no '$2' from authlab up after 120 s"
}
both_serve() { # what
  curl -sf --max-time 5 -b "$jar" "$session_url/me" >/dev/null || fail "session /me failed $1"
  curl -sf --max-time 5 -H "authorization: Bearer $access" "$jwt_url/me" >/dev/null || fail "JWT /me failed $1"
}
t0=$(date +%s.%N)
prompt "drain authlab-swarm-2" "authlab-swarm-2: drain done"
on_drained=$(docker stack ps "$stack" --filter desired-state=running --format '{{.Node}}' | grep -c '^authlab-swarm-2$' || true)
[ "$on_drained" -eq 0 ] || fail "$on_drained task(s) still on the drained node"
both_serve "after the drain"
echo "authlab-swarm-2 drained in $(elapsed "$t0") s: its tasks run elsewhere, both stacks serve"
prompt "activate authlab-swarm-2" "authlab-swarm-2: activate done"
t0=$(date +%s.%N)
prompt "cut authlab-swarm-3" "authlab-swarm-3: cut done"
# HAProxy's checks (every 500 ms, down after 2) take the cut nodes out.
sleep 3
both_serve "with authlab-swarm-3 cut off"
down=$(curl -s "$(awk '/^HAProxy stats/ {print $NF}' "$work/up.log");csv" \
  | awk -F, '$1 ~ /_nodes$/ && $2 !~ /^(BACKEND|FRONTEND)$/ && $18 ~ /DOWN/' | wc -l)
[ "$down" -ge 1 ] || fail "HAProxy saw no node down with authlab-swarm-3 cut off"
echo "authlab-swarm-3 cut off: HAProxy saw $down node(s) down, both stacks serve"
prompt "reconnect authlab-swarm-3" "authlab-swarm-3: reconnect done"
sleep 3
both_serve "after the reconnect"
echo "authlab-swarm-3 reconnected after $(elapsed "$t0") s"

say "one engine stops; both stacks keep serving"
# Requests every 100 ms for 40 s on each stack, bounded in count and time.
probe() { # name url header… ; prints one status code per line
  local name=$1 url=$2; shift 2
  for _ in $(seq 1 400); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$@" "$url/me" || echo 000
    sleep 0.1
  done >"$work/$name.codes"
}
probe session "$session_url" -b "$jar" &
session_probe=$!
probe jwt "$jwt_url" -H "authorization: Bearer $access" &
jwt_probe=$!
sleep 5
victim=$(docker node ls --format '{{.Hostname}} {{.ManagerStatus}}' | awk '$2 == "" {print $1}' | tail -n 1)
docker/swarm/testbed.sh stop-engine "${victim##*-}"
t0=$(date +%s.%N)
echo "engine $victim stopped"
# Beside the requests: when the swarm marks the node Down, and when every
# task of both stacks runs on the other engines again (bounded: 90 s).
watch_swarm() {
  local down="" moved service running
  for _ in $(seq 1 180); do
    if [ -z "$down" ] && docker node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$victim Down"; then
      down=$(elapsed "$t0"); echo "$down" >"$work/down"
    fi
    moved=1
    for service in session jwt; do
      running=$(docker service ps "${stack}_$service" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' \
        | awk -v v="$victim" '$1 != v && $2 == "Running"' | wc -l)
      [ "$running" -eq 3 ] || moved=0
    done
    if [ -n "$down" ] && [ "$moved" = 1 ]; then
      elapsed "$t0" >"$work/moved"; return 0
    fi
    sleep 0.5
  done
}
watch_swarm &
watcher=$!
wait "$session_probe" "$jwt_probe"
for name in session jwt; do
  total=$(wc -l <"$work/$name.codes")
  failed=$(grep -vc '^200$' "$work/$name.codes" || true)
  tail_failed=$(tail -n 50 "$work/$name.codes" | grep -vc '^200$' || true)
  echo "$name: $failed of $total requests failed while $victim stopped (the last 50: $tail_failed failed)"
  [ "$failed" -le $((total / 10)) ] || fail "$name: $failed of $total requests failed"
  [ "$tail_failed" -eq 0 ] || fail "$name: still failing at the end"
done
wait "$watcher"
[ -s "$work/down" ] || fail "the swarm never marked $victim Down"
[ -s "$work/moved" ] || fail "the swarm did not move $victim's tasks: $(docker stack ps "$stack")"
echo "the swarm marked $victim Down $(cat "$work/down") s after it stopped, and ran every task on the other engines $(cat "$work/moved") s after"

say "Ctrl-C stops authlab up and removes its stack"
kill -INT "$up_pid"
wait "$up_pid" || fail "authlab up exited with an error: $(tail -n 20 "$work/up.log")"
up_pid=""
[ -z "$(docker stack ls --format '{{.Name}}' | grep '^authlab-')" ] || fail "a stack is left: $(docker stack ls)"

say "authlab run --engine swarm --quick --only c1,c3,c5,c7"
t0=$(date +%s.%N)
"$authlab" run --engine swarm --quick --only c1,c3,c5,c7 --out "$work/reports"
echo "quick run on the swarm took $(elapsed "$t0") s"
report="$work/reports/latest/report.md"
test -s "$report" || fail "no report"
for claim in C1 C3 C5 C7; do
  grep -q "\"claim\": \"$claim\"" "$work/reports/latest/results.json" || fail "no $claim in results.json"
done
grep -q 'authlab-swarm-1' "$report" || fail "the report does not name the swarm's nodes"
grep -qi 'share one machine' "$report" || fail "the report does not say the nodes share one machine"
grep -E '^\| C(1|3|5|7) ' "$report" || true

say "swarm test passed in $(elapsed "$started") s"
