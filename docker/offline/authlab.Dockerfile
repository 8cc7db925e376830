# Stand-in for the Dockerfile's `runtime` and `lab` targets where no registry
# answers (build-authlab.sh): the base image from build-base.sh already holds
# redis-server, haproxy and wrk, and the binaries are the host's release build
# (bookworm on both sides, so the same glibc). User, directories and command
# are the Dockerfile's.
ARG BASE
FROM ${BASE}
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/authlab authlab \
 && mkdir -p /authlab/config \
 && chown authlab:authlab /authlab/config
COPY authlab session-server jwt-server /usr/local/bin/
USER authlab
WORKDIR /home/authlab
EXPOSE 8080
CMD ["authlab", "--help"]
