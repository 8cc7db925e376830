# Stand-in for the official redis:7.0-bookworm image, built by build-base.sh
# where no registry answers. Same server (Debian's 7.0), same user, same data
# directory; docker-compose.yml passes every option on the command line, so
# the official image's entrypoint is not needed.
ARG BASE
FROM ${BASE}
RUN mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
