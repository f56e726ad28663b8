#!/usr/bin/env bash
# The whole farm on one machine: what `just up`, `just down` and `just logs` run.
#
# usage: scripts/up.sh {up|down|logs|status|upstream|targets [ARCH|NAME[,NAME...]]}
#   up        start (or keep) Postgres, SeaweedFS, the schema, the default
#             target's builder image and target, the tokens, kiln-backend,
#             kiln-sync (daemon) and one kiln-builder, then wait until the first
#             wheel is published and say where to look; then the other targets
#             of this machine's architecture (builder/targets.txt) get their
#             images built in the background (`targets`, log logs/images.log),
#             each registered when its image is ready: the builder
#             (KILN_BUILDER_TARGETS=auto) picks them up by itself.
#             KILN_UP_TARGETS (below) narrows this to the default target alone,
#             or to the targets it names: the first named takes the default's
#             place, the others are built in the background.
#             Run twice, it starts only what is not running and creates nothing twice.
#   targets [ARCH|NAME[,NAME...]]
#             build the image of every target of ARCH (default: this machine's)
#             in builder/targets.txt, in order, or of the named targets, and
#             register each with `kilnctl target add` when its image is ready.
#             Another architecture is built by emulation (scripts/emulation.sh),
#             slowly; a builder serves it with KILN_BUILDER_EMULATE=ARCH.
#   down      stop what `up` started (builder, sync, backend, local upstream, S3,
#             Postgres); the data stays
#   logs      follow every log (tail -F)
#   status    one line per process: running or not
#   upstream  print the upstream index `up` would mirror and its feed of newest
#             releases, and why
#
# Before `up`, the binaries must be built (`just up` builds them first).
#
# Upstream: KILN_UPSTREAM_URL if set; otherwise the index this machine's pip
# uses (PIP_INDEX_URL, pip.conf's index-url, else pip's own default). If that
# does not answer, a local upstream is served from $DATA/upstream: sdists made by
# tests/integration/sdists.py (a tiny C extension), so the farm still shows a
# build from end to end without network.
#
# Feed (fast notice of new releases): KILN_SYNC_FEED_URL if set; otherwise the
# upstream's /rss/updates.xml beside its /simple/, if it serves one (choose_feed).
#
# Scope: KILN_SYNC_PROJECTS if set; otherwise DEFAULT_PROJECTS below, the one
# place that lists what a new farm mirrors and builds.
#
# State, all under ${KILN_DATA_DIR:-<repo>/.kiln}:
#   run/NAME.pid     pid files (backend, sync, builder, upstream)
#   logs/NAME.log    their logs (Postgres and SeaweedFS keep theirs in pg/, s3/)
#   tokens/          the builder's and the admin's tokens (mode 0600), made once
#   upstream/        the local fallback upstream, when it is used
#
# Environment: the KILN_* settings of the README (KILN_HTTP_LISTEN,
# KILN_PG_PORT, KILN_S3_PORT, KILN_DATA_DIR, KILN_UPSTREAM_URL,
# KILN_SYNC_PROJECTS, KILN_BUILDER_SLOTS, ...), plus KILN_UP_WAIT: seconds `up`
# waits for the first wheel (default 900; 0 skips the wait), KILN_UP_TARGETS:
# `all` (default: every target of this machine's architecture, the others'
# images built in the background after the first wheel), `default` (the
# first alone) or target names of this machine's architecture, comma-separated
# (those alone: `trixie-py313-x86_64` makes a farm of that target only; a
# name not in builder/targets.txt is an error that lists the valid ones), and
# KILN_BUILD_DIR: where the binaries are (default build/release).
set -euo pipefail

