#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for Kiln development and tests.
#
# usage: scripts/db.sh {start|stop|status|url|psql [args]|createdb NAME|dropdb NAME}
#   start          create the cluster on first use (initdb), start it, wait until it
#                  accepts connections, make sure role and database "kiln" exist;
#                  a no-op if it is already running
#   stop           stop it (pg_ctl stop -m fast); a no-op if it is not running
#   status         say whether it runs; exit 0 if it does, 3 if not
#   url            print the libpq URL of the application role:
#                  postgresql://kiln@127.0.0.1:PORT/kiln
#   psql [args]    psql over the unix socket as superuser "postgres" to database
#                  "kiln"; extra args go to psql (e.g. -U kiln, -d other, -c SQL)
#   createdb NAME  create database NAME owned by role kiln, if it does not exist
#   dropdb NAME    drop database NAME (closing its connections), if it exists
#
# Layout (all under ${KILN_DATA_DIR:-<repo>/.kiln}/pg):
#   data/          the cluster (initdb -U postgres, trust auth on socket and loopback)
#   run/           unix socket directory
#   postgres.log   server log
# Listens on the unix socket and on 127.0.0.1:${KILN_PG_PORT:-54329} only.
# Roles: "postgres" (superuser), "kiln" (LOGIN CREATEDB, not superuser) owning
# database "kiln". Auth is trust: this is a private dev/test cluster.
# As root, the server runs as the unprivileged system user "kiln" (created if
# missing), since initdb and postgres refuse to run as root.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
DATA_DIR=${KILN_DATA_DIR:-$REPO_ROOT/.kiln}
PG_DIR=$DATA_DIR/pg
PGDATA_DIR=$PG_DIR/data
SOCK_DIR=$PG_DIR/run
LOG_FILE=$PG_DIR/postgres.log
PORT=${KILN_PG_PORT:-54329}
PG_BIN=/usr/lib/postgresql/15/bin
SERVICE_USER=kiln # system user the server runs as when this script runs as root
APP_ROLE=kiln
APP_DB=kiln

USAGE="usage: $0 {start|stop|status|url|psql [args]|createdb NAME|dropdb NAME}"
usage() { echo "$USAGE" >&2; exit 2; }
msg() { printf 'db: %s\n' "$*"; }
die() { printf 'db: error: %s\n' "$*" >&2; exit 1; }

if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
    die "bad KILN_PG_PORT: $PORT"
fi

ensure_binaries() {
    [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/postgres && -x $PG_BIN/psql ]] && return
    [[ $EUID -eq 0 ]] || die "PostgreSQL 15 is not installed ($PG_BIN); run: sudo apt-get install postgresql"
    msg "installing PostgreSQL 15 with apt-get (package postgresql)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    [[ -x $PG_BIN/initdb ]] || die "apt-get installed postgresql but $PG_BIN/initdb is missing (not version 15?)"
}

# --- running server commands as the right user ---------------------------------

ensure_service_user() {
    [[ $EUID -eq 0 ]] || return 0
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        msg "creating system user '$SERVICE_USER' to run PostgreSQL (it refuses to run as root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
}

# Runs a command as the cluster's owner: the "kiln" system user when root,
# otherwise the invoking user. From / so that no tool trips over an
# unreadable working directory.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$SERVICE_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Makes every parent of $1 traversable (search permission) for the service user.
make_traversable() {
    local dir=$1
    [[ $EUID -eq 0 ]] || return 0
    while [[ $dir != / && -n $dir ]]; do
        if ! runuser -u "$SERVICE_USER" -- test -x "$dir" 2>/dev/null; then
            msg "making $dir traversable (o+x) for user '$SERVICE_USER'"
            chmod o+x "$dir"
        fi
        dir=$(dirname -- "$dir")
    done
}

prepare_dirs() {
    mkdir -p "$PG_DIR" "$SOCK_DIR"
    if [[ $EUID -eq 0 ]]; then
        make_traversable "$DATA_DIR"
        # The service user owns everything under .kiln/pg (data dir, sockets, log).
        local owner
        owner=$(stat -c %U "$PG_DIR")
        if [[ $owner != "$SERVICE_USER" || $(stat -c %U "$SOCK_DIR") != "$SERVICE_USER" ]]; then
            chown -R "$SERVICE_USER:" "$PG_DIR"
        fi
    elif [[ -d $PGDATA_DIR && ! -O $PGDATA_DIR ]]; then
        die "$PGDATA_DIR belongs to $(stat -c %U "$PGDATA_DIR"): run this as that user or as root"
    fi
    chmod 0755 "$SOCK_DIR" # clients other than the server's user use the socket too
}

# --- cluster ------------------------------------------------------------------

is_initialized() { [[ -f $PGDATA_DIR/PG_VERSION ]]; }

init_cluster() {
    is_initialized && return 0
    if [[ -e $PGDATA_DIR ]] && [[ -n $(ls -A "$PGDATA_DIR" 2>/dev/null) ]]; then
        die "$PGDATA_DIR exists but holds no cluster (an interrupted initdb?); remove it and retry"
    fi
    msg "creating the cluster in $PGDATA_DIR (initdb)"
    local log=$PG_DIR/initdb.log
    if ! as_owner "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=trust >"$log" 2>&1; then
        cat "$log" >&2
        die "initdb failed"
    fi
}

