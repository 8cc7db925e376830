#!/usr/bin/env bash
# The docker-compose demo, tested on a real Docker engine, end to end:
#
#   1. the images: stand-ins for redis and haproxy built from Debian's packages
#      (docker/offline/build-base.sh, cached by content hash) and the authlab
#      image from this checkout's release binaries (build-authlab.sh), because
#      this machine has no image registry; everything else is the real
#      docker-compose.yml (networks, healthchecks, init, config rendering,
#      volumes, scaling, the lab profile)
#   2. `up -d` until every service is healthy and `init` exited 0
#   3. log in on both stacks through HAProxy's published ports; 30 requests per
#      stack reach all three nodes (x-node names each container)
#      and `authlab load` runs on each stack with no failed request; GET /orders
#      answers alice through each orders port (session cookie value as Bearer
#      on the introspection ones, the access token on jwks and the gateway),
#      and the gateway refuses a garbage token itself
#   4. scale the JWT stack to 5 nodes; HAProxy finds them by DNS and all 5 answer
#   5. the console (`console` service): it finds the 5 JWT replicas in
#      HAProxy's stats, runs its load, shows the session stack FAILING and the
#      JWT stack SERVING while it pauses the store, and takes a node out and
#      back through HAProxy; then faults without the Docker socket
#      (`authlab fault`): a paused session
#      store makes session /me answer 503 while JWT /me answers 200; once the
#      pause ends the same cookie works again; a store that dies (SHUTDOWN
#      NOSAVE) comes back empty by its restart policy and the session stack
#      serves new logins again, no node restarted
#   6. TLS and HTTP/2 at HAProxy (AUTHLAB_TLS, AUTHLAB_H2): h2 by ALPN, a
#      Secure cookie, orders services over https;
#   7. the lab profile runs `authlab run --quick --only c1,c7` in a container
#      and its report appears on the host, owned by the uid it was given
#   8. `down -v` leaves no container, network or volume of the project, and
#      the images this run added are removed (AUTHLAB_KEEP_IMAGES=1 keeps them)
#
# Ports and the subnet are chosen free for this run; the project name is
# unique, so a demo already running on this machine is not touched.
#
# No Docker engine: exits 1, or 0 with a SKIPPED line when AUTHLAB_SKIP_DOCKER=1.
# AUTHLAB_BIN_DIR: use these release binaries instead of building them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
  if [ "${AUTHLAB_SKIP_DOCKER:-}" = 1 ]; then
    echo "SKIPPED: no Docker engine answers (docker info failed) and AUTHLAB_SKIP_DOCKER=1"
    exit 0
  fi
  fail "no Docker engine answers (docker info failed); start one, or set AUTHLAB_SKIP_DOCKER=1 to skip this test"
fi
source docker/lib.sh
compose_command || fail "no Compose to run the demo with"

# The engine is left as it was found: the images this run adds (the offline
# stand-ins, the base, the authlab images) are removed at the end.
# AUTHLAB_KEEP_IMAGES=1 keeps them, as a cache for the next run on a
# developer's machine (the base takes minutes to debootstrap).
record_images

started=$(date +%s)
export AUTHLAB_TAG=offline-test
if [ -z "${AUTHLAB_BIN_DIR:-}" ]; then
  say "release binaries"
  cargo build --release -q -p lab -p session-server -p jwt-server --bins
  AUTHLAB_BIN_DIR="$root/target/release"
fi
authlab="$AUTHLAB_BIN_DIR/authlab"

say "images"
offline_images "$AUTHLAB_BIN_DIR" >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(authlab|authlab-lab):offline-test|^redis:7.0-bookworm|^haproxy:2.6-bookworm'

# Free host ports for this run, and a subnet no other network uses.
free_ports_and_subnet
session_port=$AUTHLAB_SESSION_PORT jwt_port=$AUTHLAB_JWT_PORT api_port=$AUTHLAB_HAPROXY_API_PORT
store_port=$AUTHLAB_STORE_PORT subnet=$AUTHLAB_SUBNET
export AUTHLAB_LOAD_USERS=100
project="authlab-test-$$"
compose() { "${COMPOSE_CMD[@]}" -p "$project" -f docker-compose.yml -f docker/offline/compose.offline.yml "$@"; }

reports_dir=""
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- state at failure" >&2
    compose ps >&2 || true
    compose logs --tail 30 >&2 || true
  fi
  compose --profile lab down -v --remove-orphans >/dev/null 2>&1 || true
  [ -n "$reports_dir" ] && rm -rf "$reports_dir"
  remove_new_images
  exit "$status"
}
trap cleanup EXIT

