#!/usr/bin/env bash
# A Docker Swarm of N engines on this one machine, for tests: each "machine"
# is a container (authlab-swarm-1 … N) running its own dockerd, on a private
# bridge network of the host's engine (authlab-swarm). Engine 1 is the
# swarm's only manager, the others are workers. Every swarm node carries the
# label authlab.engine=tcp://<its engine's address>:2375, so that a client of
# the manager can reach the engine that runs a given task (to inject faults,
# or to read a container's CPU time from its cgroup).
#
#   docker/swarm/testbed.sh up [N]          # N engines (3); prints DOCKER_HOST=tcp://<manager>:2375
#   docker/swarm/testbed.sh env             # the same line, for a test bed that is up
#   docker/swarm/testbed.sh load IMAGE...   # copies host images into every engine
#   docker/swarm/testbed.sh stop-engine I   # "loses a machine": stops engine I's container
#   docker/swarm/testbed.sh start-engine I  # brings it back; its node rejoins the swarm
#   docker/swarm/testbed.sh down            # removes everything up made (AUTHLAB_KEEP_IMAGES=1 keeps the engine image)
#
#   AUTHLAB_SWARM_SUBNET=172.31.213.0/24   # the private network (a /24); engine I is .(10+I)
#   AUTHLAB_SWARM_HEARTBEAT=1s              # (up) the swarm's dispatcher heartbeat. With Docker's 5s a
#                                           # lost node is Down ~13-16 s after stop-engine, with 1s ~3 s
#
# Only the DOCKER_HOST line goes to stdout; everything else goes to stderr.
#
# Why the engine containers are started the way they are (found on a Debian
# bookworm host with a cgroup v1 engine, cgroupfs driver, fuse-overlayfs):
# - not --privileged (it fails here, says the recipe this follows) but
#   every capability (--cap-add ALL) except SYS_RESOURCE (as in that recipe), no
#   seccomp and no AppArmor profile; /proc/sys stays read-only (dockerd
#   only warns about the IPv6 sysctls it cannot set; overlay networks work);
# - --cgroupns host and the host's /sys/fs/cgroup mounted read-write: the
#   inner engine creates its containers' cgroups in the host's hierarchies
#   (under /<engine name>, its --cgroup-parent), where `down` removes them;
#   without the rw mount no container can start inside (the recipe again);
# - iptables is the legacy one (engine.Dockerfile says why), and it stays on:
#   with --iptables=false Docker's embedded DNS (tasks.<service>) breaks;
# - /var/lib/docker is a named volume (authlab-swarm-I) on the host's disk,
#   not a tmpfs: the inner engine's state (its swarm identity and keys, its
#   images, its containers) then survives `stop-engine` / `start-engine`, so
#   the node comes back as the same swarm node, as a rebooted machine would.
#   With a tmpfs it would come back empty: no images, no longer in the swarm.
#   overlay2 works on that volume (ext4) (so would it on a tmpfs: overlayfs
#   mounts there too); the host's own engine uses fuse-overlayfs by its
#   daemon.json, which the inner ones do not need. vfs (not tried) would
#   copy every layer in full, on disk or, with a tmpfs, in memory.
# - /run is a tmpfs: sockets and pid files must not survive a restart.
set -euo pipefail
# `docker` here means the host's engine (its local socket), even when the
# caller's DOCKER_HOST points at the test bed (as the harness's does); the
# engines inside are always named with -H.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
here="$(cd "$(dirname "$0")" && pwd)"

net=authlab-swarm
prefix=authlab-swarm
label=authlab.testbed=1
subnet=${AUTHLAB_SWARM_SUBNET:-172.31.213.0/24}

log() { echo "testbed: $*" >&2; }
die() { log "$*"; exit 1; }

