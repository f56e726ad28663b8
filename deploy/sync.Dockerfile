# kiln-sync: mirrors the upstream index (KILN_UPSTREAM_URL) and plans jobs.
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY build/deploy/bin/kiln-sync /usr/local/bin/
COPY deploy/sync.sh /usr/local/bin/kiln-sync-start
ENV KILN_DATA_DIR=/var/lib/kiln
USER kiln
WORKDIR /var/lib/kiln
CMD ["kiln-sync-start"]
