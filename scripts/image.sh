#!/usr/bin/env bash
# Kiln builder base image: Debian bookworm (minbase) + Python 3.11 + a C toolchain,
# with pip configured to work offline (builds run with --network none).
#
# usage: scripts/image.sh {build|check|name}
#   build  build the image unless one for the current recipe already exists
#   check  build a tiny C-extension sdist inside the image, offline, and test it;
#          build a Rust crate there, offline
#   name   print the image tag for the current recipe
#
# Recipe: every file in builder/image/ (packages.txt: the Debian packages;
#         dev-packages.txt: the curated -dev packages, installed by setup.sh;
#         packages-security.txt: those of them upgraded from bookworm-security;
# setup.sh: run inside the root filesystem via chroot; pip.conf: /etc/pip.conf;
# setuptools.cfg: /etc/kiln/setuptools.cfg; env.txt: the image's ENV;
# tools.txt: Python tools pinned by hash, downloaded here on the host and
# installed by setup.sh into the venv /opt/kiln/tools).
# Tag:    kiln/bookworm-py311:<first 12 hex digits of a sha256 over the recipe>,
#         also tagged kiln/bookworm-py311:latest.
# Build:  debootstrap into $KILN_DATA_DIR/image/rootfs-<hash> (default .kiln/),
#         chroot setup.sh (which also installs dev-packages.txt with apt), put the
#         suite's filtered Contents index in /opt/kiln/contents/ (install_contents),
#         tar | docker import, then the rootfs is deleted.
#         The Debian mirror is read from the machine's apt sources at run time
#         (override: KILN_DEBIAN_MIRROR). Needs root (debootstrap, chroot).
#
# Environment: KILN_DATA_DIR (state dir, default <repo>/.kiln),
#              KILN_IMAGE_REPO (default kiln/bookworm-py311),
#              KILN_IMAGE_RECIPE (recipe directory, default builder/image; the
#                deployment's runtime base image uses deploy/runtime with
#                KILN_IMAGE_REPO=kiln/runtime, see scripts/deploy.sh),
#              KILN_DEBIAN_MIRROR (default: from /etc/apt/sources*),
#              KILN_DEBIAN_SECURITY_MIRROR (for packages-security.txt; default:
#                the one of $SUITE-security in /etc/apt/sources*).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
DATA_DIR=${KILN_DATA_DIR:-$REPO_ROOT/.kiln}
RECIPE_DIR=${KILN_IMAGE_RECIPE:-$REPO_ROOT/builder/image}
IMAGE_REPO=${KILN_IMAGE_REPO:-kiln/bookworm-py311}
SUITE=bookworm
VARIANT=minbase
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() { echo "usage: $0 {build|check|name}" >&2; exit 2; }
msg() { printf 'image: %s\n' "$*"; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

need_docker() {
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running? are you allowed?)"
}

