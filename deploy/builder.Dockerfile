# kiln-builder: takes jobs from the backend over WebSocket and builds them with
# the host's Docker Engine (mount /var/run/docker.sock; the target's image, e.g.
# kiln/bookworm-py311, must be on that host). It runs as root because whoever
# holds the Docker socket is root on the host anyway; the builds themselves run
# in locked-down sibling containers (docs/builds.md).
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY build/deploy/bin/kiln-builder /usr/local/bin/
COPY deploy/builder.sh /usr/local/bin/kiln-builder-start
ENV KILN_DATA_DIR=/var/lib/kiln-builder
WORKDIR /var/lib/kiln-builder
CMD ["kiln-builder-start"]
