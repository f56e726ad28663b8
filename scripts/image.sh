#!/usr/bin/env bash
# Kiln builder images, one per build target of builder/targets.txt: Debian
# (minbase) of the target's suite and architecture, the target's CPython as
# `python3`, a C toolchain, pip configured to work offline (builds run with
# --network none).
#
# usage: scripts/image.sh {build|check|name} [TARGET]
#        scripts/image.sh list
#   build  build TARGET's image unless one for its current recipe exists
#   check  build a tiny C-extension sdist inside the image, offline, install and
#          import it, repair it with auditwheel; build a Rust crate there when
#          the image has cargo
#   name   print TARGET's image tag for its current recipe
#   list   one line per target: name suite python arch glibc recipe image
# TARGET: a name of builder/targets.txt (or of $KILN_TARGETS_FILE); without
# one, the default target (the first line of builder/targets.txt).
#
# Targets: builder/targets.txt, columns `name suite python arch glibc recipe`
#   (docs in that file). KILN_TARGETS_FILE names a second file of the same form
#   (test-only targets: tests/targets-min.txt).
# Recipe: every file in the target's recipe directory (builder/image: the
#   full image; builder/image-min: the smallest one, for tests):
#   packages.txt: the Debian packages (debootstrap --include);
#   dev-packages.txt: more packages, installed by setup.sh with apt;
#   overrides.txt: per-suite renames and removals of those packages
#     (`SUITE PACKAGE REPLACEMENT|-`);
#   packages-security-SUITE.txt: packages upgraded from SUITE-security;
#   setup.sh: run inside the root filesystem via chroot; pip.conf, setuptools.cfg;
#   env.txt: the image's ENV; tools.txt: Python tools pinned by hash, downloaded
#   here on the host and installed by setup.sh into the venv /opt/kiln/tools;
#   contents-prefer.txt: present when the image carries the suite's Contents
#   index (install_contents), the builder's lookup of missing headers.
# Python: when the target's CPython is not the suite's python3 (forky 3.15),
#   python3.X, its -dev and -venv are installed too and /usr/local/bin/python3
#   (first on PATH) runs it: the build driver and pip run `python3`. Debian's
#   own scripts keep /usr/bin/python3.
# Tag:    kiln/<target>:<first 12 hex digits of a sha256 over the recipe files
#         and the target's suite, python, arch>, also tagged kiln/<target>:latest;
#         the default target's image is also kiln/bookworm-py311:latest (the
#         name KILN_BUILDER_IMAGE defaults to).
# Labels: org.kiln.target, org.kiln.arch (uname -m form), org.kiln.python,
#         org.kiln.suite, org.kiln.glibc, org.kiln.recipe; /etc/kiln-image holds
#         the same fields.
# Build:  debootstrap --arch into $KILN_DATA_DIR/image/rootfs-<hash> (default
#         .kiln/), chroot setup.sh, tar | docker import, then the rootfs is
#         deleted. Another architecture than the host's is emulated
#         (scripts/emulation.sh enable: QEMU user mode behind binfmt_misc).
#         The Debian mirror is read from the machine's apt sources at run time
#         (override: KILN_DEBIAN_MIRROR). Needs root (debootstrap, chroot).
#
# Environment: KILN_DATA_DIR (state dir, default <repo>/.kiln),
#              KILN_TARGETS_FILE (a second target list),
#              KILN_IMAGE_RECIPE and KILN_IMAGE_REPO: build a recipe that is no
#                build target (the deployment's runtime base image:
#                KILN_IMAGE_RECIPE=deploy/runtime KILN_IMAGE_REPO=kiln/runtime,
#                see scripts/deploy.sh): bookworm, the host's architecture, no
#                target labels;
#              KILN_DEBIAN_MIRROR (default: from /etc/apt/sources*),
#              KILN_DEBIAN_SECURITY_MIRROR (for packages-security-SUITE.txt;
#                default: the one of $SUITE-security in /etc/apt/sources*).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
DATA_DIR=${KILN_DATA_DIR:-$REPO_ROOT/.kiln}
TARGETS_FILE=$REPO_ROOT/builder/targets.txt
# The image name KILN_BUILDER_IMAGE defaults to (common/config.c), from before
# there were several targets: the default target's image is tagged so too.
LEGACY_REPO=kiln/bookworm-py311
VARIANT=minbase
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() { echo "usage: $0 {build|check|name} [TARGET] | $0 list" >&2; exit 2; }
msg() { printf 'image: %s\n' "$*"; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

need_docker() {
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running? are you allowed?)"
}