# Our settings: kiln.conf (included from postgresql.conf) and pg_hba.conf,
# rewritten on every start so that KILN_PG_PORT and KILN_DATA_DIR changes apply.
write_settings() {
    if ! as_owner grep -q "^include_if_exists = 'kiln.conf'" "$PGDATA_DIR/postgresql.conf"; then
        printf "\n# Kiln: settings written by scripts/db.sh on every start\ninclude_if_exists = 'kiln.conf'\n" |
            as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
    fi
    # Trust on the unix socket and on loopback, nothing else.
    as_owner tee "$PGDATA_DIR/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/db.sh start; edits are overwritten.
# Kiln private dev/test cluster: trust on the unix socket and on loopback only.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
    as_owner tee "$PGDATA_DIR/kiln.conf" >/dev/null <<EOF
# Written by scripts/db.sh start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 200
shared_buffers = 128MB
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

is_running() {
    is_initialized || return 1
    as_owner "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

# Port of the running server (from postmaster.pid), else the configured one.
server_port() {
    local p=""
    if is_running; then
        p=$(as_owner sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
    fi
    if [[ $p =~ ^[0-9]+$ ]]; then echo "$p"; else echo "$PORT"; fi
}

# psql as superuser over the unix socket, stopping at the first error.
su_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$(server_port)" -U postgres "$@"
}

require_running() {
    is_running || die "the cluster is not running: run scripts/db.sh start first"
}

ensure_app_role_and_db() {
    su_psql -d postgres -v role="$APP_ROLE" -v db="$APP_DB" <<'EOF'
SELECT format('CREATE ROLE %I LOGIN CREATEDB NOSUPERUSER', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN CREATEDB NOSUPERUSER;
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
EOF
}

wait_ready() {
    local port i
    port=$(server_port)
    for ((i = 0; i < 60; i++)); do
        if "$PG_BIN/pg_isready" -q -U postgres -d postgres -h "$SOCK_DIR" -p "$port" &&
            "$PG_BIN/pg_isready" -q -U postgres -d postgres -h 127.0.0.1 -p "$port"; then
            return 0
        fi
        sleep 0.5
    done
    tail -n 20 "$LOG_FILE" >&2 || true
    die "the server does not accept connections after 30s (log: $LOG_FILE)"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
    ensure_binaries
    ensure_service_user
    prepare_dirs
    init_cluster
    if is_running; then
        msg "already running (127.0.0.1:$(server_port), socket $SOCK_DIR)"
    else
        if (( ${#SOCK_DIR} + 16 > 107 )); then
            die "socket path $SOCK_DIR/.s.PGSQL.$PORT is too long for a unix socket; use a shorter KILN_DATA_DIR"
        fi
        if port_in_use "$PORT"; then
            die "127.0.0.1:$PORT is already in use by another program (set KILN_PG_PORT)"
        fi
        write_settings
        msg "starting PostgreSQL on 127.0.0.1:$PORT and $SOCK_DIR (log: $LOG_FILE)"
        if ! as_owner "$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 -s; then
            tail -n 20 "$LOG_FILE" >&2 || true
            die "pg_ctl start failed (log: $LOG_FILE)"
        fi
    fi
    wait_ready
    ensure_app_role_and_db
    msg "ready: $(cmd_url)"
}

cmd_stop() {
    if ! is_running; then
        msg "not running"
        return 0
    fi
    msg "stopping PostgreSQL"
    as_owner "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 -s || die "pg_ctl stop failed (log: $LOG_FILE)"
    msg "stopped"
}

cmd_status() {
    if is_running; then
        msg "running: pid $(as_owner sed -n 1p "$PGDATA_DIR/postmaster.pid"), 127.0.0.1:$(server_port), socket $SOCK_DIR, data $PGDATA_DIR"
        msg "url: $(cmd_url)"
        return 0
    fi
    if is_initialized; then
        msg "stopped (cluster in $PGDATA_DIR)"
    else
        msg "stopped (no cluster yet: scripts/db.sh start creates it)"
    fi
    return 3
}

cmd_url() {
    printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$APP_ROLE" "$(server_port)" "$APP_DB"
}

check_db_name() {
    [[ -n $1 ]] || die "empty database name"
    ((${#1} <= 63)) || die "database name longer than 63 bytes: $1"
}

cmd_createdb() {
    local name=$1
    check_db_name "$name"
    require_running
    if [[ $(su_psql -d postgres -At -v name="$name" <<<"SELECT count(*) FROM pg_database WHERE datname = :'name'") != 0 ]]; then
        msg "database '$name' already exists"
        return 0
    fi
    su_psql -d postgres -v name="$name" -v role="$APP_ROLE" <<<'CREATE DATABASE :"name" OWNER :"role";'
    msg "created database '$name' (owner $APP_ROLE)"
}

cmd_dropdb() {
    local name=$1
    check_db_name "$name"
    case $name in
        postgres | template0 | template1) die "refusing to drop '$name'" ;;
    esac
    require_running
    if [[ $(su_psql -d postgres -At -v name="$name" <<<"SELECT count(*) FROM pg_database WHERE datname = :'name'") == 0 ]]; then
        msg "database '$name' does not exist"
        return 0
    fi
    su_psql -d postgres -v name="$name" <<<'DROP DATABASE :"name" WITH (FORCE);'
    msg "dropped database '$name'"
}

cmd_psql() {
    require_running
    exec "$PG_BIN/psql" -h "$SOCK_DIR" -p "$(server_port)" -U postgres -d "$APP_DB" "$@"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
    start) [[ $# -eq 0 ]] || usage; cmd_start ;;
    stop) [[ $# -eq 0 ]] || usage; cmd_stop ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    url) [[ $# -eq 0 ]] || usage; cmd_url ;;
    psql) cmd_psql "$@" ;;
    createdb) [[ $# -eq 1 ]] || usage; cmd_createdb "$1" ;;
    dropdb) [[ $# -eq 1 ]] || usage; cmd_dropdb "$1" ;;
    -h | --help) echo "$USAGE" ;;
    *) usage ;;
esac