# The default allow-list: small real projects that ship only sdists, with a C
# extension, no runtime dependencies, and no build requirements beyond
# setuptools (which the builder image carries), so that each builds offline in
# seconds. Checked against the upstream when chosen: crcmod (4 releases with
# sdists, all build; `crcmod._crcfunext` is the C part) and netifaces (12
# sdists: 0.10.0 to 0.11.0 build; 0.8 fails on CPython 3.11, which the UI shows
# as a failed build).
DEFAULT_PROJECTS="crcmod,netifaces"

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
export KILN_DATA_DIR=${KILN_DATA_DIR:-$REPO_ROOT/.kiln}
DATA_DIR=$KILN_DATA_DIR
RUN_DIR=$DATA_DIR/run
LOG_DIR=$DATA_DIR/logs
TOKEN_DIR=$DATA_DIR/tokens
UPSTREAM_DIR=$DATA_DIR/upstream
BUILD=${KILN_BUILD_DIR:-$REPO_ROOT/build/release}
KILNCTL=$BUILD/kilnctl/kilnctl
BACKEND=$BUILD/backend/kiln-backend
SYNC=$BUILD/registry-sync/kiln-sync
BUILDER=$BUILD/builder/kiln-builder
LISTEN=${KILN_HTTP_LISTEN:-127.0.0.1:8080}
PORT=${LISTEN##*:}
WAIT=${KILN_UP_WAIT:-900}
UP_TARGETS=${KILN_UP_TARGETS:-all}
HOST_ARCH=$(uname -m)
# A starting builder removes the build containers its name left behind, so two
# farms on one Docker host (another checkout, the tests) need different names.
BUILDER_NAME=${KILN_BUILDER_NAME:-local-$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-8)}
LOCAL_PROJECTS="kiln-local-demo"

