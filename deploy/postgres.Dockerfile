# PostgreSQL 15 from Debian (in Kiln's runtime base image), for docker-compose.
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY deploy/postgres.sh /usr/local/bin/kiln-postgres
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=2s --timeout=3s --retries=60 CMD pg_isready -q -h 127.0.0.1 -U kiln -d kiln
CMD ["kiln-postgres"]
