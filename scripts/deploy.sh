#!/usr/bin/env bash
# The container images of docker-compose.yml, built from this checkout.
#
# usage: scripts/deploy.sh images
#   1. builds Kiln's release binaries (build/release), as `just build` does;
#   2. builds kiln/runtime, the Debian base image every service image starts
#      FROM (recipe deploy/runtime/, debootstrap + docker import like the builder
#      image: no image is pulled), unless one for the recipe exists;
#   3. builds the builder image kiln/bookworm-py311 (scripts/image.sh build), which
#      the compose builders start their builds in;
#   4. stages the binaries and SeaweedFS's weed binary in build/deploy/;
#   5. docker-compose build (kiln/{backend,sync,builder,postgres,seaweedfs,lb}:local).
# Each step is skipped or cached when nothing changed. Then: docker-compose up -d
# (docs/deploy.md). Needs root for debootstrap (steps 2 and 3, first time only).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
STAGE=$REPO_ROOT/build/deploy

USAGE="usage: $0 images"
msg() { printf 'deploy: %s\n' "$*"; }
die() { printf 'deploy: error: %s\n' "$*" >&2; exit 1; }

# cp, but only when the bytes differ, so Docker's build cache keeps the layer.
stage() {
    local src=$1 dst=$2
    [[ -x $src ]] || die "$src is missing"
    if ! cmp -s "$src" "$dst" 2>/dev/null; then
        cp -f "$src" "$dst.tmp"
        mv -f "$dst.tmp" "$dst"
    fi
}

cmd_images() {
    command -v docker-compose >/dev/null 2>&1 || die "docker-compose is not installed (Debian: apt-get install docker-compose)"
    cd "$REPO_ROOT"
    msg "building Kiln (build/release)"
    scripts/deps.sh build
    [[ -f build/release/build.ninja ]] ||
        meson setup build/release -Doptimization=2 -Ddebug=false -Db_ndebug=true >/dev/null
    ninja -C build/release >/dev/null

    msg "runtime base image (deploy/runtime)"
    KILN_IMAGE_RECIPE=$REPO_ROOT/deploy/runtime KILN_IMAGE_REPO=kiln/runtime scripts/image.sh build
    msg "builder image"
    scripts/image.sh build

    mkdir -p "$STAGE/bin"
    local b
    for b in backend/kiln-backend registry-sync/kiln-sync builder/kiln-builder kilnctl/kilnctl; do
        stage "build/release/$b" "$STAGE/bin/${b##*/}"
    done
    stage "$(scripts/s3.sh weed)" "$STAGE/weed"

    msg "docker-compose build"
    docker-compose -f "$REPO_ROOT/docker-compose.yml" build -q
    msg "images ready: docker-compose up -d (docs/deploy.md)"
}

[[ $# -eq 1 ]] || { echo "$USAGE" >&2; exit 2; }
case $1 in
    images) cmd_images ;;
    -h | --help) echo "$USAGE" ;;
    *) echo "$USAGE" >&2; exit 2 ;;
esac
