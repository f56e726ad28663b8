#!/usr/bin/env bash
# bench/index.sh: how fast does kiln-backend serve a cached /simple/{project}/
# page, against nginx serving the same bytes as a static file?
#
#   bench/index.sh [SECONDS] [CONNECTIONS] [ROUNDS]   (defaults: 30 s, 64, 1 round)
#
# All servers get one worker (one kiln-backend process with its one service
# thread; nginx worker_processes 1), pinned to core 0, on loopback; wrk runs
# with one thread on core 1. Two backends run: the default one (its index fast
# path on) and one with KILN_HTTP_FASTPATH=0 (every request through
# libwebsockets). Each round measures the three back to back, so drift on a
# shared machine hits all alike; the ratios are per round. Besides req/s it
# prints each server's CPU time per request (user + system, from /proc), which
# depends less on the machine's other load than req/s does. Uses the private
# Postgres cluster (scripts/db.sh) and a scratch database it drops afterwards.
#
# Every server runs in a session of its own (nginx daemonizes; the backends are
# started with setsid): with the kernel's autogroup scheduling, a server left in
# this script's session would share one CPU weight with wrk on the other core
# and get about half of nginx's share of core 0 whenever something else wants it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-30}
conns=${2:-64}
rounds=${3:-1}
port_kiln=18180
port_nginx=18181
port_lws=18182
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
db=kiln_bench_index

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

just build >/dev/null
scripts/db.sh start >/dev/null
base=$(scripts/db.sh url)
url=${base%/*}/$db

cleanup() {
  [ -n "${kiln_pid:-}" ] && kill "$kiln_pid" 2>/dev/null || true
  [ -n "${lws_pid:-}" ] && kill "$lws_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  psql "$base" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$base" -qc "drop database if exists $db with (force)" -c "create database $db" >/dev/null
build/release/kilnctl/kilnctl --database-url "$url" migrate >/dev/null
# A project page of typical size: 12 releases x 2 wheels (about 5 KB of HTML).
psql "$url" -q <<'SQL'
insert into projects (name, normalized) values ('benchpkg', 'benchpkg');
insert into releases (project_id, version, version_normalized)
  select 1, '1.' || g, '1.' || g from generate_series(0, 11) g;
insert into artifacts (project_id, release_id, filename, sha256, size, python_tags, abi_tags,
                       platform_tags, requires_python, metadata, metadata_sha256, storage_key,
                       published_at)
  select 1, r.id, 'benchpkg-' || r.version || '-' || t || '.whl', encode(sha256(r.version::bytea || t::bytea), 'hex'),
         100000, '{cp311}', '{cp311}', '{linux_x86_64}', '>=3.8', 'Metadata-Version: 2.1',
         encode(sha256(r.version::bytea), 'hex'), 'wheels/' || r.id || t, now()
  from releases r, unnest(array['cp311-cp311-linux_x86_64', 'cp312-cp312-linux_x86_64']) t;
SQL

KILN_DATABASE_URL=$url KILN_STORAGE=fs KILN_STORAGE_DIR=$work/artifacts KILN_LOG=warn \
  setsid taskset -c 0 build/release/backend/kiln-backend --listen 127.0.0.1:$port_kiln 2>"$work/kiln.log" &
kiln_pid=$!
KILN_DATABASE_URL=$url KILN_STORAGE=fs KILN_STORAGE_DIR=$work/artifacts KILN_LOG=warn KILN_HTTP_FASTPATH=0 \
  setsid taskset -c 0 build/release/backend/kiln-backend --listen 127.0.0.1:$port_lws 2>"$work/lws.log" &
lws_pid=$!
for port in $port_kiln $port_lws; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
page=/simple/benchpkg/
accept='Accept: text/html'
mkdir -p "$work/www/simple/benchpkg"
curl -sf -H "$accept" "http://127.0.0.1:$port_kiln$page" >"$work/www/simple/benchpkg/index.html"
bytes=$(wc -c <"$work/www/simple/benchpkg/index.html")

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
daemon on;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type text/html;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port_nginx;
    root $work/www;
    index index.html;
  }
}
NGINX
taskset -c 0 "$nginx_bin" -c "$work/nginx.conf" -e "$work/nginx.err"
sleep 0.3

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nginx_pid=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
run() { # url pid -> "req/s cpu-us-per-request"
  local t0 t1 out
  t0=$(cpu_ticks "$2")
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" -H "$accept" "$1" 2>/dev/null)
  t1=$(cpu_ticks "$2")
  echo "$out" | awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1} /Requests\/sec/ {r = $2}
    END {printf "%s %.2f\n", r, n ? t * 1e6 / hz / n : 0}'
}
# Warm all three, then alternate so drift hits all alike.
saved=$secs; secs=2
run "http://127.0.0.1:$port_kiln$page" "$kiln_pid" >/dev/null
run "http://127.0.0.1:$port_lws$page" "$lws_pid" >/dev/null
run "http://127.0.0.1:$port_nginx$page" "$nginx_pid" >/dev/null
secs=$saved
echo "page: $page ($bytes bytes), $conns connections, ${secs}s per run, 1 worker each, $rounds round(s)"
printf '%-6s %-28s %-28s %-28s %s\n' round "kiln-backend (fast path)" "kiln-backend (lws only)" nginx "ratios to nginx"
for r in $(seq "$rounds"); do
  read -r k kc < <(run "http://127.0.0.1:$port_kiln$page" "$kiln_pid")
  read -r l lc < <(run "http://127.0.0.1:$port_lws$page" "$lws_pid")
  read -r n nc < <(run "http://127.0.0.1:$port_nginx$page" "$nginx_pid")
  printf '%-6s %-28s %-28s %-28s %s\n' "$r" "$k req/s, $kc us/req" "$l req/s, $lc us/req" \
    "$n req/s, $nc us/req" "$(awk -v k="$k" -v l="$l" -v n="$n" 'BEGIN {printf "%.2fx, %.2fx", k / n, l / n}')"
done
