#!/usr/bin/env bash
# Builds the test bed's engine image (engine.Dockerfile): the debootstrap base
# of docker/offline/build-base.sh plus this host's Docker engine binaries and
# the shared libraries they need that the base lacks. Cached by a content hash
# of everything that goes into it: a second run with the same files and the
# same host binaries builds nothing.
#
#   docker/swarm/build-engine.sh     # prints the engine image's name on stdout
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "build-engine: $*" >&2; }

# The host's docker.io / containerd / runc / iproute2 / iptables, found by
# name so that a Debian upgrade of the host is picked up (and changes the hash).
# The CLI is Debian's /usr/bin/docker (the engine's own version, 20.10), not
# /usr/local/bin/docker (28.x, static): both talk to a 20.10 engine, but the
# matching one needs no API downgrade and links only libc.
binaries=(
  /usr/sbin/dockerd /usr/sbin/docker-proxy /usr/bin/docker-init /usr/bin/docker
  /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc
  /usr/sbin/ip /usr/sbin/xtables-legacy-multi
)
arch_libdir=/usr/lib/x86_64-linux-gnu
xtables_dir=$arch_libdir/xtables
for binary in "${binaries[@]}"; do
  test -x "$binary" || { log "no $binary: install docker.io, containerd, runc, iproute2 and iptables"; exit 1; }
done
test -d "$xtables_dir" || { log "no $xtables_dir (iptables' extensions)"; exit 1; }

# build-base.sh prints the base image's name; its log goes to our stderr.
base="$("$root/docker/offline/build-base.sh")"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs$arch_libdir"
for binary in "${binaries[@]}"; do
  cp -L "$binary" "$rootfs$binary"
done
cp -a "$xtables_dir" "$rootfs$xtables_dir"

# The libraries `ldd` names for the binaries and the xtables extensions,
# minus those the base already has (it is Debian bookworm, as the host is:
# its own copies of libc & co. must not be replaced).
base_libs="$(docker run --rm "$base" ls "$arch_libdir")"
# (ldd fails on the static docker-init: hence the `|| true`.)
{ ldd "${binaries[@]}" "$xtables_dir"/*.so 2>/dev/null || true; } \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
  | while read -r lib; do
      name="$(basename "$lib")"
      if ! grep -qxF "$name" <<<"$base_libs"; then
        cp -L "$lib" "$rootfs$arch_libdir/$name"
      fi
    done
cp "$here/engine.Dockerfile" "$context/Dockerfile"

# The image's name carries a hash of the context (binaries, libraries,
# Dockerfile) and of the base's name.
hash="$( (cd "$context" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "$base") \
  | sha256sum | cut -c1-12)"
image=authlab-swarm/engine:$hash

if docker image inspect "$image" >/dev/null 2>&1; then
  log "reusing $image"
else
  log "building $image (legacy builder, from $base; adding $(cd "$rootfs$arch_libdir" && ls -d lib* | tr '\n' ' '))"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" \
    --label "authlab.swarm.base=$base" -t "$image" "$context" >/dev/null 2>"$context/build.log" \
    || { cat "$context/build.log" >&2; exit 1; }
  # Engine images of earlier binaries or files are dead weight.
  for old in $(docker image ls authlab-swarm/engine --format '{{.Repository}}:{{.Tag}}'); do
    [ "$old" = "$image" ] || docker rmi "$old" >/dev/null 2>&1 || true
  done
fi
echo "$image"
