# A Docker engine that runs inside a container: the test bed's stand-in for a
# machine of a Docker Swarm (testbed.sh starts three of them). Built by
# build-engine.sh with the legacy builder FROM the debootstrap base of
# docker/offline/build-base.sh; no registry is asked for anything.
#
# The build context (staged by build-engine.sh) holds, under rootfs/, the
# host's own Debian binaries (docker.io, containerd, runc, iproute2's `ip`,
# iptables' xtables-legacy-multi and its extensions) and the shared libraries
# they need that the base lacks.
ARG BASE
FROM ${BASE}
COPY rootfs/ /
# iptables must be the legacy one: the nf_tables variant fails inside the
# engine container here, the legacy one works once its extensions
# (/usr/lib/x86_64-linux-gnu/xtables) are present. dockerd runs `iptables`
# and `ip6tables` (and the -save/-restore forms) by name from PATH.
RUN set -e; \
    for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
      ln -sf xtables-legacy-multi /usr/sbin/$tool; \
    done; \
    ldconfig; \
    dockerd --version; containerd --version; runc --version; docker --version; \
    iptables -V; ip -V
# containerd first (dockerd is told where its socket is, so it does not
# start a second one of its own); testbed.sh passes dockerd's options.
CMD ["sh", "-c", "containerd & sleep 1; exec dockerd --containerd=/run/containerd/containerd.sock"]
