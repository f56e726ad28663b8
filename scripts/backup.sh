#!/usr/bin/env bash
# Backups of Kiln's database into Kiln's own object store.
#
# usage: scripts/backup.sh backup [NAME]
#        scripts/backup.sh restore [NAME]
#        scripts/backup.sh list
#   backup   pg_dump -Fc of the database (one consistent snapshot: pg_dump runs
#            in a single repeatable-read transaction, so the farm keeps running),
#            checked with pg_restore --list, then stored with `kilnctl storage put`
#            as backups/NAME (default kiln-<UTC time>.dump); prints the key
#   restore  fetch backups/NAME (default: the newest kiln-<UTC time>.dump) and
#            pg_restore it, in one
#            transaction, into the database, which must be empty (no tables in
#            schema public): a restore never overwrites a live farm. Restore
#            before `kilnctl migrate`, or into a fresh database
#   list     the stored backups, oldest first, with their sizes
#
# Where: the database is KILN_DATABASE_URL (default: the private cluster of
# `just db`, scripts/db.sh url); the store is the one the backend uses
# (KILN_STORAGE, KILN_S3_* or KILN_STORAGE_DIR, or a --config file named by
# KILN_CONFIG), reached through kilnctl (KILN_KILNCTL, default build/release's,
# else kilnctl on PATH). Without KILN_S3_ENDPOINT, the local SeaweedFS of `just s3`
# is used (scripts/s3.sh env). The wheels themselves are already in the store;
# keeping the bucket replicated is described in docs/deploy.md.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
PREFIX=backups/

USAGE="usage: $0 {backup [NAME]|restore [NAME]|list}"
usage() { echo "$USAGE" >&2; exit 2; }
msg() { printf 'backup: %s\n' "$*" >&2; }
die() { printf 'backup: error: %s\n' "$*" >&2; exit 1; }

# A PostgreSQL client program: version 15's if installed (the server's major
# version; pg_dump refuses a newer server), else the one on PATH.
pg_tool() {
    local t=$1
    if [[ -x /usr/lib/postgresql/15/bin/$t ]]; then
        echo "/usr/lib/postgresql/15/bin/$t"
    elif command -v "$t" >/dev/null 2>&1; then
        command -v "$t"
    else
        die "$t is not installed (Debian: apt-get install postgresql-client-15)"
    fi
}

find_kilnctl() {
    if [[ -n ${KILN_KILNCTL:-} ]]; then
        echo "$KILN_KILNCTL"
    elif [[ -x $REPO_ROOT/build/release/kilnctl/kilnctl ]]; then
        echo "$REPO_ROOT/build/release/kilnctl/kilnctl"
    elif command -v kilnctl >/dev/null 2>&1; then
        command -v kilnctl
    else
        die "kilnctl not found (run just build, or set KILN_KILNCTL)"
    fi
}

setup_env() {
    if [[ -z ${KILN_DATABASE_URL:-} && -z ${KILN_CONFIG:-} ]]; then
        [[ -x $REPO_ROOT/scripts/db.sh ]] || die "KILN_DATABASE_URL is not set"
        KILN_DATABASE_URL=$("$REPO_ROOT/scripts/db.sh" url)
        export KILN_DATABASE_URL
    fi
    if [[ ${KILN_STORAGE:-s3} == s3 && -z ${KILN_S3_ENDPOINT:-} && -z ${KILN_CONFIG:-} &&
        -x $REPO_ROOT/scripts/s3.sh ]]; then
        eval "$("$REPO_ROOT/scripts/s3.sh" env)"
    fi
    KILNCTL=$(find_kilnctl)
    PG_DUMP=$(pg_tool pg_dump)
    PG_RESTORE=$(pg_tool pg_restore)
    PSQL=$(pg_tool psql)
    # The URL kilnctl would use (a config file may set it): pg_dump needs it too.
    DB_URL=${KILN_DATABASE_URL:-$("$KILNCTL" config | sed -n 's/^KILN_DATABASE_URL=//p')}
    [[ -n $DB_URL ]] || die "no database URL (set KILN_DATABASE_URL)"
}

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] ||
        die "bad backup name '$1' (letters, digits, '.', '_', '-'; at most 128)"
}