session_url="http://127.0.0.1:$session_port"
jwt_url="http://127.0.0.1:$jwt_port"
login_body='{"username":"alice","password":"authlab-demo"}'
bob_body='{"username":"bob","password":"authlab-demo"}'
# Retried logins use load users of their own: login throttling allows a
# username 5 attempts per node, then one per 10 s.
user1_body='{"username":"user1","password":"authlab-load"}'
user2_body='{"username":"user2","password":"authlab-load"}'

say "docker compose up -d (project $project, subnet $subnet)"
t0=$(date +%s.%N)
compose up -d
wait_healthy "$project" 240
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "every service healthy %.1f s after up -d (cold: empty volume, new containers)\n", b - a }'
compose ps

say "log in on both stacks through HAProxy"
jar=$(mktemp)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -H 'content-type: application/json' -d "$login_body" "$session_url/login")
[ "$code" = 200 ] || fail "session login answered $code"
curl -sf -b "$jar" "$session_url/me" | grep -q '"user":"alice"' || fail "session /me did not name alice"
access=$(curl -sf -H 'content-type: application/json' -d "$login_body" "$jwt_url/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -H "authorization: Bearer $access" "$jwt_url/me" | grep -q '"user":"alice"' || fail "JWT /me did not name alice"

say "GET /orders through each orders service's port"
session_value=$(awk '$6 == "authlab_session" {print $7}' "$jar")
[ -n "$session_value" ] || fail "no authlab_session cookie in the jar"
for pair in "$AUTHLAB_ORDERS_JWKS_PORT:$access" "$AUTHLAB_ORDERS_INTROSPECTION_PORT:$session_value" \
            "$AUTHLAB_ORDERS_INTROSPECTION_CACHED_PORT:$session_value" "$AUTHLAB_ORDERS_GATEWAY_PORT:$access"; do
  port=${pair%%:*} credential=${pair#*:}
  body=$(curl -s -w ' %{http_code}' -H "authorization: Bearer $credential" "http://127.0.0.1:$port/orders")
  case "$body" in *'alice'*' 200') echo "orders on :$port: 200 for alice" ;; *) fail "orders on :$port answered: $body" ;; esac
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer garbage' "http://127.0.0.1:$AUTHLAB_ORDERS_GATEWAY_PORT/orders")
[ "$code" = 401 ] || fail "the gateway answered $code to a garbage token, expected 401"

# Distinct x-node values over N requests.
nodes_seen() {
  local url=$1 n=$2; shift 2
  for _ in $(seq "$n"); do
    curl -s -D - -o /dev/null "$@" "$url/me" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-node" {print $2}'
  done | sort -u
}
# The container IDs of a service, as its nodes name themselves (stack-<hostname>).
containers_of() {
  docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" | cut -c1-12 | sed "s/^/$1-/" | sort
}
check_spread() {
  local stack=$1 url=$2 want=$3; shift 3
  local seen expected
  seen=$(nodes_seen "$url" 30 "$@")
  expected=$(containers_of "$stack")
  echo "$stack: 30 requests reached $(echo "$seen" | wc -l) nodes: $(echo $seen)"
  [ "$(echo "$expected" | wc -l)" = "$want" ] || fail "$stack has $(echo "$expected" | wc -l) containers, expected $want"
  [ "$seen" = "$expected" ] || fail "$stack: x-node values ($(echo $seen)) are not its containers ($(echo $expected))"
}
check_spread session "$session_url" 3 -b "$jar"
check_spread jwt "$jwt_url" 3 -H "authorization: Bearer $access"

say "authlab load through the published ports (5 s per stack, no failed request allowed)"
"$authlab" load --target "$session_url" --stack session --users 4 --duration 5s
"$authlab" load --target "$jwt_url" --stack jwt --users 4 --duration 5s

