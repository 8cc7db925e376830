#!/usr/bin/env bash
# Builds, from Debian's packages alone, stand-ins for the two official images
# docker-compose.yml names (redis:7.0-bookworm and haproxy:2.6-bookworm), for a
# machine whose Docker engine cannot pull anything (no image registry).
#
# debootstrap makes a minimal Debian bookworm root file system holding
# redis-server, haproxy, wrk, h2load (nghttp2-client) and openssl (the same packages and versions the host's
# tests use), `docker import` turns it into a base image, and the legacy
# builder (which, unlike BuildKit, never asks a registry about a FROM image
# it already has) adds the little each stand-in needs on top.
#
# The images are cached by a hash of this directory: a second run with the
# same files builds nothing. Prints the base image's name on stdout.
#
#   docker/offline/build-base.sh            # build or reuse
#   AUTHLAB_OFFLINE_MIRROR=http://… …       # another Debian mirror
set -euo pipefail
cd "$(dirname "$0")"

mirror=${AUTHLAB_OFFLINE_MIRROR:-http://deb.debian.org/debian}
packages=redis-server,haproxy,wrk,nghttp2-client,openssl,ca-certificates
hash=$( (cat build-base.sh redis.Dockerfile haproxy.Dockerfile; echo "$packages") | sha256sum | cut -c1-12)
base=authlab-offline/base:$hash

log() { echo "build-base: $*" >&2; }

if docker image inspect "$base" >/dev/null 2>&1; then
  log "reusing $base"
else
  if [ "$(id -u)" -ne 0 ]; then
    log "debootstrap needs root: run this script with sudo"
    exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends debootstrap >/dev/null
  fi
  rootfs=$(mktemp -d /var/tmp/authlab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap bookworm ($packages) into $rootfs"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  # Package caches are half the tree and nothing in the image reads them.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "docker import $base"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  # Bases and stand-ins of earlier versions of these files are dead weight.
  for old in $(docker image ls authlab-offline/base --format '{{.Repository}}:{{.Tag}}'); do
    [ "$old" = "$base" ] || docker rmi "$old" >/dev/null 2>&1 || true
  done
fi

# A stand-in is rebuilt only when it was not made from this base.
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
stand_in() {
  local tag=$1 file=$2
  local made_from
  made_from=$(docker image inspect "$tag" --format '{{ index .Config.Labels "authlab.offline.base" }}' 2>/dev/null || true)
  if [ "$made_from" = "$base" ]; then
    log "reusing $tag"
    return
  fi
  log "building $tag (legacy builder, from $base)"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" --label "authlab.offline.base=$base" \
    -t "$tag" -f "$file" . >/dev/null 2>"$build_log" || { cat "$build_log" >&2; exit 1; }
}
stand_in redis:7.0-bookworm redis.Dockerfile
stand_in haproxy:2.6-bookworm haproxy.Dockerfile
docker image ls -q --filter dangling=true --filter label=authlab.offline.base | xargs -r docker rmi >/dev/null 2>&1 || true

echo "$base"
