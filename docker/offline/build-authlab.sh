#!/usr/bin/env bash
# Builds the stand-in for the Dockerfile's `runtime` and `lab` images where no
# registry answers: the base image from build-base.sh plus the host's release
# binaries, tagged with the names docker-compose.yml uses
# (authlab:$AUTHLAB_TAG and authlab-lab:$AUTHLAB_TAG, tag `local` by default).
#
#   cargo build --release -p lab -p session-server -p jwt-server
#   docker/offline/build-authlab.sh [target/release]
#
# Prints the base image's name on stdout, as build-base.sh does.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin_dir="$(cd "${1:-$root/target/release}" && pwd)"
tag="${AUTHLAB_TAG:-local}"

base="$("$root/docker/offline/build-base.sh")"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
for binary in authlab session-server jwt-server; do
  test -x "$bin_dir/$binary" || { echo "build-authlab: no $bin_dir/$binary; build it first" >&2; exit 1; }
  # Debug info is most of a release binary's size (the release profile keeps
  # it for profiling); the Dockerfile strips it too.
  strip --strip-debug -o "$context/$binary" "$bin_dir/$binary"
done
cp "$root/docker/offline/authlab.Dockerfile" "$context/Dockerfile"
echo "build-authlab: building authlab:$tag and authlab-lab:$tag from $base and $bin_dir" >&2
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" \
  -t "authlab:$tag" -t "authlab-lab:$tag" "$context" >/dev/null 2>"$context/build.log" \
  || { cat "$context/build.log" >&2; exit 1; }
echo "$base"