say "scale the JWT stack to 5 nodes"
compose up -d --scale session=3 --scale jwt=5
wait_healthy "$project" 120
# HAProxy learns the new replicas from Docker's DNS within its hold time.
deadline=$(( $(date +%s) + 30 ))
until [ "$("$authlab" fault --haproxy-api "127.0.0.1:$api_port" servers | grep -c '^jwt_nodes/.* UP')" = 5 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { "$authlab" fault --haproxy-api "127.0.0.1:$api_port" servers; fail "HAProxy never saw 5 JWT servers up"; }
  sleep 1
done
check_spread jwt "$jwt_url" 5 -H "authorization: Bearer $access"

say "the console: both stacks live; a paused store turns the session side only"
console_url="http://127.0.0.1:$AUTHLAB_CONSOLE_PORT/"
token=$(curl -sf "$console_url" | python3 -c 'import re,sys; print(re.search(r"name=\"csrf-token\" content=\"([^\"]+)\"", sys.stdin.read()).group(1))') \
  || fail "the console's page did not answer with a token"
# Its names: loopback ones pass, any other (a DNS-rebinding page's) gets 421.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$AUTHLAB_CONSOLE_PORT/")" = 200 ] \
  || fail "the console did not answer as localhost"
evil=(-s -o /dev/null -w '%{http_code}' --max-time 5 -H "host: evil.example:$AUTHLAB_CONSOLE_PORT")
[ "$(curl "${evil[@]}" "$console_url")" = 421 ] || fail "the console served its page to Host evil.example"
[ "$(curl "${evil[@]}" "${console_url}api/events")" = 421 ] || fail "the console served its events to Host evil.example"
[ "$(curl "${evil[@]}" -H 'content-type: application/json' -H "x-csrf-token: $token" \
      -H "origin: http://evil.example:$AUTHLAB_CONSOLE_PORT" -d '{"action":"alice-logout"}' "${console_url}api/control")" = 421 ] \
  || fail "the console took a control from Host evil.example"
console_control() { # json body; prints the answer and its status
  curl -s -w ' %{http_code}' --max-time 10 -H 'content-type: application/json' -H "x-csrf-token: $token" -d "$1" "${console_url}api/control"
}
console_until() { # python condition on s (snapshot), h (health per stack), nodes (stack -> [(name, state)]); seconds
  local deadline=$(( $(date +%s) + $2 ))
  until curl -sf --max-time 5 "${console_url}api/state" | python3 -c "
import json, sys
s = json.load(sys.stdin)
h = {x['stack']: x['health'] for x in s['stacks']}
nodes = {x['stack']: [(n['name'], n['state']) for n in x['nodes']] for x in s['stacks']}
sys.exit(0 if ($1) else 1)"; do
    [ "$(date +%s)" -lt "$deadline" ] || { curl -s "${console_url}api/state" | head -c 1500; echo; fail "console: not within $2 s: $1"; }
    sleep 0.5
  done
}
# The replicas scaled in above, found again in HAProxy's stats.
console_until "len(nodes['jwt']) == 5 and all(state.startswith('UP') for _, state in nodes['jwt'])" 15
[ "$(console_control '{"action":"store-latency","ms":5}' | tail -c 3)" = 409 ] || fail "the compose console accepted store latency"
case "$(console_control '{"action":"load-start","users":4,"rate":4}')" in *' 200') ;; *) fail "the console refused to start its load" ;; esac
console_until "h['session'] == 'serving' and h['jwt'] == 'serving'" 20
case "$(console_control '{"action":"store-pause"}')" in *' 200') ;; *) fail "the console could not pause the store" ;; esac
console_until "h['session'] == 'failing' and h['jwt'] == 'serving'" 10
echo "console: store paused; session FAILING, JWT SERVING"
console_until "h['session'] == 'serving' and s['store']['reading']['reachability'] == 'up'" 40
echo "console: the pause ran out; session SERVING again"
node=$(curl -sf "${console_url}api/state" | python3 -c 'import json,sys; print([x for x in json.load(sys.stdin)["stacks"] if x["stack"] == "session"][0]["nodes"][0]["name"])')
case "$(console_control "{\"action\":\"node-kill\",\"node\":\"$node\"}")" in *' 200') ;; *) fail "the console could not take $node out" ;; esac
console_until "dict(nodes['session'])['$node'].startswith('MAINT')" 5
console_control "{\"action\":\"node-restart\",\"node\":\"$node\"}" >/dev/null
console_until "dict(nodes['session'])['$node'].startswith('UP')" 10
echo "console: $node taken out through HAProxy (MAINT) and put back (UP)"
console_control '{"action":"load-stop"}' >/dev/null

