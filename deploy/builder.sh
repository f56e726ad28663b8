#!/bin/bash
# kiln-builder-start: runs kiln-builder in the compose farm. Without
# KILN_BUILDER_TOKEN, the token comes from TOKENS_DIR/KILN_BUILDER_NAME, where the
# `setup` service put it. On a spare machine, set KILN_BUILDER_TOKEN instead.
set -euo pipefail

if [[ -z ${KILN_BUILDER_TOKEN:-} ]]; then
    name=${KILN_BUILDER_NAME:?KILN_BUILDER_NAME or KILN_BUILDER_TOKEN must be set}
    file=${TOKENS_DIR:-/var/lib/kiln/tokens}/$name
    [[ -s $file ]] || { echo "kiln-builder-start: error: no token in $file (did the setup service run?)" >&2; exit 1; }
    KILN_BUILDER_TOKEN=$(<"$file")
    export KILN_BUILDER_TOKEN
fi
exec kiln-builder "$@"