# Keys and sizes of the stored backups, oldest first (names sort by time).
list_backups() {
    "$KILNCTL" storage ls "$PREFIX" | LC_ALL=C sort
}

tmpdir() {
    local base=${TMPDIR:-/tmp}
    TMP=$(mktemp -d "$base/kiln-backup.XXXXXX")
    # shellcheck disable=SC2064  # expand $TMP now
    trap "rm -rf -- '$TMP'" EXIT
}

cmd_backup() {
    local name=${1:-kiln-$(date -u +%Y%m%dT%H%M%SZ).dump} size stored
    check_name "$name"
    setup_env
    if "$KILNCTL" storage stat "$PREFIX$name" >/dev/null 2>&1; then
        die "a backup named '$name' already exists ($PREFIX$name); choose another name"
    fi
    tmpdir
    msg "dumping the database (pg_dump -Fc)"
    "$PG_DUMP" -Fc --no-owner --no-privileges -f "$TMP/$name" "$DB_URL" ||
        die "pg_dump failed; nothing was stored"
    # A dump pg_restore cannot read is not a backup.
    "$PG_RESTORE" --list "$TMP/$name" >/dev/null || die "pg_restore cannot read the dump; nothing was stored"
    size=$(stat -c %s "$TMP/$name")
    msg "storing $PREFIX$name ($size bytes)"
    "$KILNCTL" storage put "$PREFIX$name" "$TMP/$name" --content-type application/octet-stream >/dev/null ||
        die "storing the dump failed"
    stored=$("$KILNCTL" storage stat "$PREFIX$name" | awk '{ print $2 }')
    [[ $stored == "$size" ]] || die "stored $PREFIX$name has $stored bytes, the dump $size"
    echo "$PREFIX$name"
}

cmd_restore() {
    local name=${1:-} key tables
    setup_env
    if [[ -z $name ]]; then
        # The newest of the backups named by time (a name given by hand says nothing
        # about when it was made).
        key=$(list_backups | cut -d' ' -f1 | grep -E '^backups/kiln-[0-9]{8}T[0-9]{6}Z\.dump$' | tail -n 1 || true)
        [[ -n $key ]] || die "no backups named by time (kiln-<UTC time>.dump) under $PREFIX; name one"
    else
        name=${name#"$PREFIX"}
        check_name "$name"
        key=$PREFIX$name
        "$KILNCTL" storage stat "$key" >/dev/null 2>&1 ||
            die "no backup '$name' (scripts/backup.sh list shows what there is)"
    fi
    tables=$("$PSQL" -X -At -v ON_ERROR_STOP=1 -d "$DB_URL" \
        -c "select count(*) from pg_tables where schemaname = 'public'") ||
        die "cannot reach the database to restore into"
    if [[ $tables != 0 ]]; then
        die "the database holds $tables tables already; restore only into an empty database (create a fresh one and point KILN_DATABASE_URL at it, or drop this one; do not migrate first)"
    fi
    tmpdir
    msg "fetching $key"
    "$KILNCTL" storage get "$key" "$TMP/restore.dump" || die "fetching $key failed"
    msg "restoring $key (one transaction: all or nothing)"
    "$PG_RESTORE" --no-owner --no-privileges --exit-on-error --single-transaction \
        -d "$DB_URL" "$TMP/restore.dump" || die "pg_restore failed; the database was left as it was"
    echo "$key"
}

cmd_list() {
    setup_env
    list_backups
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
    backup) [[ $# -le 1 ]] || usage; cmd_backup "$@" ;;
    restore) [[ $# -le 1 ]] || usage; cmd_restore "$@" ;;
    list) [[ $# -eq 0 ]] || usage; cmd_list ;;
    -h | --help) echo "$USAGE" ;;
    *) usage ;;
esac
