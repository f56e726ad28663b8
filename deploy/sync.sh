#!/bin/bash
# kiln-sync-start: runs the kiln-sync daemon in the compose farm. Without an
# upstream index (KILN_UPSTREAM_URL) it says so and idles instead of restarting
# in a loop: the rest of the farm (index, builds pushed with kilnctl) works.
set -euo pipefail

if [[ -z ${KILN_UPSTREAM_URL:-} ]]; then
    echo "kiln-sync-start: KILN_UPSTREAM_URL is not set: nothing to mirror (set it to the upstream's" \
        "simple API root and run docker-compose up -d again)" >&2
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $!; done
fi
exec kiln-sync "$@"
