#!/usr/bin/env python3
"""bench/dispatch: how fast does the backend hand jobs to builders?

Starts kiln-backend (release build) on a scratch database, registers N
simulated builders that speak docs/protocol.md over WebSocket,
and measures:
  - latency: jobs are queued one at a time (each its own commit); for each, the
    time from commit to the job message arriving at a builder (p50, p99);
  - throughput: M jobs queued in one transaction; dispatches per second until
    every one reached a builder (builders have enough slots for all of them);
  - idle memory: RSS of the backend with K authenticated idle builders.

usage: bench/dispatch.py [--builders 1000] [--latency-jobs 500] [--burst 5000] [--idle 10000]
                        [--backend PATH]
Run through bench/dispatch.sh, which installs what it needs.
"""
import argparse
import asyncio
import hashlib
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time

import psycopg
import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = os.path.join(ROOT, "build", "release", "backend", "kiln-backend")
KILNCTL = os.path.join(ROOT, "build", "release", "kilnctl", "kilnctl")
TARGET = "bench-target"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sim:
    """Simulated builders: receive jobs, timestamp them, report failure at once."""

    def __init__(self, url, tokens, prefix, slots=1):
        self.url, self.tokens, self.prefix, self.slots = url, tokens, prefix, slots
        self.received = {}          # job id -> monotonic receive time
        self.received_wall = {}     # job id -> wall-clock receive time (to compare with the server's)
        self.event = asyncio.Event()
        self.conns = []

    async def builder(self, i, token, ready):
        async with websockets.connect(self.url, subprotocols=["kiln-builder.v1"], max_size=None,
                                      open_timeout=60, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": f"{self.prefix}-{i}",
                                      "targets": [TARGET], "slots": self.slots}))
            msg = json.loads(await ws.recv())
            assert msg["type"] == "welcome", msg
            ready.release()
            async for raw in ws:
                m = json.loads(raw)
                if m["type"] == "job":
                    self.received[m["job"]] = time.monotonic()
                    self.received_wall[m["job"]] = time.time()
                    self.event.set()