# sha256 over the recipe: the names and contents of all files in builder/image/,
# plus the debootstrap suite and variant. First 12 hex digits.
recipe_hash() {
    [[ -f $RECIPE_DIR/packages.txt && -f $RECIPE_DIR/setup.sh ]] ||
        die "recipe not found: $RECIPE_DIR/{packages.txt,setup.sh}"
    {
        printf 'suite=%s variant=%s\n' "$SUITE" "$VARIANT"
        (cd "$RECIPE_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-12
}

image_tag() { printf '%s:%s\n' "$IMAGE_REPO" "$(recipe_hash)"; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Comma-separated package list from packages.txt (comments and blanks dropped).
package_list() {
    sed -e 's/#.*//' "$RECIPE_DIR/packages.txt" | tr -s ' \t\r\n' '\n' | sed '/^$/d' | paste -sd, -
}

# NAME=VALUE lines of env.txt (comments and blanks dropped).
image_env() {
    [[ -f $RECIPE_DIR/env.txt ]] || return 0
    sed -e 's/^[[:space:]]*#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' \
        "$RECIPE_DIR/env.txt" | sed '/^$/d'
}

# The Debian mirror for suite $1 (default $SUITE), from the apt sources of this
# machine; $2 names the variable that overrides it (default KILN_DEBIAN_MIRROR).
debian_mirror() {
    local SUITE=${1:-$SUITE} override=${2:-KILN_DEBIAN_MIRROR}
    if [[ -n ${!override:-} ]]; then
        printf '%s\n' "${!override}"
        return
    fi
    local f uri
    # deb822 format (*.sources): the URIs of the first enabled "deb" stanza
    # whose Suites include $SUITE.
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        uri=$(awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"; key = ""
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (match(line, /^[A-Za-z0-9-]+:/)) {
                        key = tolower(substr(line, 1, RLENGTH - 1))
                        val = substr(line, RLENGTH + 1)
                    } else {
                        val = line
                    }
                    if (key == "types") types = types " " val
                    else if (key == "uris") uris = uris " " val
                    else if (key == "suites") suites = suites " " val
                    else if (key == "enabled") enabled = val
                }
                gsub(/[ \t]/, "", enabled)
                if (tolower(enabled) == "no") next
                if ((types " ") !~ /[ \t]deb[ \t]/) next
                if ((suites " ") !~ ("[ \t]" suite "[ \t]")) next
                n = split(uris, u, /[ \t]+/)
                for (j = 1; j <= n; j++)
                    if (u[j] ~ /^https?:\/\//) { print u[j]; exit }
            }' "$f")
        if [[ -n $uri ]]; then printf '%s\n' "$uri"; return; fi
    done
    # One-line format: deb [options] URI SUITE COMPONENTS...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        uri=$(awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite && $i ~ /^https?:\/\//) { print $i; exit }
            }' "$f")
        if [[ -n $uri ]]; then printf '%s\n' "$uri"; return; fi
    done
    die "no Debian mirror for '$SUITE' found in /etc/apt/sources.list{,.d/} (set $override)"
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    msg "installing debootstrap with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap still missing after apt-get install"
}

# rm -rf a rootfs, refusing if anything is mounted below it.
remove_rootfs() {
    local dir=$1
    [[ -e $dir ]] || return 0
    if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        die "something is mounted below $dir; unmount it first"
    fi
    rm -rf --one-file-system -- "$dir"
}

# The suite's Contents index, filtered to what the builder's lookups need
# (builder/contents.h): headers under usr/include, pkg-config *.pc files,
# shared and static libraries lib*.so* / lib*.a under lib dirs, and programs
# directly in bin/sbin dirs. Written as gzip'd "path<TAB>pkg[,pkg...]" lines
# (section prefixes dropped), after "#prefer PKG" lines from contents-prefer.txt,
# to $rootfs/opt/kiln/contents/<suite>-<arch>.tsv.gz, where the builder reads it
# out of the image (no network at lookup time).
install_contents() {
    local mirror=$1 rootfs=$2 arch dir f
    arch=$(chroot "$rootfs" dpkg --print-architecture)
    dir=$DATA_DIR/image/contents-$SUITE-$arch
    mkdir -p "$dir"
    for f in "Contents-$arch.gz" Contents-all.gz; do
        curl -sSfL --retry 3 -o "$dir/$f.part" "${mirror%/}/dists/$SUITE/main/$f" ||
            die "could not fetch ${mirror%/}/dists/$SUITE/main/$f"
        mv -f "$dir/$f.part" "$dir/$f"
    done
    install -d -m 0755 "$rootfs/opt/kiln/contents"
    {
        printf '# kiln contents index: suite=%s arch=%s fetched=%s\n' "$SUITE" "$arch" \
            "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        if [[ -f $RECIPE_DIR/contents-prefer.txt ]]; then
            sed -e 's/#.*//' "$RECIPE_DIR/contents-prefer.txt" | tr -s ' \t\r' '\n' |
                sed -e '/^$/d' -e 's/^/#prefer /'
        fi
        zcat "$dir/Contents-$arch.gz" "$dir/Contents-all.gz" | LC_ALL=C awk '
            {
                path = $1
                if (path ~ /^usr\/include\// ||
                    (path ~ /\.pc$/ && path ~ /\/pkgconfig\/[^\/]+$/) ||
                    (path ~ /^(usr\/)?lib/ && path ~ /\/lib[^\/]*\.(so(\.[0-9.]*)?|a)$/) ||
                    path ~ /^(usr\/)?s?bin\/[^\/]+$/) {
                    n = split($NF, a, ",")
                    out = ""
                    for (i = 1; i <= n; i++) {
                        sub(/.*\//, "", a[i])
                        out = out (i > 1 ? "," : "") a[i]
                    }
                    print path "\t" out
                }
            }' | LC_ALL=C sort -u
    } | gzip -9n >"$rootfs/opt/kiln/contents/$SUITE-$arch.tsv.gz"
    chmod 0644 "$rootfs/opt/kiln/contents/$SUITE-$arch.tsv.gz"
    msg "contents index: $(zcat "$rootfs/opt/kiln/contents/$SUITE-$arch.tsv.gz" | wc -l) entries, $(du -h "$rootfs/opt/kiln/contents/$SUITE-$arch.tsv.gz" | cut -f1)"
}

# The packages of packages-security.txt, upgraded in the rootfs $1 from
# $SUITE-security (debootstrap reads $SUITE alone): Debian updates rustc-web
# there for newer toolchains; what the old versions pulled in (their libstd,
# their LLVM) is purged. The source list is removed afterwards; setup.sh drops
# apt's lists.
install_security_updates() {
    local rootfs=$1 mirror list pkgs log
    mirror=$(debian_mirror "$SUITE-security" KILN_DEBIAN_SECURITY_MIRROR)
    pkgs=$(sed -e 's/#.*//' "$RECIPE_DIR/packages-security.txt" | tr -s ' \t\r\n' ' ')
    list=$rootfs/etc/apt/sources.list.d/kiln-security.list
    log=$DATA_DIR/image/security-$(basename "$rootfs").log
    msg "from $SUITE-security ($mirror): $pkgs"
    printf 'deb %s %s-security main\n' "$mirror" "$SUITE" >"$list"
    # debootstrap marks every package manual: mark what the upgraded packages
    # pulled in as automatic (packages.txt stays manual; before apt-get update,
    # so that these are the old versions' dependencies), so that autoremove
    # purges what only their old versions needed (an old libstd, an old LLVM).
    # shellcheck disable=SC2016,SC2086  # the script is for the chroot; $pkgs is a list
    env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive \
        KEEP="$(package_list | tr , ' ')" chroot "$rootfs" sh -euc '
            suite=$1; shift
            apt-cache depends --recurse --installed --no-recommends --no-suggests \
                --no-conflicts --no-breaks --no-replaces --no-enhances "$@" |
                grep -v "^ " | grep -v "^<" | sort -u | xargs apt-mark auto >/dev/null
            apt-mark manual $KEEP >/dev/null
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends -t "$suite-security" "$@"
            apt-get autoremove -y -qq --purge' sh "$SUITE" $pkgs >>"$log" 2>&1 ||
        die "installing $pkgs from $SUITE-security failed (log: $log)"
    rm -f "$list"
}

cmd_name() {
    image_tag
}

cmd_build() {
    need_docker
    local tag hash
    hash=$(recipe_hash)
    tag="$IMAGE_REPO:$hash"
    if image_exists "$tag"; then
        docker tag "$tag" "$IMAGE_REPO:latest"
        msg "$tag already exists (recipe unchanged): nothing to build"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "building the image needs root (debootstrap, chroot)"
    ensure_debootstrap

    local mirror packages workdir rootfs log t0 t1 t2 t3
    mirror=$(debian_mirror)
    packages=$(package_list)
    workdir=$DATA_DIR/image
    rootfs=$workdir/rootfs-$hash
    log=$workdir/debootstrap-$hash.log
    mkdir -p "$workdir"
    if [[ -e $rootfs ]]; then
        msg "removing leftover $rootfs from an earlier, unfinished build"
        remove_rootfs "$rootfs"
    fi

    msg "building $tag"
    msg "debootstrap --variant=$VARIANT $SUITE from $mirror (log: $log)"
    msg "packages: $packages"
    t0=$SECONDS
    if ! debootstrap --variant="$VARIANT" --components=main --include="$packages" \
            "$SUITE" "$rootfs" "$mirror" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 25 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (full log: $log; the partial rootfs stays in $rootfs)"
    fi
    t1=$SECONDS
    msg "debootstrap done in $((t1 - t0))s ($(du -sh --one-file-system "$rootfs" | cut -f1))"

    if [[ -f $RECIPE_DIR/packages-security.txt ]]; then
        install_security_updates "$rootfs"
    fi

    msg "running $RECIPE_DIR/setup.sh in the rootfs (chroot)"
    rm -rf "$rootfs/tmp/kiln-recipe"
    cp -a "$RECIPE_DIR" "$rootfs/tmp/kiln-recipe"
    if [[ -f $RECIPE_DIR/tools.txt ]]; then
        # The image's Python tools (auditwheel, ...), pinned by hash, as wheels:
        # fetched here on the host with its pip, installed offline by setup.sh.
        msg "downloading the tools of $RECIPE_DIR/tools.txt"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
            --python-version 3.11 --dest "$rootfs/tmp/kiln-recipe/tools" \
            -r "$RECIPE_DIR/tools.txt" || die "could not download the tools of tools.txt"
    fi
    env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive \
        chroot "$rootfs" /bin/bash /tmp/kiln-recipe/setup.sh ||
        die "setup.sh failed in $rootfs"
    rm -rf "$rootfs/tmp/kiln-recipe"
    install_contents "$mirror" "$rootfs"
    printf 'tag=%s\nrecipe=%s\nsuite=%s\nvariant=%s\n' "$tag" "$hash" "$SUITE" "$VARIANT" \
        >"$rootfs/etc/kiln-image"
    t2=$SECONDS
    msg "rootfs ready: $(du -sh --one-file-system "$rootfs" | cut -f1)"

    local line
    local -a changes=()
    while IFS= read -r line; do
        [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*$ ]] ||
            die "bad line in $RECIPE_DIR/env.txt: '$line' (want NAME=VALUE without spaces)"
        changes+=(--change "ENV $line")
    done < <(image_env)

    msg "docker import $tag"
    # /dev, /proc and /sys are provided by the container runtime.
    tar -C "$rootfs" --numeric-owner --one-file-system \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . |
        docker import "${changes[@]}" \
            --change "WORKDIR /work" \
            --change 'CMD ["/bin/bash"]' \
            --change "LABEL org.kiln.recipe=$hash" \
            --message "kiln builder base image, recipe $hash" \
            - "$tag" >/dev/null
    docker tag "$tag" "$IMAGE_REPO:latest"
    t3=$SECONDS
    remove_rootfs "$rootfs"
    msg "built $tag (also $IMAGE_REPO:latest), $(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
    msg "time: $((t3 - t0))s total (debootstrap $((t1 - t0))s, setup $((t2 - t1))s, import $((t3 - t2))s)"
}

# Writes an unpacked sdist of a tiny C extension "kdemo" (function add) into $1.
write_demo_sdist() {
    local dir=$1
    mkdir -p "$dir"
    cat >"$dir/pyproject.toml" <<'EOF'
[build-system]
requires = ["setuptools", "wheel"]
build-backend = "setuptools.build_meta"
EOF
    cat >"$dir/setup.py" <<'EOF'
from setuptools import Extension, setup

setup(
    name="kdemo",
    version="0.1",
    description="Kiln image check: a one-file C extension",
    ext_modules=[Extension("kdemo", ["kdemo.c"])],
)
EOF
    cat >"$dir/kdemo.c" <<'EOF'
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *kdemo_add(PyObject *self, PyObject *args)
{
    long a, b;
    (void)self;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef kdemo_methods[] = {
    {"add", kdemo_add, METH_VARARGS, "add(a, b) -> a + b"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kdemo_module = {
    PyModuleDef_HEAD_INIT, "kdemo", "Kiln image check module", -1, kdemo_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_kdemo(void)
{
    return PyModule_Create(&kdemo_module);
}
EOF
    cat >"$dir/PKG-INFO" <<'EOF'
Metadata-Version: 2.1
Name: kdemo
Version: 0.1
Summary: Kiln image check: a one-file C extension
EOF
}

# Echoes a command, shell-quoted so that it can be pasted back.
show_cmd() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
}

cmd_check() {
    need_docker
    local tag tmp src out whl
    tag=$(image_tag)
    image_exists "$tag" || die "$tag does not exist: run scripts/image.sh build first"
    mkdir -p "$DATA_DIR/tmp"
    tmp=$(mktemp -d "$DATA_DIR/tmp/image-check.XXXXXX")
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf -- '$tmp'" EXIT
    src=$tmp/src
    out=$tmp/out
    write_demo_sdist "$src"
    mkdir -p "$out"
    chmod 0755 "$tmp" "$src"
    chmod 0644 "$src"/*
    chmod 0777 "$out" # the container writes here as uid 1000

    local -a run=(docker run --rm --network none --user 1000)
    local -a build_cmd=("${run[@]}" -v "$src:/src:ro" -v "$out:/out" "$tag"
        python3 -m pip wheel /src -w /out)
    msg "building the kdemo sdist offline, as uid 1000:"
    show_cmd "${build_cmd[@]}"
    "${build_cmd[@]}" || die "pip wheel failed in $tag"
    whl=$(compgen -G "$out/kdemo-*-cp311-cp311-linux_x86_64.whl" | head -n 1) ||
        die "no kdemo-*-cp311-cp311-linux_x86_64.whl in the output: $(ls "$out")"
    msg "got $(basename "$whl")"

    local -a test_cmd=("${run[@]}" -v "$out:/out:ro" "$tag" sh -c
        'python3 -m pip install --no-index --target /tmp/t /out/kdemo-*.whl && PYTHONPATH=/tmp/t python3 -c "import kdemo; assert kdemo.add(2, 3) == 5; print(\"kdemo.add(2, 3) =\", kdemo.add(2, 3))"')
    msg "installing and importing the wheel, offline, as uid 1000:"
    show_cmd "${test_cmd[@]}"
    "${test_cmd[@]}" || die "installing/importing the kdemo wheel failed in $tag"
    if [[ -f $RECIPE_DIR/tools.txt ]]; then
        local -a repair_cmd=("${run[@]}" -v "$out:/out:ro" "$tag" sh -c
            '/opt/kiln/tools/bin/auditwheel repair -w /tmp/r /out/kdemo-*.whl && ls /tmp/r')
        msg "repairing the wheel with the image's auditwheel:"
        show_cmd "${repair_cmd[@]}"
        "${repair_cmd[@]}" | grep -q 'manylinux' || die "auditwheel repair failed in $tag"
    fi


    # The Rust toolchain: a crate without dependencies builds offline, as uid 1000,
    # with a read-only root (crates of real projects come vendored, docs/builds.md).
    local -a rust_cmd=("${run[@]}" --read-only --tmpfs /tmp:exec -e HOME=/tmp -e CARGO_HOME=/tmp/cargo
        -e CARGO_NET_OFFLINE=true "$tag" sh -c
        'cd /tmp && cargo new -q --vcs none --bin krust && cd krust && cargo build -q --release && ./target/release/krust')
    msg "building a Rust crate offline, as uid 1000:"
    show_cmd "${rust_cmd[@]}"
    "${rust_cmd[@]}" | grep -qx 'Hello, world!' || die "building a Rust crate failed in $tag"
    echo "image check: ok"
}

[[ $# -eq 1 ]] || usage
case $1 in
    build) cmd_build ;;
    check) cmd_check ;;
    name) cmd_name ;;
    -h | --help) echo "usage: $0 {build|check|name}" ;;
    *) usage ;;
esac
