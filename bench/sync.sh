#!/usr/bin/env bash
# bench/sync.sh [ARGS for sync.py]: the registry-sync benchmark on a scratch
# database of the private cluster (dropped afterwards). See bench/sync.py.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
just build >/dev/null
scripts/deps.sh test >/dev/null
scripts/db.sh start >/dev/null
base=$(scripts/db.sh url)
db=kiln_bench_sync
url=${base%/*}/$db
psql "$base" -qc "drop database if exists $db with (force)" -c "create database $db" >/dev/null
trap 'psql "$base" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true' EXIT
build/release/kilnctl/kilnctl --database-url "$url" migrate >/dev/null
.kiln/venv/bin/python bench/sync.py --db "$url" "$@"
