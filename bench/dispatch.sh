#!/usr/bin/env bash
# bench/dispatch.sh [ARGS for dispatch.py]: the dispatch benchmark on a scratch
# database of the private cluster (dropped afterwards). See bench/dispatch.py.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
just build >/dev/null
scripts/deps.sh test >/dev/null
scripts/db.sh start >/dev/null
base=$(scripts/db.sh url)
db=kiln_bench_dispatch
url=${base%/*}/$db
psql "$base" -qc "drop database if exists $db with (force)" -c "create database $db" >/dev/null
trap 'psql "$base" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true' EXIT
ulimit -n "$(ulimit -Hn)"
# The simulated builders on core 1, the backend on core 0 (dispatch.py pins it).
taskset -c 1 .kiln/venv/bin/python bench/dispatch.py --db "$url" "$@"
