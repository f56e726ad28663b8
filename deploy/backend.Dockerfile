# kiln-backend (and kilnctl, for the one-shot `setup` service and backups).
# Built FROM Kiln's own runtime base image (no image is pulled): scripts/deploy.sh
# images makes kiln/runtime and stages the binaries in build/deploy/ first.
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY build/deploy/bin/kiln-backend build/deploy/bin/kilnctl /usr/local/bin/
COPY scripts/backup.sh /usr/local/bin/kiln-backup
COPY deploy/setup.sh /usr/local/bin/kiln-setup
COPY frontend /usr/share/kiln/frontend
# The tokens directory exists in the image so that a fresh named volume mounted
# there starts owned by kiln (Docker copies the image's directory into it).
RUN install -d -o kiln -g kiln -m 0700 /var/lib/kiln/tokens
ENV KILN_FRONTEND_DIR=/usr/share/kiln/frontend \
    KILN_DATA_DIR=/var/lib/kiln \
    KILN_HTTP_LISTEN=0.0.0.0:8080 \
    KILN_KILNCTL=/usr/local/bin/kilnctl
USER kiln
WORKDIR /var/lib/kiln
EXPOSE 8080
HEALTHCHECK --interval=2s --timeout=3s --retries=30 CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz
CMD ["kiln-backend"]