# --- targets -------------------------------------------------------------------

# The target lines (comments and blanks dropped) of builder/targets.txt, then
# of $KILN_TARGETS_FILE, each checked to have the six columns.
target_lines() {
    local f
    for f in "$TARGETS_FILE" ${KILN_TARGETS_FILE:+"$KILN_TARGETS_FILE"}; do
        [[ -r $f ]] || die "target list $f not found"
        sed -e 's/#.*//' "$f" | awk -v f="$f" '
            NF == 0 { next }
            NF != 6 || $4 !~ /^(x86_64|aarch64)$/ || $3 !~ /^3\.[0-9]+$/ || $5 !~ /^2\.[0-9]+$/ {
                printf "image: error: %s: bad target line (want name suite python arch glibc recipe): %s\n", f, $0 > "/dev/stderr"
                exit 1
            }
            { print $1, $2, $3, $4, $5, $6 }'
    done
}

# Debian's name of a uname -m architecture.
deb_arch() {
    case $1 in
        x86_64) echo amd64 ;;
        aarch64) echo arm64 ;;
        *) die "unknown architecture $1" ;;
    esac
}

# Sets NAME SUITE PYTHON ARCH GLIBC RECIPE_DIR IMAGE_REPO for target $1 (empty:
# the default target). KILN_IMAGE_RECIPE instead: that recipe, as no target.
select_target() {
    local want=${1:-} line
    local -a f
    if [[ -n ${KILN_IMAGE_RECIPE:-} ]]; then
        [[ -z $want ]] || die "KILN_IMAGE_RECIPE builds a recipe, not target $want"
        NAME="" SUITE=bookworm PYTHON="" ARCH=$(uname -m) GLIBC=""
        RECIPE_DIR=$KILN_IMAGE_RECIPE
        IMAGE_REPO=${KILN_IMAGE_REPO:-kiln/$(basename "$RECIPE_DIR")}
        return 0
    fi
    local lines
    lines=$(target_lines) || exit 1
    if [[ -z $want ]]; then
        line=$(sed -e 's/#.*//' "$TARGETS_FILE" | awk 'NF { print; exit }')
    else
        line=$(awk -v n="$want" '$1 == n { print; exit }' <<<"$lines")
    fi
    [[ -n $line ]] || die "no target '$want' in $TARGETS_FILE${KILN_TARGETS_FILE:+ or $KILN_TARGETS_FILE} (scripts/image.sh list)"
    read -r -a f <<<"$line"
    NAME=${f[0]} SUITE=${f[1]} PYTHON=${f[2]} ARCH=${f[3]} GLIBC=${f[4]}
    RECIPE_DIR=${f[5]}
    [[ $RECIPE_DIR == /* ]] || RECIPE_DIR=$REPO_ROOT/$RECIPE_DIR
    IMAGE_REPO=${KILN_IMAGE_REPO:-kiln/$NAME}
}

is_default_target() {
    [[ -n $NAME && $NAME == "$(sed -e 's/#.*//' "$TARGETS_FILE" | awk 'NF { print $1; exit }')" ]]
}

# sha256 over the recipe: the names and contents of all files in its
# directory, plus the suite, variant, python and arch. First 12 hex digits.
recipe_hash() {
    [[ -f $RECIPE_DIR/packages.txt && -f $RECIPE_DIR/setup.sh ]] ||
        die "recipe not found: $RECIPE_DIR/{packages.txt,setup.sh}"
    {
        printf 'suite=%s variant=%s\n' "$SUITE" "$VARIANT"
        # A recipe that is no target keeps the hash it had before targets.
        [[ -z $NAME ]] || printf 'python=%s arch=%s\n' "$PYTHON" "$ARCH"
        (cd "$RECIPE_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-12
}

image_tag() { printf '%s:%s\n' "$IMAGE_REPO" "$(recipe_hash)"; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# --- package lists ---------------------------------------------------------------

# The packages of list file $1 (comments and blanks dropped) as the suite has
# them: renamed or dropped per overrides.txt (`SUITE PACKAGE REPLACEMENT`,
# REPLACEMENT '-' for none), one per line. A drop is said on stderr.
suite_packages() {
    local file=$1
    [[ -f $file ]] || return 0
    sed -e 's/#.*//' "$file" | tr -s ' \t\r\n' '\n' | sed '/^$/d' |
        awk -v suite="$SUITE" -v ov="$RECIPE_DIR/overrides.txt" -v f="${file##*/}" '
            BEGIN {
                while ((getline line < ov) > 0) {
                    sub(/#.*/, "", line)
                    if (split(line, a, " ") == 3 && a[1] == suite) repl[a[2]] = a[3]
                }
            }
            {
                if ($0 in repl) {
                    if (repl[$0] == "-") {
                        printf "image: note: %s: %s is not in %s, left out (overrides.txt)\n", f, $0, suite > "/dev/stderr"
                        next
                    }
                    print repl[$0]
                } else print
            }'
}

# debootstrap --include: packages.txt for the suite, plus the target's
# CPython when it is not the suite's python3 (python3.X, -dev, -venv; the
# suite's own stays: Debian's tools run it).
include_list() {
    {
        suite_packages "$RECIPE_DIR/packages.txt"
        if [[ -n $PYTHON ]]; then
            printf 'python%s\npython%s-dev\npython%s-venv\n' "$PYTHON" "$PYTHON" "$PYTHON"
        fi
    } | awk '!seen[$0]++' | paste -sd, -
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
    # Another suite than this machine's: the same archive serves it (the
    # mirror of this machine's own suite, e.g. bookworm's for trixie).
    local own
    own=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    if [[ -n $own && $SUITE != "$own" && $SUITE != "$own"-* ]]; then
        debian_mirror "$own${SUITE#"${SUITE%%-*}"}" "$override"
        return
    fi
    die "no Debian mirror for '$SUITE' found in /etc/apt/sources.list{,.d/} (set $override)"
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    msg "installing debootstrap with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap still missing after apt-get install"
}

# Unmount what is mounted at or below a rootfs of ours, deepest first, saying
# what was: an interrupted debootstrap leaves its /proc, /sys (...) there, and a
# package's maintainer script run in the chroot may mount /proc and leave it
# (seen once building trixie's full image), which would end up in the import
# and make remove_rootfs refuse.
unmount_below() {
    local dir=$1 m
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do
            msg "unmounting $m, left mounted in the rootfs"
            umount -l "$m" || true
        done
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
        # @PYTHON@: the target's CPython (libpython@PYTHON@-dev has its Python.h).
        sed -e 's/#.*//' -e "s/@PYTHON@/${PYTHON:-3}/g" "$RECIPE_DIR/contents-prefer.txt" |
            tr -s ' \t\r' '\n' | sed -e '/^$/d' -e 's/^/#prefer /'
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

# The packages of packages-security-$SUITE.txt, upgraded in the rootfs $1 from
# $SUITE-security (debootstrap reads $SUITE alone): Debian updates rustc-web
# there for newer toolchains; what the old versions pulled in (their libstd,
# their LLVM) is purged. The source list is removed afterwards; setup.sh drops
# apt's lists.
install_security_updates() {
    local rootfs=$1 mirror list pkgs log
    mirror=$(debian_mirror "$SUITE-security" KILN_DEBIAN_SECURITY_MIRROR)
    pkgs=$(suite_packages "$RECIPE_DIR/packages-security-$SUITE.txt" | tr '\n' ' ')
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
        KEEP="$(include_list | tr , ' ')" chroot "$rootfs" sh -euc '
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


# Makes the target's CPython the image's `python3` (rootfs $1): when the
# suite's /usr/bin/python3 is another version, /usr/local/bin/python3 and
# python3-config (first on PATH) run python$PYTHON; /usr/bin/python3 stays the
# suite's, for Debian's own scripts. Then checks python3, its headers, venv
# and pip. A recipe that is no target is left alone.
select_python() {
    local rootfs=$1
    [[ -n $PYTHON ]] || return 0
    # shellcheck disable=SC2016  # the script is for the chroot
    env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 HOME=/root chroot "$rootfs" /bin/sh -euc '
        want=$1
        have=$(/usr/bin/python3 -c "import sys; print(\"%d.%d\" % sys.version_info[:2])")
        if [ "$have" != "$want" ]; then
            [ -x /usr/bin/python$want ] || { echo "image: error: no /usr/bin/python$want" >&2; exit 1; }
            ln -sf /usr/bin/python$want /usr/local/bin/python3
            ln -sf /usr/bin/python$want-config /usr/local/bin/python3-config
            echo "image: python3 is CPython $want (/usr/local/bin/python3; the suite'"'"'s is $have)"
        fi
        got=$(python3 -c "import sys; print(\"%d.%d\" % sys.version_info[:2])")
        [ "$got" = "$want" ] || { echo "image: error: python3 is $got, the target wants $want" >&2; exit 1; }
        inc=$(python3 -c "import sysconfig; print(sysconfig.get_paths()[\"include\"])")
        [ -f "$inc/Python.h" ] || { echo "image: error: no $inc/Python.h" >&2; exit 1; }
        python3 -c "import venv, ensurepip" ||
            { echo "image: error: python3 has no venv/ensurepip (python$want-venv)" >&2; exit 1; }
        python3 -m pip --version ||
            { echo "image: error: python3 -m pip does not run" >&2; exit 1; }' sh "$PYTHON" ||
        die "CPython $PYTHON is not usable as python3 in $rootfs"
}

# Lets apt in rootfs $1 read Release files past their Valid-Until when the
# mirror's for suite $2 (URL $3) is past it: a testing suite's (forky's) is
# valid a week and renewed daily upstream, so an expired one means a frozen
# mirror or snapshot, where apt-get update would refuse the suite. Said in the
# build's output; the setting stays in the image (/etc/apt/apt.conf.d/), for
# the derived images' apt-get update (docs/builds.md).
allow_expired_release() {
    local rootfs=$1 suite=$2 mirror=$3 until
    until=$(curl -sSfL --retry 3 --max-time 30 "${mirror%/}/dists/$suite/InRelease" |
        sed -n 's/^Valid-Until: //p' | head -n 1) || return 0
    [[ -n $until ]] || return 0
    (($(date -d "$until" +%s) < $(date +%s))) || return 0
    msg "note: $suite's Release file at $mirror expired on $until (a frozen mirror?): apt in the image does not check Valid-Until (/etc/apt/apt.conf.d/99kiln-valid-until)"
    printf '// scripts/image.sh: %s'"'"'s Release file at %s was past its Valid-Until (%s) when this image was built.\nAcquire::Check-Valid-Until "false";\n' \
        "$suite" "$mirror" "$until" >"$rootfs/etc/apt/apt.conf.d/99kiln-valid-until"
}

cmd_name() {
    image_tag
}

cmd_list() {
    local name suite python arch glibc recipe
    target_lines | while read -r name suite python arch glibc recipe; do
        select_target "$name"
        printf '%s %s %s %s %s %s %s\n' "$name" "$suite" "$python" "$arch" "$glibc" "$recipe" "$(image_tag)"
    done
}

# Tags $1 as the repository's latest, and the default target's also under the
# name of before targets.
tag_aliases() {
    docker tag "$1" "$IMAGE_REPO:latest"
    if is_default_target; then
        docker tag "$1" "$LEGACY_REPO:latest"
    fi
}

# import_rootfs ROOTFS TAG DOCKER-IMPORT-OPTIONS...: tar | docker import.
# /dev, /proc and /sys are provided by the container runtime.
import_rootfs() {
    local rootfs=$1 tag=$2
    shift 2
    tar -C "$rootfs" --numeric-owner --one-file-system \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . |
        docker import "$@" \
            --change "WORKDIR /work" \
            --change 'CMD ["/bin/bash"]' \
            --message "kiln builder base image, recipe ${tag##*:}" \
            - "$tag" >/dev/null
}

cmd_build() {
    need_docker
    local tag hash
    hash=$(recipe_hash)
    tag="$IMAGE_REPO:$hash"
    if image_exists "$tag"; then
        tag_aliases "$tag"
        msg "$tag already exists (recipe unchanged): nothing to build"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "building the image needs root (debootstrap, chroot)"
    # One build per recipe at a time (just up's background builds, tests/run.sh's
    # prebuild, a test): a second waits, then finds the image built.
    mkdir -p "$DATA_DIR/image"
    exec 9>"$DATA_DIR/image/build-$hash.lock"
    if ! flock -n 9; then
        msg "another build of $tag is running: waiting for it"
        flock 9
        if image_exists "$tag"; then
            tag_aliases "$tag"
            msg "$tag was built meanwhile: nothing to build"
            return 0
        fi
    fi
    ensure_debootstrap

    local mirror packages workdir rootfs log t0 t1 t2 t3 script debarch
    local -a foreign=()
    mirror=$(debian_mirror)
    packages=$(include_list)
    debarch=$(deb_arch "$ARCH")
    workdir=$DATA_DIR/image
    rootfs=$workdir/rootfs-$hash
    log=$workdir/debootstrap-$hash.log
    mkdir -p "$workdir"
    if [[ -e $rootfs ]]; then
        msg "removing leftover $rootfs from an earlier, unfinished build"
        unmount_below "$rootfs"
        remove_rootfs "$rootfs"
    fi
    if [[ $ARCH != "$(uname -m)" ]]; then
        # debootstrap's second stage and setup.sh run the target's programs.
        "$SCRIPT_DIR/emulation.sh" enable "$ARCH" >/dev/null ||
            die "cannot emulate $ARCH here (scripts/emulation.sh enable $ARCH)"
        msg "$ARCH is emulated on this $(uname -m) machine: $("$SCRIPT_DIR/emulation.sh" status "$ARCH")"
    fi
    # A suite newer than this debootstrap (forky on bookworm's) uses sid's script.
    script=/usr/share/debootstrap/scripts/$SUITE
    [[ -e $script ]] || script=/usr/share/debootstrap/scripts/sid

    msg "building $tag${NAME:+ (target $NAME: $SUITE, CPython $PYTHON, $ARCH, glibc $GLIBC)}"
    msg "debootstrap --variant=$VARIANT --arch=$debarch $SUITE from $mirror (log: $log)"
    msg "packages: $packages"
    t0=$SECONDS
    if ! debootstrap --variant="$VARIANT" --arch="$debarch" --components=main --include="$packages" \
            "$SUITE" "$rootfs" "$mirror" "$script" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 25 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (full log: $log; the partial rootfs stays in $rootfs)"
    fi
    t1=$SECONDS
    msg "debootstrap done in $((t1 - t0))s ($(du -sh --one-file-system "$rootfs" | cut -f1))"

    allow_expired_release "$rootfs" "$SUITE" "$mirror"
    if [[ -f $RECIPE_DIR/packages-security-$SUITE.txt ]]; then
        allow_expired_release "$rootfs" "$SUITE-security" "$(debian_mirror "$SUITE-security" KILN_DEBIAN_SECURITY_MIRROR)"
        install_security_updates "$rootfs"
    fi

    msg "running $RECIPE_DIR/setup.sh in the rootfs (chroot)"
    rm -rf "$rootfs/tmp/kiln-recipe"
    cp -a "$RECIPE_DIR" "$rootfs/tmp/kiln-recipe"
    # setup.sh reads the -dev list as the suite has it.
    if [[ -f $RECIPE_DIR/dev-packages.txt ]]; then
        suite_packages "$RECIPE_DIR/dev-packages.txt" >"$rootfs/tmp/kiln-recipe/dev-packages.txt"
    fi
    if [[ -f $RECIPE_DIR/tools.txt ]]; then
        # The image's Python tools (auditwheel, ...), pinned by hash, as wheels:
        # fetched here on the host with its pip, installed offline by setup.sh.
        # They are pure Python (py3-none-any), so the host's 3.11 picks the
        # same files as any suite's python3 would.
        msg "downloading the tools of $RECIPE_DIR/tools.txt"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
            --python-version 3.11 --dest "$rootfs/tmp/kiln-recipe/tools" \
            -r "$RECIPE_DIR/tools.txt" || die "could not download the tools of tools.txt"
    fi
    env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive \
        KILN_SUITE="$SUITE" KILN_PYTHON="$PYTHON" \
        chroot "$rootfs" /bin/bash /tmp/kiln-recipe/setup.sh ||
        die "setup.sh failed in $rootfs"
    unmount_below "$rootfs"
    rm -rf "$rootfs/tmp/kiln-recipe"
    select_python "$rootfs"
    if [[ -f $RECIPE_DIR/contents-prefer.txt ]]; then
        install_contents "$mirror" "$rootfs"
    fi
    {
        printf 'tag=%s\nrecipe=%s\nsuite=%s\nvariant=%s\n' "$tag" "$hash" "$SUITE" "$VARIANT"
        [[ -z $NAME ]] || printf 'target=%s\narch=%s\npython=%s\nglibc=%s\n' "$NAME" "$ARCH" "$PYTHON" "$GLIBC"
    } >"$rootfs/etc/kiln-image"
    t2=$SECONDS
    msg "rootfs ready: $(du -sh --one-file-system "$rootfs" | cut -f1)"

    local line
    local -a changes=() labels=(--change "LABEL org.kiln.recipe=$hash")
    while IFS= read -r line; do
        [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*$ ]] ||
            die "bad line in $RECIPE_DIR/env.txt: '$line' (want NAME=VALUE without spaces)"
        changes+=(--change "ENV $line")
    done < <(image_env)
    if [[ -n $NAME ]]; then
        labels+=(--change "LABEL org.kiln.target=$NAME" --change "LABEL org.kiln.arch=$ARCH"
            --change "LABEL org.kiln.python=$PYTHON" --change "LABEL org.kiln.suite=$SUITE"
            --change "LABEL org.kiln.glibc=$GLIBC")
    fi

    msg "docker import $tag"
    # The platform is recorded where the engine accepts it (some record the
    # host's whatever is asked): org.kiln.arch is what Kiln reads.
    import_rootfs "$rootfs" "$tag" --platform "linux/$debarch" "${changes[@]}" "${labels[@]}" ||
        {
            msg "docker import --platform linux/$debarch refused: importing without it"
            import_rootfs "$rootfs" "$tag" "${changes[@]}" "${labels[@]}"
        } || die "docker import failed"
    tag_aliases "$tag"
    t3=$SECONDS
    remove_rootfs "$rootfs"
    msg "built $tag (also $IMAGE_REPO:latest$(is_default_target && echo ", $LEGACY_REPO:latest")), $(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'), recorded platform $(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$tag")"
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
    local tag tmp src out whl py abi
    tag=$(image_tag)
    image_exists "$tag" || die "$tag does not exist: run scripts/image.sh build${NAME:+ $NAME} first"
    py=${PYTHON:-3.11}
    abi=cp${py/./}
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
    if [[ $ARCH != "$(uname -m)" ]]; then
        "$SCRIPT_DIR/emulation.sh" status "$ARCH" >/dev/null ||
            die "$ARCH is not emulated here: scripts/emulation.sh enable $ARCH"
    fi
    local -a uname_cmd=("${run[@]}" "$tag" uname -m)
    [[ $("${uname_cmd[@]}") == "$ARCH" ]] || die "$tag does not run as $ARCH: $("${uname_cmd[@]}")"
    local -a build_cmd=("${run[@]}" -v "$src:/src:ro" -v "$out:/out" "$tag"
        python3 -m pip wheel /src -w /out)
    msg "building the kdemo sdist offline, as uid 1000:"
    show_cmd "${build_cmd[@]}"
    "${build_cmd[@]}" || die "pip wheel failed in $tag"
    whl=$(compgen -G "$out/kdemo-*-$abi-$abi-linux_$ARCH.whl" | head -n 1) ||
        die "no kdemo-*-$abi-$abi-linux_$ARCH.whl in the output: $(ls "$out")"
    msg "got $(basename "$whl")"

    local -a test_cmd=("${run[@]}" -v "$out:/out:ro" "$tag" sh -c
        'python3 -m pip install --no-index --target /tmp/t /out/kdemo-*.whl && PYTHONPATH=/tmp/t python3 -c "import kdemo; assert kdemo.add(2, 3) == 5; print(\"kdemo.add(2, 3) =\", kdemo.add(2, 3))"')
    msg "installing and importing the wheel, offline, as uid 1000:"
    show_cmd "${test_cmd[@]}"
    "${test_cmd[@]}" || die "installing/importing the kdemo wheel failed in $tag"
    if [[ -f $RECIPE_DIR/tools.txt ]]; then
        local -a repair_cmd=("${run[@]}" -v "$out:/out:ro" "$tag" sh -c
            '/opt/kiln/tools/bin/auditwheel repair -w /tmp/r /out/kdemo-*.whl >/dev/null && ls /tmp/r')
        msg "repairing the wheel with the image's auditwheel:"
        show_cmd "${repair_cmd[@]}"
        local repaired
        repaired=$("${repair_cmd[@]}") || die "auditwheel repair failed in $tag"
        grep -q 'manylinux' <<<"$repaired" || die "auditwheel repair gave no manylinux wheel in $tag: $repaired"
        msg "repaired: $repaired"
    fi

    # The Rust toolchain, where the recipe has one: a crate without
    # dependencies builds offline, as uid 1000, with a read-only root (crates
    # of real projects come vendored, docs/builds.md).
    if "${run[@]}" "$tag" sh -c 'command -v cargo' >/dev/null; then
        local -a rust_cmd=("${run[@]}" --read-only --tmpfs /tmp:exec -e HOME=/tmp -e CARGO_HOME=/tmp/cargo
            -e CARGO_NET_OFFLINE=true "$tag" sh -c
            'cd /tmp && cargo new -q --vcs none --bin krust && cd krust && cargo build -q --release && ./target/release/krust')
        msg "building a Rust crate offline, as uid 1000:"
        show_cmd "${rust_cmd[@]}"
        "${rust_cmd[@]}" | grep -qx 'Hello, world!' || die "building a Rust crate failed in $tag"
    else
        msg "no cargo in $tag (a recipe without Rust): Rust check skipped"
    fi
    echo "image check: ok"
}

case ${1:-} in
    build | check | name)
        [[ $# -le 2 ]] || usage
        select_target "${2:-}"
        "cmd_$1"
        ;;
    list)
        [[ $# -eq 1 ]] || usage
        cmd_list
        ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) usage ;;
esac
