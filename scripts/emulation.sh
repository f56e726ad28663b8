#!/usr/bin/env bash
# Running another architecture's programs on this machine, by emulation
# (QEMU user mode behind the kernel's binfmt_misc): what builds an aarch64
# image on an x86_64 host (scripts/image.sh) and what a builder with
# KILN_BUILDER_EMULATE=aarch64 needs to run that image's containers.
#
# usage: scripts/emulation.sh {enable|status} [ARCH]
#   enable  install qemu-user-static and binfmt-support with apt (Debian's),
#           mount binfmt_misc at /proc/sys/fs/binfmt_misc if it is not, and
#           register the QEMU handler of ARCH (update-binfmts --enable).
#           Needs root. A no-op when the handler is registered already.
#   status  one line: whether ARCH's handler is registered and enabled
#           (exit 0) or not (exit 1)
# ARCH: the uname -m form, aarch64 (the default) or x86_64. The handler is
# registered with the F (fix binary) flag by Debian's qemu-user-static, so
# containers run it without the interpreter inside their root filesystem.
set -euo pipefail

BINFMT=/proc/sys/fs/binfmt_misc

msg() { printf 'emulation: %s\n' "$*"; }
die() { printf 'emulation: error: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 {enable|status} [aarch64|x86_64]" >&2; exit 2; }

# The binfmt_misc entry name of ARCH's QEMU handler.
handler() {
    case $1 in
        aarch64 | arm64) echo qemu-aarch64 ;;
        x86_64 | amd64) echo qemu-x86_64 ;;
        *) die "unknown architecture '$1' (want aarch64 or x86_64)" ;;
    esac
}

registered() {
    local f=$BINFMT/$1
    [[ -r $f ]] && head -n 1 "$f" | grep -qx enabled
}

cmd_status() {
    local arch=$1 h
    h=$(handler "$arch")
    if [[ $(uname -m) == "$arch" ]]; then
        echo "$arch: native (no emulation needed)"
        return 0
    fi
    if registered "$h"; then
        echo "$arch: emulated ($BINFMT/$h: $(sed -n 's/^interpreter //p' "$BINFMT/$h"), flags $(sed -n 's/^flags: //p' "$BINFMT/$h"))"
        return 0
    fi
    if [[ ! -e $BINFMT/register ]]; then
        echo "$arch: not available (binfmt_misc is not mounted; run scripts/emulation.sh enable $arch)"
    else
        echo "$arch: not available (no $h handler; run scripts/emulation.sh enable $arch)"
    fi
    return 1
}

cmd_enable() {
    local arch=$1 h
    h=$(handler "$arch")
    [[ $(uname -m) != "$arch" ]] || { msg "$arch is this machine's own architecture"; return 0; }
    if registered "$h"; then
        cmd_status "$arch"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "enabling emulation needs root (apt-get, mount, update-binfmts)"
    if ! command -v update-binfmts >/dev/null 2>&1 || [[ ! -x /usr/bin/$h-static && ! -x /usr/bin/$h ]]; then
        msg "installing qemu-user-static and binfmt-support with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            qemu-user-static binfmt-support >/dev/null
    fi
    if [[ ! -e $BINFMT/register ]]; then
        msg "mounting binfmt_misc at $BINFMT"
        mount -t binfmt_misc binfmt_misc "$BINFMT" ||
            die "could not mount binfmt_misc (a container without the privilege to do so?)"
    fi
    # binfmt-support imports the formats qemu-user-static installed; enabling
    # writes the handler into the kernel's table.
    update-binfmts --import "$h" >/dev/null 2>&1 || true
    update-binfmts --enable "$h" || die "update-binfmts --enable $h failed"
    registered "$h" || die "$h is still not registered in $BINFMT"
    cmd_status "$arch"
}

[[ $# -ge 1 && $# -le 2 ]] || usage
case $1 in
    enable) cmd_enable "${2:-aarch64}" ;;
    status) cmd_status "${2:-aarch64}" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) usage ;;
esac
