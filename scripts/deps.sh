#!/usr/bin/env bash
# Install what building and testing Kiln needs, and nothing twice.
#
#   scripts/deps.sh build   C toolchain and the -dev libraries (Debian packages)
#   scripts/deps.sh test    the above, plus the test tools: cmocka, Postgres,
#                           debootstrap, and a Python venv under .kiln/venv
#                           with the packages in tests/requirements.txt
#
# Debian packages are installed with apt-get when missing (root, or sudo if it
# is there); `apt-get update` runs only when an install needs it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${KILN_DATA_DIR:-$root/.kiln}
what=${1:-build}

build_pkgs=(build-essential meson ninja-build pkg-config python3
  libwebsockets-dev libpq-dev libcurl4-openssl-dev libssl-dev libcjson-dev
  libgit2-dev libarchive-dev libxml2-dev libyajl-dev curl ca-certificates)
test_pkgs=(libcmocka-dev postgresql debootstrap valgrind
  chromium fonts-dejavu-core)
# A builder host vendors the crates of Rust projects with its own cargo
# (builder/crates.h, docs/builds.md); Debian's is cargo-web.
test_pkgs+=(cargo-web)

case "$what" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: scripts/deps.sh build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "deps: missing Debian packages: ${missing[*]}; install them as root" >&2; exit 1
    fi
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ "$what" = test ]; then
  venv=$data/venv
  req=$root/tests/requirements.txt
  stamp=$venv/.requirements.sha256
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "deps: preparing the test venv in $venv"
    mkdir -p "$data"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$req"
    echo "$sum" >"$stamp"
  fi
fi
