#!/usr/bin/env bash
# Checks, on a test bed that is up (testbed.sh up; testbed.sh load
# redis:7.0-bookworm), what the harness relies on, and shows how, with the
# docker CLI and DOCKER_HOST aimed at the manager:
#   1. an attachable overlay network, a dnsrr service spread over the nodes,
#      tasks.<service> from a one-off container on the overlay;
#   2. host-mode publishing, engine-chosen and fixed ports: which node, which
#      port (the task's .Status.PortStatus.Ports), reached from the host;
#   3. a task's container found from the manager, its CPU time read through
#      its node's engine (cgroup v1 cpuacct, and the engine's stats API);
#   4. a replicated job's output read back with `docker service logs`;
#   5. scale to 0 and back; engine 3 stopped: node Down, tasks rescheduled
#      (timed), engine started again: node Ready.
# Everything it creates is named authlab-smoke-* and removed at the end.
#
#   docker/swarm/smoke.sh [--no-stop]     # --no-stop: skip the engine stop/start of 5
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
eval "export $("$here/testbed.sh" env)"
image=redis:7.0-bookworm
net=authlab-smoke-net
t0=$SECONDS

say() { echo "smoke [$((SECONDS - t0))s]: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
cleanup() {
  docker service ls -q --filter name=authlab-smoke- | xargs -r docker service rm >/dev/null 2>&1 || true
  sleep 1
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Until a service has N tasks running (polling beats the CLI's attached
# progress, which waits 5 s more to call a service stable).
wait_running() {
  local svc=$1 n=$2 deadline=$((SECONDS + ${3:-60}))
  until [ "$(docker service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" -ge "$n" ]; do
    [ $SECONDS -lt $deadline ] || { docker service ps --no-trunc "$svc" >&2; fail "$svc: not $n tasks running"; }
    sleep 0.3
  done
}
redis_ping() { # host -> addr:port, without redis-cli on the host
  local reply
  exec 3<>"/dev/tcp/$1/$2" || return 1
  printf 'PING\r\n' >&3
  read -r -t 3 reply <&3 || true
  exec 3>&-
  [ "${reply%$'\r'}" = +PONG ]
}
# task id -> "<node id> <node addr> <engine url> <published port>"
task_where() {
  local node port
  read -r node port < <(docker inspect --type task "$1" \
    --format '{{.NodeID}} {{range .Status.PortStatus.Ports}}{{.PublishedPort}} {{end}}')
  echo "$node $(docker node inspect "$node" --format '{{.Status.Addr}} {{index .Spec.Labels "authlab.engine"}}') ${port:-}"
}

docker network create -d overlay --attachable "$net" >/dev/null

say "1. dnsrr service over the overlay"
docker service create -d -q --no-resolve-image --name authlab-smoke-dns --replicas 3 \
  --endpoint-mode dnsrr --network "$net" --placement-pref spread=node.id "$image" >/dev/null
wait_running authlab-smoke-dns 3
nodes=$(docker service ps authlab-smoke-dns --filter desired-state=running --format '{{.Node}}' | sort -u | wc -l)
[ "$nodes" -eq 3 ] || fail "dnsrr tasks on $nodes nodes, not 3"
out=$(docker run --rm --network "$net" "$image" sh -c \
  'for a in $(getent ahostsv4 tasks.authlab-smoke-dns | cut -d" " -f1 | sort -u); do echo "$a $(redis-cli -h $a ping)"; done')
echo "$out" >&2
[ "$(grep -c ' PONG$' <<<"$out")" -eq 3 ] || fail "tasks.authlab-smoke-dns: not 3 addresses answering"

say "2. host-mode ports (engine-chosen, then fixed 7000)"
docker service create -d -q --no-resolve-image --name authlab-smoke-anyport --replicas 3 \
  --endpoint-mode dnsrr --network "$net" --placement-pref spread=node.id \
  --publish mode=host,target=6379 "$image" >/dev/null
docker service create -d -q --no-resolve-image --name authlab-smoke-fixport --replicas 3 \
  --endpoint-mode dnsrr --network "$net" --placement-pref spread=node.id \
  --publish mode=host,published=7000,target=6379 "$image" >/dev/null
wait_running authlab-smoke-anyport 3
wait_running authlab-smoke-fixport 3
docker service ps authlab-smoke-anyport authlab-smoke-fixport --filter desired-state=running \
  --format '{{.Name}} {{.Node}} {{.Ports}}' >&2
for task in $(docker service ps -q authlab-smoke-anyport authlab-smoke-fixport --filter desired-state=running); do
  read -r node addr engine port < <(task_where "$task")
  redis_ping "$addr" "$port" || fail "task $task: no PONG at $addr:$port"
  echo "task $task node $node: PONG from $addr:$port (engine $engine)" >&2
done

say "3. CPU time of a task's container on a worker, from the manager"
manager=$(docker info --format '{{.Swarm.NodeID}}')
task=$(docker service ps -q authlab-smoke-dns --filter desired-state=running | while read -r t; do
  [ "$(docker inspect --type task "$t" --format '{{.NodeID}}')" = "$manager" ] || { echo "$t"; break; }
done)
read -r node addr engine _ < <(task_where "$task")
container=$(docker inspect --type task "$task" --format '{{.Status.ContainerStatus.ContainerID}}')
# Through `exec` (the image needs cat): cgroup v1, the container's own cpuacct
# hierarchy; cumulative nanoseconds. The exec'd cat runs in that cgroup too
# (~15-20 ms of runc's start-up per reading).
usage_exec=$(docker -H "$engine" exec "$container" cat /sys/fs/cgroup/cpuacct/cpuacct.usage)
# Through the engine's API, without exec: cpu_stats.cpu_usage.total_usage, ns.
usage_api=$(curl -fsS "http://${engine#tcp://}/containers/$container/stats?stream=false&one-shot=true" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_stats"]["cpu_usage"]["total_usage"])')
echo "task $task on node $node ($engine), container ${container:0:12}: exec $usage_exec ns, api $usage_api ns" >&2
[ "$usage_exec" -gt 0 ] && [ "$usage_api" -gt 0 ] || fail "no CPU time"

say "4. a replicated job's output"
docker service create -d -q --no-resolve-image --name authlab-smoke-job --mode replicated-job \
  --replicas 3 --max-concurrent 3 --network "$net" --placement-pref spread=node.id "$image" \
  sh -c 'echo "job on $(hostname): $(redis-cli -h tasks.authlab-smoke-dns ping)"' >/dev/null
deadline=$((SECONDS + 60))
until [ "$(docker service ps authlab-smoke-job --format '{{.CurrentState}}' | grep -c '^Complete')" -eq 3 ]; do
  # A failing job task is retried without end, whatever the restart policy.
  docker service ps authlab-smoke-job --format '{{.CurrentState}}' | grep -q '^Failed' && fail "a job task failed"
  [ $SECONDS -lt $deadline ] || fail "job not complete"
  sleep 0.3
done
docker service logs authlab-smoke-job >&2
[ "$(docker service logs --raw authlab-smoke-job 2>/dev/null | grep -c ': PONG$')" -eq 3 ] || fail "job output incomplete"

say "5. scale 0 then 1"
docker service scale -d authlab-smoke-dns=0 >/dev/null
deadline=$((SECONDS + 30))
until [ -z "$(docker service ps -q authlab-smoke-dns --filter desired-state=running)" ]; do
  [ $SECONDS -lt $deadline ] || fail "scale 0"
  sleep 0.3
done
docker service scale -d authlab-smoke-dns=1 >/dev/null
wait_running authlab-smoke-dns 1
docker service scale -d authlab-smoke-dns=3 >/dev/null
wait_running authlab-smoke-dns 3
say "5. scaled 3 -> 0 -> 1 -> 3"

if [ "${1:-}" != --no-stop ]; then
  node3=$(docker node ls --format '{{.ID}} {{.Hostname}}' | awk '$2 == "authlab-swarm-3" {print $1}')
  on3=$(docker service ps -q authlab-smoke-dns --filter desired-state=running --filter node="$node3" | wc -l)
  start=$SECONDS; t_start=$(date +%s%N)
  "$here/testbed.sh" stop-engine 3
  ms() { echo $(( ($(date +%s%N) - t_start) / 1000000 )); }
  until [ "$(docker node inspect "$node3" --format '{{.Status.State}}')" = down ]; do
    [ $((SECONDS - start)) -lt 90 ] || fail "node 3 not Down"
    sleep 0.2
  done
  say "5. node 3 Down $(ms) ms after stop-engine began"
  until [ "$(docker service ps authlab-smoke-dns --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' \
           | grep -v '^authlab-swarm-3 ' | grep -c ' Running')" -ge 3 ]; do
    [ $((SECONDS - start)) -lt 120 ] || fail "tasks not rescheduled"
    sleep 0.2
  done
  say "5. $on3 task(s) of node 3 rescheduled: 3 running elsewhere $(ms) ms after stop-engine began"
  "$here/testbed.sh" start-engine 3
  say "5. node 3 Ready again $(ms) ms after stop-engine began"
fi
say "all checks passed"