# Engine I's address: .(10+I) of the /24 (.1 is the bridge's gateway).
engine_ip() {
  local net24=${subnet%/*}
  echo "${net24%.*}.$((10 + $1))"
}
# The docker CLI aimed at engine I (the unix socket inside is only for
# commands run inside the engine container).
engine() {
  local i=$1; shift
  docker -H "tcp://$(engine_ip "$i"):2375" "$@"
}
engines() { # the numbers of the test bed's engine containers, running or not
  docker ps -a --filter "label=$label" --filter "label=authlab.engine.index" \
    --format '{{.Label "authlab.engine.index"}}' | sort -n
}
is_running() {
  [ "$(docker inspect -f '{{.State.Running}}' "$prefix-$1" 2>/dev/null || true)" = true ]
}
wait_engine() { # until engine I answers on tcp://…:2375
  local i=$1 deadline=$((SECONDS + 60))
  until engine "$i" version >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! is_running "$i"; then
      docker logs --tail 20 "$prefix-$i" >&2 || true
      die "engine $i ($(engine_ip "$i")) does not answer"
    fi
    sleep 0.2
  done
}
wait_ready() { # until the manager sees every node of the swarm Ready
  local deadline=$((SECONDS + ${1:-60})) states
  while :; do
    states=$(engine 1 node ls --format '{{.Status}}' 2>/dev/null || true)
    if [ -n "$states" ] && ! grep -qv '^Ready$' <<<"$states"; then
      return 0
    fi
    [ $SECONDS -lt $deadline ] || { engine 1 node ls >&2 || true; die "the swarm's nodes are not all Ready"; }
    sleep 0.5
  done
}
manager_line() { echo "DOCKER_HOST=tcp://$(engine_ip 1):2375"; }
swarm_up() { # engine 1 answers and is a swarm manager
  is_running 1 &&
    [ "$(engine 1 info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null || true)" = "active true" ]
}

# A test bed's engines put their containers' cgroups in the host's
# hierarchies under /authlab-swarm-I; the host's engine puts its containers'
# under /docker and never removes that directory. `up` notes, as a label of
# the network, the hierarchies that had no /docker yet, so that `down` can
# remove it there and leave /sys/fs/cgroup as it found it.
hierarchies_without_docker() {
  local h names=()
  for h in /sys/fs/cgroup/*/; do
    h=${h%/}
    [ -e "$h/cgroup.procs" ] && [ ! -d "$h/docker" ] && names+=("${h##*/}")
  done
  local IFS=,
  echo "${names[*]}"
}
rmdir_tree() { # depth-first; a cgroup still in use stays, and so does its parent
  [ -d "$1" ] && find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

cmd_up() {
  local n=${1:-3} i ip image pristine token id
  [[ $n =~ ^[1-9][0-9]?$ ]] || die "up: N must be 1…99"
  [[ $subnet =~ ^[0-9]+\.[0-9]+\.[0-9]+\.0/24$ ]] || die "AUTHLAB_SWARM_SUBNET must be a /24 (a.b.c.0/24)"

  # Up: the manager answers, and every node of its swarm is one of our engine
  # containers (running, or stopped by stop-engine). An engine container
  # removed behind our back makes it a leftover, swept away below.
  if swarm_up && [ "$(engines | wc -l)" -eq "$(engine 1 node ls -q | wc -l)" ]; then
    local have
    have=$(engines | wc -l)
    [ "$have" -eq "$n" ] || log "note: the test bed that is up has $have engines, not $n (down first to change it)"
    for i in $(engines); do is_running "$i" || log "note: engine $i is stopped (start-engine $i)"; done
    log "already up"
    manager_line
    return
  fi
  if [ "$(docker inspect -f '{{.State.Status}}' "$prefix-1" 2>/dev/null || true)" = exited ]; then
    # Stopped on purpose (stop-engine 1): not a leftover to sweep away.
    die "engine 1 (the manager) is stopped: testbed.sh start-engine 1 (or down)"
  fi
  if [ -n "$(engines)" ] || docker network inspect "$net" >/dev/null 2>&1; then
    log "a test bed that is not (fully) up is left over: removing it first"
    AUTHLAB_KEEP_IMAGES=1 cmd_down
  fi

  # Before anything here starts a container (build-engine.sh does).
  pristine=$(hierarchies_without_docker)

  image=$("$here/build-engine.sh")

  # The private network must not shadow a route of the host (the host's own
  # networks, VPNs); the host's engine refuses one that overlaps its networks.
  if ip -4 route show to match "$subnet" | grep -v '^default' | grep -q . ||
     ip -4 route show root "$subnet" | grep -q .; then
    die "$subnet clashes with a route of this host (ip route); choose another with AUTHLAB_SWARM_SUBNET"
  fi
  log "network $net ($subnet)"
  docker network create --driver bridge --subnet "$subnet" --label "$label" \
    --label "authlab.testbed.cgroup-docker-absent=$pristine" "$net" >/dev/null

  for i in $(seq 1 "$n"); do
    ip=$(engine_ip "$i")
    log "engine $i: $prefix-$i at $ip"
    docker volume create --label "$label" "$prefix-$i" >/dev/null
    # dockerd listens on tcp://0.0.0.0:2375 without TLS and without any
    # authentication: whoever reaches that port is root on the engine. That
    # is acceptable only because the port is reachable on this private bridge
    # network alone (the host and the other engines), never published on the
    # host's interfaces. --tls=false says it on purpose (and spares the
    # 15-second start-up pause dockerd otherwise makes as a warning).
    # --ip: an engine keeps its address across stop/start (the swarm's
    # manager address and the node labels depend on it).
    # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: a swarm task uses the image the
    # engine has (testbed.sh load) without asking a registry first; without
    # it every task start tries registry-1.docker.io (a DNS lookup that fails,
    # logged as an error).
    docker run -d --name "$prefix-$i" --hostname "$prefix-$i" \
      --label "$label" --label "authlab.engine.index=$i" --label "authlab.engine.ip=$ip" \
      --cap-add ALL --cap-drop SYS_RESOURCE \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run -v "$prefix-$i:/var/lib/docker" \
      --network "$net" --ip "$ip" -e DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
      "$image" sh -c "containerd & sleep 1; exec dockerd --containerd=/run/containerd/containerd.sock \
        --cgroup-parent=/$prefix-$i --storage-driver=overlay2 \
        -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 --tls=false" >/dev/null
  done
  for i in $(seq 1 "$n"); do wait_engine "$i"; done

  ip=$(engine_ip 1)
  log "swarm init on engine 1 (manager)"
  engine 1 swarm init --advertise-addr "$ip" --listen-addr "$ip:2377" \
    --dispatcher-heartbeat "${AUTHLAB_SWARM_HEARTBEAT:-5s}" >/dev/null
  token=$(engine 1 swarm join-token -q worker)
  for i in $(seq 2 "$n"); do
    log "engine $i joins as a worker"
    engine "$i" swarm join --token "$token" --advertise-addr "$(engine_ip "$i")" "$ip:2377" >/dev/null
  done
  for i in $(seq 1 "$n"); do
    id=$(engine "$i" info --format '{{.Swarm.NodeID}}')
    engine 1 node update --label-add "authlab.engine=tcp://$(engine_ip "$i"):2375" "$id" >/dev/null
  done
  wait_ready 60
  log "up: $n engines"
  manager_line
}

cmd_env() {
  swarm_up || die "the test bed is not up (testbed.sh up)"
  manager_line
}

cmd_load() {
  [ $# -ge 1 ] || die "load: name at least one image"
  local i pids=() failed=0 list
  list=$(engines)
  [ -n "$list" ] || die "the test bed is not up"
  # Saved once, loaded by every engine at the same time. (Not local: the
  # EXIT trap runs after this function has returned.)
  archive=$(mktemp /var/tmp/authlab-swarm-load.XXXXXX)
  trap 'rm -f "$archive"' EXIT
  log "saving $*"
  docker save -o "$archive" "$@"
  for i in $list; do
    is_running "$i" || { log "engine $i is stopped: skipped"; continue; }
    engine "$i" load -q -i "$archive" >/dev/null &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ $failed -eq 0 ] || die "load failed on some engine"
  log "loaded into every running engine: $*"
}

check_index() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && docker inspect "$prefix-$1" >/dev/null 2>&1 || die "no engine ${1:-(none given)}"
}

cmd_stop_engine() {
  check_index "${1:-}"
  [ "$1" != 1 ] || log "warning: engine 1 is the only manager; while it is stopped the swarm cannot be managed"
  # docker stop: dockerd gets SIGTERM and stops its containers on its way out
  # (1-3 s); the manager is not told, it marks the node Down when the node's
  # heartbeats stop. (`docker kill authlab-swarm-I` is the abrupt variant;
  # start-engine brings either back.)
  docker stop "$prefix-$1" >/dev/null
  log "engine $1 stopped"
}

cmd_start_engine() {
  check_index "${1:-}"
  docker start "$prefix-$1" >/dev/null
  wait_engine "$1"
  # The node's swarm identity lives in /var/lib/docker (a volume): it rejoins
  # by itself. Wait until the manager sees it Ready again.
  if [ "$1" = 1 ] || is_running 1; then wait_ready 90; fi
  log "engine $1 started and Ready"
}

cmd_down() {
  local absent h name
  absent=$(docker network inspect -f '{{index .Labels "authlab.testbed.cgroup-docker-absent"}}' "$net" 2>/dev/null || true)
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f -v >/dev/null
  docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "label=$label" | xargs -r docker volume rm >/dev/null
  # The engines' containers' cgroups (their processes died with the engines).
  for h in /sys/fs/cgroup/*/; do
    for name in "$h"$prefix-*; do rmdir_tree "$name"; done
  done
  for name in ${absent//,/ }; do
    [[ $name =~ ^[a-z_,=]+$ ]] || continue
    rmdir "/sys/fs/cgroup/$name/docker" 2>/dev/null || true
  done
  if [ "${AUTHLAB_KEEP_IMAGES:-}" != 1 ]; then
    docker image ls -q authlab-swarm/engine | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  log "down"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  env) cmd_env ;;
  load) shift; cmd_load "$@" ;;
  stop-engine) shift; cmd_stop_engine "$@" ;;
  start-engine) shift; cmd_start_engine "$@" ;;
  down) cmd_down ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
