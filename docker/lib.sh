# Shared by docker/test-compose.sh and docker/figures.sh; sourced, not run.
#
# Both bring up a throwaway copy of the demo from the offline images beside
# whatever else runs on the machine, so each needs its own project name,
# free host ports, a free subnet, and a way to tell when it is all up.
#
#   compose_command          sets COMPOSE_CMD: `docker compose` or `docker-compose`
#   offline_images BIN_DIR   builds (or reuses) every image the compose file
#                            names; prints the base image's name
#   free_ports_and_subnet    exports the AUTHLAB_*_PORT variables (free
#                            loopback ports, the orders services' and the
#                            console's included),
#                            AUTHLAB_SUBNET and AUTHLAB_HAPROXY_IP
#   project_healthy PROJECT  every container healthy, `init` exited 0
#   wait_healthy PROJECT SECONDS
#   record_images            notes the engine's images, for remove_new_images
#   remove_new_images        removes the images added since record_images
#                            (AUTHLAB_KEEP_IMAGES=1 keeps them)

compose_command() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE_CMD=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE_CMD=(docker-compose)
  else
    echo "neither 'docker compose' nor 'docker-compose' is installed" >&2
    return 1
  fi
}

offline_images() { # bin_dir; build-authlab.sh runs build-base.sh itself
  "$(dirname "${BASH_SOURCE[0]}")/offline/build-authlab.sh" "$1"
}

free_ports_and_subnet() {
  local ports third used
  read -r -a ports < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
  export AUTHLAB_SESSION_PORT=${ports[0]} AUTHLAB_JWT_PORT=${ports[1]} AUTHLAB_STATS_PORT=${ports[2]}
  export AUTHLAB_HAPROXY_API_PORT=${ports[3]} AUTHLAB_STORE_PORT=${ports[4]}
  export AUTHLAB_ORDERS_JWKS_PORT=${ports[5]} AUTHLAB_ORDERS_INTROSPECTION_PORT=${ports[6]}
  export AUTHLAB_ORDERS_INTROSPECTION_CACHED_PORT=${ports[7]} AUTHLAB_ORDERS_GATEWAY_PORT=${ports[8]}
  export AUTHLAB_CONSOLE_PORT=${ports[9]}
  used=$(docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
  for third in $(seq 200 250); do
    case " $used " in *" 172.31.$third.0/24 "*) continue ;; esac
    break
  done
  export AUTHLAB_SUBNET="172.31.$third.0/24" AUTHLAB_HAPROXY_IP="172.31.$third.10"
}

project_healthy() { # project
  local id service state health code ok=0 count=0
  for id in $(docker ps -aq --filter "label=com.docker.compose.project=$1"); do
    IFS='|' read -r service state health code < <(docker inspect "$id" --format \
      '{{ index .Config.Labels "com.docker.compose.service" }}|{{ .State.Status }}|{{ if .State.Health }}{{ .State.Health.Status }}{{ end }}|{{ .State.ExitCode }}')
    count=$((count + 1))
    case "$service" in
      init) [ "$state" = exited ] && [ "$code" = 0 ] || ok=1 ;;
      lab) ;;
      *) [ "$health" = healthy ] || ok=1 ;;
    esac
  done
  [ "$count" -gt 0 ] && return $ok
}

wait_healthy() { # project seconds
  local deadline=$(( $(date +%s) + $2 ))
  until project_healthy "$1"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "services of $1 not all healthy after $2 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# A test leaves the engine as it found it: the images it adds (the offline
# stand-ins, the base, the authlab images, the swarm's engine image) are
# removed at the end. AUTHLAB_KEEP_IMAGES=1 keeps them, as a cache for the
# next run on a developer's machine (the base takes minutes to debootstrap).
# Both act on the engine the docker CLI points at: call them with the same
# DOCKER_HOST.
record_images() {
  images_before=$(docker image ls -q --no-trunc | sort -u)
}

remove_new_images() {
  [ "${AUTHLAB_KEEP_IMAGES:-}" = 1 ] && return 0
  local pass id
  # A base with images built on it cannot go before them: a few passes.
  for pass in 1 2 3; do
    for id in $(comm -13 <(printf '%s\n' "$images_before") <(docker image ls -q --no-trunc | sort -u)); do
      docker image rm -f "$id" >/dev/null 2>&1 || true
    done
  done
  if comm -13 <(printf '%s\n' "$images_before") <(docker image ls -q --no-trunc | sort -u) | grep -q .; then
    echo "WARNING: images this run made are still there" >&2
  fi
}
