# Stand-in for the official haproxy:2.6-bookworm image, built by build-base.sh
# where no registry answers: Debian's HAProxy 2.6, run as the unprivileged
# `haproxy` user as the official image does. docker-compose.yml sets the
# entrypoint and the config path itself.
ARG BASE
FROM ${BASE}
USER haproxy
WORKDIR /var/lib/haproxy
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
