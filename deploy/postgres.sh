#!/bin/bash
# kiln-postgres: PostgreSQL 15 for the compose farm, as user postgres. On first
# start it creates the cluster in PGDATA (on the pgdata volume), the role "kiln"
# with the password POSTGRES_PASSWORD and its database "kiln". Clients on the
# compose network log in with that password (scram-sha-256); the unix socket
# (inside the container only) trusts.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data/pgdata}
export PGDATA
[[ -n ${POSTGRES_PASSWORD:-} ]] || { echo "kiln-postgres: error: POSTGRES_PASSWORD is empty" >&2; exit 1; }

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    echo "kiln-postgres: creating the cluster in $PGDATA" >&2
    "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w -s start
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h /tmp -U postgres -d postgres -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE kiln LOGIN CREATEDB PASSWORD :'pw';
CREATE DATABASE kiln OWNER kiln;
SQL
    "$bin/pg_ctl" -D "$PGDATA" -m fast -w -s stop
fi
cat >"$PGDATA/pg_hba.conf" <<'HBA'
# Written by kiln-postgres on every start.
local   all   all                 trust
host    all   all   0.0.0.0/0     scram-sha-256
host    all   all   ::/0          scram-sha-256
HBA
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp \
    -c max_connections=200 -c log_line_prefix='%m [%p] %q%u@%d '