async def connect_all(sim, tokens):
    ready = asyncio.Semaphore(0)
    tasks = []
    for i, t in enumerate(tokens):
        tasks.append(asyncio.create_task(sim.builder(i, t, ready)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    for _ in tokens:
        await asyncio.wait_for(ready.acquire(), 120)
    return tasks


async def latency(sim, db, n):
    lat = []
    committed = {}  # job id -> wall-clock time the enqueue's commit returned
    with psycopg.connect(db, autocommit=True) as c:
        rel = [r[0] for r in c.execute("select id from releases order by id limit %s", (n,))]
        for r in rel:
            job = c.execute("insert into jobs (release_id, target_id) select %s, id from targets returning id",
                            (r,)).fetchone()[0]
            t0 = time.monotonic()  # committed: the job is enqueued
            committed[job] = time.time()
            while job not in sim.received:
                sim.event.clear()
                try:
                    await asyncio.wait_for(sim.event.wait(), 10)
                except asyncio.TimeoutError:
                    raise SystemExit(f"job {job} was never dispatched")
            lat.append((sim.received[job] - t0) * 1000)
            await asyncio.sleep(0.002)
    return lat, committed


async def burst(sim, db, n):
    with psycopg.connect(db, autocommit=True) as c:
        rel = [r[0] for r in c.execute("select id from releases order by id desc limit %s", (n,))]
        ids = [r[0] for r in c.execute(
            "insert into jobs (release_id, target_id) select r, t.id from unnest(%s::bigint[]) r, targets t "
            "returning id", (rel,))]
        t0 = time.monotonic()
    pending = set(ids)
    while pending:
        pending -= sim.received.keys()
        if not pending:
            break
        sim.event.clear()
        try:
            await asyncio.wait_for(sim.event.wait(), 30)
        except asyncio.TimeoutError:
            raise SystemExit(f"{len(pending)} burst jobs never dispatched")
    t1 = max(sim.received[j] for j in ids)
    return n / (t1 - t0), t1 - t0


def make_builders(db, n, prefix):
    tokens = []
    rows = []
    for i in range(n):
        tok = "kiln_" + secrets.token_urlsafe(32)[:43]
        tok = tok + "A" * (48 - len(tok))
        tokens.append(tok)
        rows.append((f"{prefix}-{i}", hashlib.sha256(tok.encode()).hexdigest()))
    with psycopg.connect(db, autocommit=True) as c:
        with c.cursor().copy("copy builders (name, token_hash) from stdin") as cp:
            for r in rows:
                cp.write_row(r)
    return tokens


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builders", type=int, default=1000)
    ap.add_argument("--latency-jobs", type=int, default=500)
    ap.add_argument("--burst", type=int, default=5000)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--db", required=True)
    ap.add_argument("--port", type=int, default=18190)
    ap.add_argument("--backend", default=BACKEND, help="kiln-backend binary (to compare builds)")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    subprocess.run([KILNCTL, "--database-url", a.db, "migrate"], check=True, capture_output=True)
    subprocess.run([KILNCTL, "--database-url", a.db, "target", "add", TARGET, "--image", "none"],
                   check=True, capture_output=True)
    with psycopg.connect(a.db, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) select 'p' || g, 'p' || g from generate_series(1, 50) g")
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select 1 + g %% 50, '1.' || g, '1.' || g from generate_series(1, %s) g",
                  (a.latency_jobs + a.burst,))
    env = {**os.environ, "KILN_DATABASE_URL": a.db, "KILN_HTTP_LISTEN": f"127.0.0.1:{a.port}",
           "KILN_STORAGE": "fs", "KILN_STORAGE_DIR": "/tmp/kiln-bench-dispatch", "KILN_LOG": os.environ.get("BENCH_LOG", "warn"),
           "KILN_FRONTEND_DIR": os.path.join(ROOT, "frontend"), "KILN_DB_POOL_SIZE": os.environ.get("BENCH_POOL", "8")}
    # A session of its own: with autogroup scheduling it would otherwise share one
    # CPU weight with this simulator (bench/index.sh says more).
    proc = subprocess.Popen(["taskset", "-c", "0", a.backend], env=env, start_new_session=True)
    try:
        for _ in range(100):
            try:
                psycopg.connect(a.db).close()
                import urllib.request
                urllib.request.urlopen(f"http://127.0.0.1:{a.port}/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        url = f"ws://127.0.0.1:{a.port}/api/v1/builders/ws"
        tokens = make_builders(a.db, a.builders, "sim")
        # Enough slots that every job finds one: this measures dispatch, not builds.
        slots = min(64, (a.latency_jobs + a.burst) // a.builders + 2)
        sim = Sim(url, tokens, "sim", slots)
        tasks = await connect_all(sim, tokens)
        print(f"builders connected: {a.builders}, backend RSS {rss_kib(proc.pid) / 1024:.1f} MiB")
        lat, committed = await latency(sim, a.db, a.latency_jobs)
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"enqueue -> job received, {len(lat)} jobs one at a time: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"max {lat[-1]:.2f} ms")
        # Where the time goes: the claim's transaction start (assigned_at, the
        # server's clock, the same machine's) splits each job's latency in two.
        with psycopg.connect(a.db) as c:
            rows = c.execute("select id, extract(epoch from assigned_at)::float8 from jobs "
                             "where id = any(%s)", (list(committed),)).fetchall()
        before = sorted((at - committed[j]) * 1000 for j, at in rows)
        after = sorted((sim.received_wall[j] - at) * 1000 for j, at in rows)
        if os.environ.get("BENCH_TRACE"):
            with open(os.environ["BENCH_TRACE"], "w") as f:
                for j, at in sorted(rows):
                    f.write(f"{j} {committed[j]:.6f} {at:.6f} {sim.received_wall[j]:.6f}\n")
        pct = lambda xs, q: xs[min(len(xs) - 1, int(len(xs) * q))]
        print(f"  commit returned -> claim statement started: p50 {pct(before, .5):.2f} ms, "
              f"p99 {pct(before, .99):.2f} ms")
        print(f"  claim statement started -> job received: p50 {pct(after, .5):.2f} ms, "
              f"p99 {pct(after, .99):.2f} ms")
        if os.environ.get("BENCH_DUMP"):
            with psycopg.connect(a.db) as c, open(os.environ["BENCH_DUMP"], "w") as f:
                for r in c.execute("select id, to_char(created_at at time zone 'UTC', 'HH24:MI:SS.MS'),"
                                   " to_char(assigned_at at time zone 'UTC', 'HH24:MI:SS.MS') from jobs order by id"
                                   " limit %s", (a.latency_jobs,)):
                    f.write(",".join(map(str, r)) + "\n")
        rate, secs = await burst(sim, a.db, a.burst)
        print(f"burst of {a.burst} jobs to {a.builders} builders: {rate:.0f} dispatches/s ({secs:.2f} s)")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Idle connections: authenticated builders that just sit there.
        if a.idle:
            before = rss_kib(proc.pid)
            idle_tokens = make_builders(a.db, a.idle, "idle")
            idle = Sim(url, idle_tokens, "idle")
            itasks = await connect_all(idle, idle_tokens)
            await asyncio.sleep(2)
            after = rss_kib(proc.pid)
            print(f"{a.idle} idle builder connections: backend RSS {after / 1024:.1f} MiB "
                  f"(was {before / 1024:.1f} MiB before they connected)")
            for t in itasks:
                t.cancel()
            await asyncio.gather(*itasks, return_exceptions=True)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    asyncio.run(main())