msg() { printf 'up: %s\n' "$*"; }
die() { printf 'up: error: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 {up|down|logs|status|upstream|targets [ARCH|NAME[,NAME...]]}" >&2; exit 2; }

[[ $PORT =~ ^[0-9]+$ ]] || die "KILN_HTTP_LISTEN must end in :PORT, got '$LISTEN'"
[[ $WAIT =~ ^[0-9]+$ ]] || die "KILN_UP_WAIT must be a number of seconds, got '$WAIT'"
# The names themselves are checked by `up` (up_targets), against the target list.
[[ $UP_TARGETS =~ ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$ ]] ||
    die "KILN_UP_TARGETS must be all, default or target names separated by commas, got '$UP_TARGETS'"
# The address clients use: a wildcard listen address is reached on loopback.
HOST=${LISTEN%:*}
[[ $HOST == 0.0.0.0 || $HOST == '*' || -z $HOST ]] && HOST=127.0.0.1
BASE_URL=http://$HOST:$PORT

# --- processes -----------------------------------------------------------------

# pid of the running process NAME (its pid file, alive, and still running the
# binary it was started from: pids get reused); fails and drops a stale file.
running_pid() {
    local name=$1 exe=$2 pid
    [[ -f $RUN_DIR/$name.pid ]] || return 1
    pid=$(<"$RUN_DIR/$name.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$exe"; then
        echo "$pid"
        return 0
    fi
    rm -f "$RUN_DIR/$name.pid"
    return 1
}

# start NAME EXE ARGS...: run in the background in a session of its own (so a
# Ctrl-C in the terminal that ran `just up` leaves it alone), cwd the repo
# (the backend serves frontend/ from there), output appended to its log.
start() {
    local name=$1 exe=$2 pid
    shift 2
    if pid=$(running_pid "$name" "$exe"); then
        msg "$name already running (pid $pid)"
        return 0
    fi
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    printf '\n--- %s: started by scripts/up.sh\n' "$(date -u +%FT%TZ)" >>"$LOG_DIR/$name.log"
    (cd "$REPO_ROOT" && exec setsid "$exe" "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1) &
    pid=$!
    echo "$pid" >"$RUN_DIR/$name.pid"
    msg "$name started (pid $pid, log $LOG_DIR/$name.log)"
}

# stop NAME EXE SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop() {
    local name=$1 exe=$2 secs=$3 pid i
    if ! pid=$(running_pid "$name" "$exe"); then
        return 0
    fi
    msg "stopping $name (pid $pid)"
    # Its session (start() runs each in one of its own): the images worker's
    # image builds go with it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        msg "$name did not stop in ${secs}s: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
}

# wait_until SECONDS WHAT LOG COMMAND...: poll COMMAND twice a second.
wait_until() {
    local secs=$1 what=$2 log=$3 i
    shift 3
    for ((i = 0; i < secs * 2; i++)); do
        "$@" && return 0
        sleep 0.5
    done
    [[ -f $log ]] && tail -n 20 "$log" >&2
    die "$what not ready after ${secs}s (log: $log)"
}

sql() { "$SCRIPT_DIR/db.sh" psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

# --- upstream ------------------------------------------------------------------

# The index pip uses here: PIP_INDEX_URL, pip.conf (install, then global), else
# pip's built-in default, asked from pip itself so no host name is written here.
pip_index() {
    local u
    if [[ -n ${PIP_INDEX_URL:-} ]]; then
        echo "$PIP_INDEX_URL PIP_INDEX_URL"
        return 0
    fi
    u=$(python3 -m pip config list 2>/dev/null |
        sed -n "s/^\(install\|global\)\.index-url='\(.*\)'$/\1 \2/p" |
        sort | head -n 1 | cut -d' ' -f2-) || true
    if [[ -n $u ]]; then
        echo "$u pip.conf"
        return 0
    fi
    u=$(python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null) || true
    [[ -n $u ]] && echo "$u pip's default"
}

# Does URL answer as an index? Its root, at most 10 s, one byte asked for.
reachable() {
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -r 0-0 \
        -H 'Accept: application/vnd.pypi.simple.v1+json, text/html;q=0.1' "$1" 2>/dev/null) || true
    [[ $code == 200 || $code == 206 ]]
}

# Sets UPSTREAM (URL or "local") and UPSTREAM_WHY.
choose_upstream() {
    local found
    if [[ -n ${KILN_UPSTREAM_URL:-} ]]; then
        UPSTREAM=$KILN_UPSTREAM_URL
        UPSTREAM_WHY="KILN_UPSTREAM_URL"
        return 0
    fi
    found=$(pip_index) || true
    if [[ -z $found ]]; then
        UPSTREAM=local
        UPSTREAM_WHY="pip has no index configured here"
        return 0
    fi
    local url=${found%% *} from=${found#* }
    [[ $url == */ ]] || url=$url/
    if reachable "$url"; then
        UPSTREAM=$url
        UPSTREAM_WHY="the index pip uses ($from)"
    else
        UPSTREAM=local
        UPSTREAM_WHY="the index pip uses ($from, $url) does not answer"
    fi
}

# The upstream's feed of newest releases, for kiln-sync's fast notice. Sets
# FEED (URL, or empty: none) and FEED_WHY. KILN_SYNC_FEED_URL if set (set and
# empty: none); else, for an upstream URL ending in /simple/, the same site's
# /rss/updates.xml (where Warehouse-style indexes keep theirs) if it answers
# with an RSS document; else none, and full syncs alone keep the mirror.
choose_feed() {
    local url body
    if [[ -n ${KILN_SYNC_FEED_URL+set} ]]; then
        FEED=$KILN_SYNC_FEED_URL
        FEED_WHY="KILN_SYNC_FEED_URL"
        return 0
    fi
    FEED=""
    if [[ $UPSTREAM != */simple/ ]]; then
        FEED_WHY="the upstream URL does not end in /simple/"
        return 0
    fi
    url=${UPSTREAM%simple/}rss/updates.xml
    body=$(curl -fsS --max-time 10 --max-filesize 4194304 "$url" 2>/dev/null | head -c 4096) || true
    if [[ $body == *"<rss"* ]]; then
        FEED=$url
        FEED_WHY="the upstream offers one"
    else
        FEED_WHY="$url is not an RSS feed"
    fi
}

# Serve the local upstream: a PEP 503 tree of fixture sdists, on a port kept
# across runs (the sync state is keyed by the URL).
start_local_upstream() {
    local port_file=$UPSTREAM_DIR/port port=0 pid
    if pid=$(running_pid upstream local-upstream.py); then
        msg "upstream already running (pid $pid)"
    else
        mkdir -p "$UPSTREAM_DIR"
        [[ -f $port_file ]] && port=$(<"$port_file")
        if [[ $port != 0 ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            port=0 # taken by someone else since: pick another
        fi
        rm -f "$UPSTREAM_DIR/url"
        start upstream "$SCRIPT_DIR/local-upstream.py" --dir "$UPSTREAM_DIR" --port "$port" $LOCAL_PROJECTS
    fi
    wait_until 30 "the local upstream" "$LOG_DIR/upstream.log" test -s "$UPSTREAM_DIR/url"
    UPSTREAM=$(<"$UPSTREAM_DIR/url")
    echo "${UPSTREAM#http://127.0.0.1:}" | cut -d/ -f1 >"$port_file"
}

# --- tokens ----------------------------------------------------------------------

# The builder's token, made once and kept in tokens/builder ("NAME TOKEN").
# Made again only when the database no longer knows the builder (a new cluster).
builder_token() {
    local f=$TOKEN_DIR/builder name token out known
    mkdir -p "$TOKEN_DIR"
    chmod 0700 "$TOKEN_DIR"
    known=$(sql "select name from builders where enabled order by name")
    if [[ -f $f ]]; then
        read -r name token <"$f"
        if grep -qxF -- "$name" <<<"$known"; then
            BUILDER_TOKEN=$token
            BUILDER_REG=$name
            return 0
        fi
    fi
    name=$BUILDER_NAME
    if grep -qxF -- "$name" <<<"$(sql "select name from builders")"; then
        # Registered by an earlier data dir whose token is gone: a fresh name.
        name=$BUILDER_NAME-$(date +%s)
    fi
    out=$("$KILNCTL" builder add "$name") || die "kilnctl builder add $name failed"
    token=$(tail -n 1 <<<"$out")
    [[ $token == kiln_* ]] || die "unexpected output of kilnctl builder add: $out"
    (umask 077 && echo "$name $token" >"$f")
    msg "registered builder '$name' (token in $f)"
    BUILDER_TOKEN=$token
    BUILDER_REG=$name
}

# The admin API token, made once and kept in tokens/admin.
admin_token() {
    local f=$TOKEN_DIR/admin out token name=local-admin
    if [[ -f $f ]] && grep -qxF -- "$name" <<<"$(sql "select name from api_tokens")"; then
        return 0
    fi
    if grep -qxF -- "$name" <<<"$(sql "select name from api_tokens")"; then
        name=local-admin-$(date +%s)
    fi
    out=$("$KILNCTL" admin-token add "$name") || die "kilnctl admin-token add failed"
    token=$(tail -n 1 <<<"$out")
    [[ $token == kiln_* ]] || die "unexpected output of kilnctl admin-token add: $out"
    (umask 077 && echo "$token" >"$f")
    msg "created admin token '$name' (in $f)"
}

# --- targets -----------------------------------------------------------------------

# "name suite python arch glibc recipe image" of each target of ARCH in
# builder/targets.txt, in its order.
arch_targets() {
    "$SCRIPT_DIR/image.sh" list | awk -v a="$1" '$4 == a'
}

# named_targets NAMES FROM [ARCH]: the lines of arch_targets's form for the
# comma-separated target names NAMES, in their order, each once. Dies on a name
# not in the target list (scripts/image.sh list: builder/targets.txt), or, with
# ARCH, not of ARCH, naming the valid ones; FROM says where the names came from.
named_targets() {
    local names=$1 from=$2 arch=${3:-} all valid name line a
    local -a list
    all=$("$SCRIPT_DIR/image.sh" list) || die "scripts/image.sh list failed"
    valid=$(awk -v a="$arch" 'a == "" || $4 == a { print $1 }' <<<"$all" | paste -sd' ' | sed 's/ /, /g')
    IFS=, read -r -a list <<<"$names"
    for name in "${list[@]}"; do
        line=$(awk -v n="$name" '$1 == n' <<<"$all")
        [[ -n $line ]] ||
            die "$from: no target '$name' in builder/targets.txt; the ${arch:+$arch }targets are: $valid"
        read -r _ _ _ a _ <<<"$line"
        [[ -z $arch || $a == "$arch" ]] ||
            die "$from: $name is an $a target, not of this machine's architecture; the $arch targets are: $valid (the $a ones: scripts/up.sh targets $a)"
        echo "$line"
    done | awk '!seen[$1]++'
}

# The targets `up` serves, per KILN_UP_TARGETS, as arch_targets lines: the
# first is built and registered before the builder starts, the others in the
# background after the first wheel. Named ones must be of this machine's
# architecture: the builder `up` starts serves no other.
up_targets() {
    local lines
    case $UP_TARGETS in
        all) lines=$(arch_targets "$HOST_ARCH") ;;
        default) lines=$(arch_targets "$HOST_ARCH" | head -n 1) ;;
        *) lines=$(named_targets "$UP_TARGETS" KILN_UP_TARGETS "$HOST_ARCH") || exit 1 ;;
    esac
    [[ -n $lines ]] || die "no $HOST_ARCH target in builder/targets.txt"
    echo "$lines"
}

# register_target NAME SUITE PYTHON ARCH GLIBC IMAGE: kilnctl target add (add
# or update). A kilnctl from before targets had an architecture takes the
# image and python alone.
register_target() {
    local name=$1 suite=$2 python=$3 arch=$4 glibc=$5 image=$6 help
    help=$("$KILNCTL" --help 2>&1 || true)
    if [[ $help == *--arch* ]]; then
        "$KILNCTL" target add "$name" --image "$image" --python "$python" --arch "$arch" \
            --suite "$suite" --glibc "$glibc" >/dev/null
    else
        "$KILNCTL" target add "$name" --image "$image" --python "$python" \
            --platform "linux_$arch" >/dev/null
    fi || die "kilnctl target add $name failed"
}

# Builds the image of each target of ARCH (or of the comma-separated target
# names) and registers the target when its image is ready, saying "image NAME
# ready (i/n)".
cmd_targets() {
    local spec=${1:-$HOST_ARCH} arch name suite python a glibc recipe image i=0 n failed=0
    local lines
    [[ -x $KILNCTL ]] || die "$KILNCTL is missing: build first (just build)"
    mkdir -p "$LOG_DIR"
    if [[ $spec == x86_64 || $spec == aarch64 ]]; then
        lines=$(arch_targets "$spec")
        [[ -n $lines ]] || die "no $spec target in builder/targets.txt"
    else
        lines=$(named_targets "$spec" "scripts/up.sh targets") || exit 1
    fi
    # The other architecture among them, if any (there are two).
    arch=$(awk -v h="$HOST_ARCH" '$4 != h { print $4; exit }' <<<"$lines")
    arch=${arch:-$HOST_ARCH}
    n=$(wc -l <<<"$lines")
    if [[ -z ${KILN_DATABASE_URL:-} ]]; then
        "$SCRIPT_DIR/db.sh" start >/dev/null
        KILN_DATABASE_URL=$("$SCRIPT_DIR/db.sh" url)
        export KILN_DATABASE_URL
        "$KILNCTL" migrate >/dev/null
    fi
    [[ $arch == "$HOST_ARCH" ]] || msg "$arch is not this machine's architecture: its images are built by emulation (scripts/emulation.sh), a few times slower"
    while read -r name suite python a glibc recipe image; do
        i=$((i + 1))
        msg "image $name: building ($i/$n, $image; log $LOG_DIR/image-$name.log)"
        if ! "$SCRIPT_DIR/image.sh" build "$name" >"$LOG_DIR/image-$name.log" 2>&1; then
            msg "image $name FAILED ($i/$n): $(tail -n 1 "$LOG_DIR/image-$name.log")"
            failed=$((failed + 1))
            continue
        fi
        register_target "$name" "$suite" "$python" "$a" "$glibc" "$image"
        msg "image $name ready ($i/$n): target $name registered"
    done <<<"$lines"
    if [[ $arch != "$HOST_ARCH" ]] && ((failed < n)); then
        msg "a builder serves the $arch targets by emulation with KILN_BUILDER_EMULATE=$arch (e.g. just down; KILN_BUILDER_EMULATE=$arch just up)"
    fi
    ((failed == 0))
}

# The targets named in $1 (comma-separated), in the background: `targets` in
# a session of its own, logging to logs/images.log.
start_images() {
    [[ -n $1 ]] || return 0
    KILN_DATABASE_URL=$KILN_DATABASE_URL start images "$SCRIPT_DIR/up.sh" targets "$1"
}

# --- up --------------------------------------------------------------------------

backend_ready() { curl -fsS -o /dev/null --max-time 2 "$BASE_URL/readyz" 2>/dev/null; }

# Has the builder said hello since STARTED (the database's clock)?
builder_seen() {
    [[ $(sql "select count(*) from builders where name = '$BUILDER_REG'
              and last_seen_at >= '$STARTED'::timestamptz") != 0 ]]
}

# Prints "project version filename" of one published wheel, or nothing.
first_wheel() {
    sql "select p.name, r.version, a.filename from artifacts a
         join releases r on r.id = a.release_id join projects p on p.id = a.project_id
         where a.published_at is not null order by a.published_at desc limit 1" 2>/dev/null || true
}

job_counts() {
    sql "select count(*) filter (where state = 'queued'),
                count(*) filter (where state in ('assigned', 'running')),
                count(*) filter (where state = 'succeeded'),
                count(*) filter (where state not in ('queued', 'assigned', 'running', 'succeeded'))
         from jobs" 2>/dev/null | tr '|' ' '
}

wait_first_wheel() {
    local t0=$SECONDS wheel counts q r d f tty=0 line
    [[ -t 1 ]] && tty=1
    wheel=$(first_wheel)
    if [[ -n $wheel ]]; then
        read -r WHEEL_PROJECT WHEEL_VERSION WHEEL_FILE <<<"$(tr '|' ' ' <<<"$wheel")"
        msg "a wheel is already published: $WHEEL_FILE"
        return 0
    fi
    msg "waiting up to ${WAIT}s for the first wheel (the first sync, then a build in Docker)"
    while :; do
        wheel=$(first_wheel)
        [[ -n $wheel ]] && break
        counts=$(job_counts)
        read -r q r d f <<<"${counts:-0 0 0 0}"
        line=$(printf 'up: %3ds  jobs: %s queued, %s building, %s done, %s failed' \
            $((SECONDS - t0)) "${q:-0}" "${r:-0}" "${d:-0}" "${f:-0}")
        if ((tty)); then printf '\r%s ' "$line"; elif (((SECONDS - t0) % 15 == 0)); then echo "$line"; fi
        if ((SECONDS - t0 >= WAIT)); then
            ((tty)) && echo
            msg "no wheel published after ${WAIT}s; the farm keeps running"
            msg "see $LOG_DIR/sync.log and $LOG_DIR/builder.log, or the UI at $BASE_URL/"
            return 1
        fi
        if [[ ${f:-0} -gt 0 && ${q:-0} -eq 0 && ${r:-0} -eq 0 && $((SECONDS - t0)) -gt 60 ]] &&
            ! running_pid sync "$SYNC" >/dev/null; then
            ((tty)) && echo
            die "every job failed and kiln-sync is not running (logs: $LOG_DIR)"
        fi
        sleep 1
    done
    ((tty)) && echo
    read -r WHEEL_PROJECT WHEEL_VERSION WHEEL_FILE <<<"$(tr '|' ' ' <<<"$wheel")"
    msg "first wheel published after $((SECONDS - t0))s: $WHEEL_FILE"
}

cmd_up() {
    local projects targets first
    for exe in "$KILNCTL" "$BACKEND" "$SYNC" "$BUILDER"; do
        [[ -x $exe ]] || die "$exe is missing: build first (just build)"
    done
    # Checked before anything starts.
    targets=$(up_targets) || exit 1
    mkdir -p "$RUN_DIR" "$LOG_DIR"

    "$SCRIPT_DIR/db.sh" start
    "$SCRIPT_DIR/s3.sh" start
    eval "$("$SCRIPT_DIR/s3.sh" env)"
    export KILN_S3_ENDPOINT KILN_S3_REGION KILN_S3_BUCKET KILN_S3_ACCESS_KEY KILN_S3_SECRET_KEY
    KILN_DATABASE_URL=$("$SCRIPT_DIR/db.sh" url)
    export KILN_DATABASE_URL
    "$KILNCTL" migrate
    # The default target (the first of this machine's architecture, or the
    # first of KILN_UP_TARGETS) first: the first wheel needs it and nothing else.
    first=$(head -n 1 <<<"$targets")
    read -r TARGET TSUITE TPYTHON TARCH TGLIBC _ TIMAGE <<<"$first"
    "$SCRIPT_DIR/image.sh" build "$TARGET"
    register_target "$TARGET" "$TSUITE" "$TPYTHON" "$TARCH" "$TGLIBC" "$TIMAGE"
    msg "target $TARGET: $TIMAGE (CPython $TPYTHON, $TSUITE, $TARCH)"
    builder_token
    admin_token

    choose_upstream
    if [[ $UPSTREAM == local ]]; then
        msg "no upstream index: $UPSTREAM_WHY; serving a local one from $UPSTREAM_DIR"
        start_local_upstream
        UPSTREAM_WHY="local fallback"
        projects=${KILN_SYNC_PROJECTS:-$LOCAL_PROJECTS}
    else
        projects=${KILN_SYNC_PROJECTS:-$DEFAULT_PROJECTS}
    fi
    choose_feed
    msg "upstream: $UPSTREAM ($UPSTREAM_WHY)"
    msg "feed: ${FEED:-none} ($FEED_WHY)"
    msg "projects: $projects (KILN_SYNC_PROJECTS)"

    export KILN_HTTP_LISTEN=$LISTEN
    # The farm's provenance signing key, made once (docs/deploy.md).
    export KILN_PROVENANCE_KEY=${KILN_PROVENANCE_KEY:-$DATA_DIR/provenance.pem}
    if [[ ! -f $KILN_PROVENANCE_KEY ]]; then
        "$KILNCTL" provenance key init >/dev/null || die "kilnctl provenance key init failed"
        msg "created the provenance signing key ($KILN_PROVENANCE_KEY)"
    fi
    start backend "$BACKEND"
    wait_until 30 "kiln-backend" "$LOG_DIR/backend.log" backend_ready
    KILN_UPSTREAM_URL=$UPSTREAM KILN_SYNC_FEED_URL=$FEED KILN_SYNC_PROJECTS=$projects \
        start sync "$SYNC"
    if ! running_pid builder "$BUILDER" >/dev/null; then
        STARTED=$(sql "select now()")
        KILN_BUILDER_TOKEN=$BUILDER_TOKEN start builder "$BUILDER" \
            --backend "ws://$HOST:$PORT" --name "$BUILDER_REG"
        wait_until 60 "kiln-builder's connection" "$LOG_DIR/builder.log" builder_seen
    else
        msg "builder already running (pid $(running_pid builder "$BUILDER"))"
    fi

    local waited=0 others
    if ((WAIT > 0)); then
        wait_first_wheel || waited=1
    fi
    # Then the other images: not before, so that the first wheel does not
    # wait on them for the machine's CPU and network.
    others=$(sed 1d <<<"$targets" | cut -d' ' -f1 | paste -sd' ')
    if [[ -n $others ]]; then
        start_images "${others// /,}"
        msg "building the images of $others in the background, each target registered when ready (log $LOG_DIR/images.log)"
    fi
    echo
    echo "Kiln is up."
    echo "  UI          $BASE_URL/"
    if [[ -n ${WHEEL_PROJECT:-} ]]; then
        echo "  install     pip install --index-url $BASE_URL/simple/ $WHEEL_PROJECT"
    else
        echo "  install     pip install --index-url $BASE_URL/simple/ NAME"
    fi
    echo "              uv pip install --index-url $BASE_URL/simple/ ${WHEEL_PROJECT:-NAME}"
    echo "  mirrors     $projects from $UPSTREAM"
    echo "  logs        just logs   ($LOG_DIR/, Postgres: $DATA_DIR/pg/postgres.log, S3: $DATA_DIR/s3/weed.log)"
    echo "  tokens      $TOKEN_DIR/ (admin: $TOKEN_DIR/admin)"
    echo "  stop        just down   (the data stays in $DATA_DIR)"
    echo "  targets     $TARGET now${others:+; $others when their images are built (tail -F $LOG_DIR/images.log)}"
    local other_arch=aarch64
    [[ $HOST_ARCH == aarch64 ]] && other_arch=x86_64
    if [[ -n $(arch_targets "$other_arch") ]]; then
        echo "  $other_arch     scripts/up.sh targets $other_arch   (images by emulation, slow; then a builder with KILN_BUILDER_EMULATE=$other_arch)"
    fi
    return $waited
}

cmd_down() {
    # The builder first, so that it stops taking jobs; on SIGTERM it finishes
    # the builds it runs, so it gets longer before the SIGKILL.
    stop images "$SCRIPT_DIR/up.sh" 10
    stop builder "$BUILDER" 60
    stop sync "$SYNC" 30
    stop backend "$BACKEND" 30
    stop upstream local-upstream.py 10
    "$SCRIPT_DIR/s3.sh" stop
    "$SCRIPT_DIR/db.sh" stop
}

cmd_status() {
    local name exe pid
    for name in backend sync builder upstream images; do
        case $name in
            backend) exe=$BACKEND ;; sync) exe=$SYNC ;; builder) exe=$BUILDER ;;
            upstream) exe=local-upstream.py ;; images) exe=$SCRIPT_DIR/up.sh ;;
        esac
        if pid=$(running_pid "$name" "$exe"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: stopped"
        fi
    done
    "$SCRIPT_DIR/db.sh" status || true
    "$SCRIPT_DIR/s3.sh" status || true
}

cmd_logs() {
    local -a files=()
    mkdir -p "$LOG_DIR"
    shopt -s nullglob
    files=("$LOG_DIR"/*.log)
    [[ -f $DATA_DIR/pg/postgres.log ]] && files+=("$DATA_DIR/pg/postgres.log")
    [[ -f $DATA_DIR/s3/weed.log ]] && files+=("$DATA_DIR/s3/weed.log")
    ((${#files[@]})) || die "no logs yet in $LOG_DIR (run just up)"
    exec tail -n 20 -F "${files[@]}"
}

cmd_upstream() {
    choose_upstream
    echo "$UPSTREAM ($UPSTREAM_WHY)"
    choose_feed
    echo "feed: ${FEED:-none} ($FEED_WHY)"
}

[[ $# -ge 1 ]] || usage
[[ $# -eq 1 || ($1 == targets && $# -eq 2) ]] || usage
case $1 in
    up) cmd_up ;;
    targets) cmd_targets "${2:-}" ;;
    down) cmd_down ;;
    logs) cmd_logs ;;
    status) cmd_status ;;
    upstream) cmd_upstream ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) usage ;;
esac