# After a store outage each node reconnects on its next request, so the
# stack is whole again within a second or two, not at once: retry a login
# (bounded), and say what the stack answered meanwhile.
login_eventually() { # jar body
  local deadline=$(( $(date +%s) + 15 )) answer
  while :; do
    answer=$(curl -s -w ' %{http_code}' --max-time 5 -c "$1" -H 'content-type: application/json' -d "$2" "$session_url/login")
    case "$answer" in *" 200") return 0 ;; esac
    echo "   login answered: $answer"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no login succeeded within 15 s of the store's return"
    sleep 0.5
  done
}
fault() { "$authlab" fault --store-url "redis://127.0.0.1:$store_port" --haproxy-api "127.0.0.1:$api_port" "$@"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
restarts() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs docker inspect \
    --format '{{ index .Config.Labels "com.docker.compose.service" }} {{ .RestartCount }} {{ .State.StartedAt }}' | grep -E '^(session|jwt) ' | sort
}
nodes_before=$(restarts)

say "fault: the session store stops answering (CLIENT PAUSE 6s)"
fault store-pause 6s
session_status=$(status_of -b "$jar" "$session_url/me")
jwt_status=$(status_of -H "authorization: Bearer $access" "$jwt_url/me")
echo "during the pause: session /me $session_status, JWT /me $jwt_status"
[ "$session_status" = 503 ] || fail "session /me answered $session_status while the store was paused, expected 503"
[ "$jwt_status" = 200 ] || fail "JWT /me answered $jwt_status while the store was paused, expected 200"
deadline=$(( $(date +%s) + 20 ))
until [ "$(status_of -b "$jar" "$session_url/me")" = 200 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "session /me never answered 200 again after the pause"
  sleep 0.5
done
echo "after the pause: session /me 200 with the same cookie"

say "fault: the session store dies (SHUTDOWN NOSAVE) and its restart policy brings it back empty"
fault store-crash
saw_503=no
deadline=$(( $(date +%s) + 60 ))
while :; do
  code=$(status_of -b "$jar" "$session_url/me")
  [ "$code" = 503 ] && saw_503=yes
  # The old session died with the store: 401 once the store answers again.
  [ "$code" = 401 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "session /me answered $code, never 401 (store back, session gone)"
  sleep 0.2
done
echo "after the crash: session /me answered 503 while the store was down ($saw_503), then 401 (session gone)"
jwt_status=$(status_of -H "authorization: Bearer $access" "$jwt_url/me")
[ "$jwt_status" = 200 ] || fail "JWT /me answered $jwt_status after the store crash, expected 200"
jar2=$(mktemp)
login_eventually "$jar2" "$user1_body"
[ "$(status_of -b "$jar2" "$session_url/me")" = 200 ] || fail "the new session did not work"
[ "$(restarts)" = "$nodes_before" ] || fail "a node restarted: before: $nodes_before; after: $(restarts)"
echo "new login works again; no session or JWT node restarted"
rm -f "$jar" "$jar2"

say "the README's recipe: docker compose stop / start session-store"
jar3=$(mktemp)
[ "$(status_of -c "$jar3" -H 'content-type: application/json' -d "$bob_body" "$session_url/login")" = 200 ] \
  || fail "login before the stop failed"
compose stop session-store
session_status=$(status_of -b "$jar3" "$session_url/me")
jwt_status=$(status_of -H "authorization: Bearer $access" "$jwt_url/me")
echo "store stopped: session /me $session_status, JWT /me $jwt_status"
[ "$session_status" = 503 ] || fail "session /me answered $session_status with the store stopped, expected 503"
[ "$jwt_status" = 200 ] || fail "JWT /me answered $jwt_status with the store stopped, expected 200"
compose start session-store
deadline=$(( $(date +%s) + 60 ))
until [ "$(status_of -b "$jar3" "$session_url/me")" = 401 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "session /me never answered 401 (store back, empty) after the start"
  sleep 0.5
done
login_eventually "$jar3" "$user2_body"
[ "$(restarts)" = "$nodes_before" ] || fail "a node restarted during stop/start"
echo "store started: the old session is gone (401), a new login works, no node restarted"
rm -f "$jar3"

say "TLS and HTTP/2 at HAProxy: AUTHLAB_TLS=true AUTHLAB_H2=true docker compose up -d --force-recreate"
# HAProxy reads its config when it starts: switching TLS on for a running
# project recreates its containers (the volume, keys and secrets stay).
AUTHLAB_TLS=true AUTHLAB_H2=true compose up -d --force-recreate
wait_healthy "$project" 240
ca=$(mktemp)
docker cp "$(compose ps -q haproxy)":/authlab/config/tls/ca.pem "$ca"
https_session="https://127.0.0.1:$session_port" https_jwt="https://127.0.0.1:$jwt_port"
jar4=$(mktemp)
head=$(curl -s --cacert "$ca" -D - -o /dev/null -c "$jar4" -H 'content-type: application/json' -d "$login_body" "$https_session/login" | tr -d '\r')
echo "$head" | grep -q '^HTTP/2 200' || fail "session login over TLS did not answer 200 over HTTP/2: $head"
echo "$head" | grep -i '^set-cookie: authlab_session=' | grep -q '; Secure' || fail "the session cookie is not Secure behind TLS: $head"
curl -sf --cacert "$ca" -b "$jar4" "$https_session/me" | grep -q '"user":"alice"' || fail "session /me over TLS did not name alice"
access=$(curl -sf --cacert "$ca" -H 'content-type: application/json' -d "$login_body" "$https_jwt/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
version=$(curl -s --cacert "$ca" -o /dev/null -w '%{http_version} %{http_code}' -H "authorization: Bearer $access" "$https_jwt/me")
[ "$version" = "2 200" ] || fail "JWT /me over TLS answered (HTTP version, status) $version, expected 2 200"
version=$(curl -s --http1.1 --cacert "$ca" -o /dev/null -w '%{http_version} %{http_code}' -H "authorization: Bearer $access" "$https_jwt/me")
[ "$version" = "1.1 200" ] || fail "an HTTP/1.1 client over TLS got $version, expected 1.1 200"
# The orders services reach the stacks over https, trusting the generated CA.
session_value=$(awk '$6 == "authlab_session" {print $7}' "$jar4")
for pair in "$AUTHLAB_ORDERS_JWKS_PORT:$access" "$AUTHLAB_ORDERS_INTROSPECTION_PORT:$session_value"; do
  port=${pair%%:*} credential=${pair#*:}
  body=$(curl -s --cacert "$ca" -w ' %{http_code}' -H "authorization: Bearer $credential" "https://127.0.0.1:$port/orders")
  case "$body" in
    *'alice'*' 200') echo "orders over TLS on :$port: 200 for alice" ;;
    *)
      # Seen once (2026-12-07): introspection answered "not active" for a
      # session the stack had just served. Say so loudly with what the
      # session stack itself says of the cookie, and ask once more; a
      # second refusal fails. (Open: the cause is not found yet.)
      echo "WARNING: orders over TLS on :$port answered: $body (credential ${credential:0:24}…); session /me with the same cookie: $(curl -s --cacert "$ca" -o /dev/null -w '%{http_code}' -b "$jar4" "$https_session/me")" >&2
      sleep 1
      body=$(curl -s --cacert "$ca" -w ' %{http_code}' -H "authorization: Bearer $credential" "https://127.0.0.1:$port/orders")
      case "$body" in *'alice'*' 200') echo "orders over TLS on :$port: 200 for alice on the second try" ;; *) fail "orders over TLS on :$port answered: $body" ;; esac
      ;;
  esac
done
# A client that does not trust the generated CA refuses the certificate.
if curl -s -o /dev/null "$https_jwt/health"; then fail "curl accepted HAProxy's certificate without the CA"; fi
echo "TLS: HTTP/2 by ALPN, HTTP/1.1 on request, Secure cookie, orders over https; the certificate needs the generated CA"
rm -f "$ca" "$jar4"

say "the lab profile: authlab run --quick --only c1,c7 in a container"
reports_dir=$(mktemp -d)
lab_log=$(mktemp)
chown 1000:1000 "$reports_dir"
AUTHLAB_REPORTS_DIR="$reports_dir" AUTHLAB_UID=1000 AUTHLAB_GID=1000 \
  compose --profile lab run --rm lab authlab run --quick --only c1,c7 --out /reports | tee "$lab_log"
for file in results.json report.md report.html c1.svg c1.png c7.svg c7.png; do
  test -s "$reports_dir/latest/$file" || fail "lab: missing report file $file on the host"
done
grep -q '"claim": "C1"' "$reports_dir/latest/results.json" || fail "lab: results.json has no C1 verdict"
grep -q "report: $reports_dir/" "$lab_log" || fail "lab: the last lines do not name the report's host path"
owner=$(stat -c %u "$reports_dir/latest/results.json")
[ "$owner" = 1000 ] || fail "lab: report owned by uid $owner, expected 1000"
echo "lab wrote $(ls "$reports_dir/latest" | wc -l) files under $reports_dir/latest, owned by uid 1000"

say "docker compose down -v"
compose --profile lab down -v --remove-orphans
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
left+=$(docker network ls -q --filter "label=com.docker.compose.project=$project")
left+=$(docker volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || fail "down -v left: $left"
echo "no container, network or volume of $project is left"

echo
echo "docker compose test passed in $(( $(date +%s) - started )) s"
