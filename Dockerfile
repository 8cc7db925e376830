# authlab's images, built from this repository by `docker compose build` (or
# `docker compose up`, which builds them the first time).
#
#   runtime  authlab, session-server and jwt-server on debian:bookworm-slim,
#            run as the unprivileged user `authlab` (uid 10001): the demo's
#            nodes and its one-shot init service
#   lab      runtime + redis-server, haproxy and wrk: `authlab run` inside a
#            container, exactly as on a host (compose profile `lab`)
#
# Dependencies are compiled in a layer of their own (cargo-chef), so editing
# the project's code rebuilds only the project's crates. Every instruction
# works with the legacy builder as well as with BuildKit.
#
# A machine without an image registry cannot pull rust or debian images at
# all; docker/offline/ builds stand-ins from Debian's packages there (see
# docs/docker.md).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The recipe lists the dependency graph only: it changes when a Cargo.toml or
# Cargo.lock does, not when a source file does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
      -p lab -p session-server -p jwt-server
COPY . .
RUN cargo build --release --locked -p lab -p session-server -p jwt-server --bins \
 && mkdir -p /out \
 && for binary in authlab session-server jwt-server; do \
      strip --strip-debug -o /out/$binary target/release/$binary; \
    done

# The release profile keeps debug info for profiling; it is 5/6 of each
# binary and nothing in a container reads it.
FROM debian:bookworm-slim AS runtime
# /authlab/config is where the init service writes the cookie secret, the JWT
# keys and HAProxy's config: a named volume mounted there starts out owned by
# authlab, so the nodes (same user) can read the 0600 files.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/authlab authlab \
 && mkdir -p /authlab/config \
 && chown authlab:authlab /authlab/config
COPY --from=build /out/ /usr/local/bin/
USER authlab
WORKDIR /home/authlab
EXPOSE 8080
CMD ["authlab", "--help"]

FROM runtime AS lab
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server haproxy wrk nghttp2-client openssl \
 && rm -rf /var/lib/apt/lists/*
USER authlab
CMD ["authlab", "run", "--quick", "--out", "/reports"]
