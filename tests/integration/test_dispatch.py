"""Dispatch to many builders at once.

Hundreds of simulated builders (this test speaking docs/protocol.md over real
WebSockets) on one real backend: a new job must cost one claim statement however
many builders idle (the others racing for the same job only slow the winner
down), and a burst must still reach every free builder exactly once, through
the parallel claim chains a full batch starts. The latency this buys is
measured by bench/dispatch.py, not here.
"""
import asyncio
import hashlib
import json
import secrets
import time
import urllib.request

import psycopg
import pytest
import websockets

TARGET = "dispatch-target"
N = 300  # builders: several claim batches of 64


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "(%s, 'none', 'cp311', '3.11', 'linux_x86_64')", (TARGET,))
        c.execute("insert into projects (name, normalized) select 'disp' || g, 'disp' || g "
                  "from generate_series(1, 20) g")
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select p.id, '1.' || g, '1.' || g from generate_series(1, 50) g, projects p "
                  "where p.name like 'disp%%'")
    # Pool 8: before the fix one new job started 8 claim statements at once.
    backend = backend_factory(migrated, env={"KILN_DB_POOL_SIZE": "8", "KILN_LOG": "warn"})
    return migrated, backend


def add_builders(db, prefix, n):
    tokens = []
    with psycopg.connect(db, autocommit=True) as c:
        with c.cursor().copy("copy builders (name, token_hash) from stdin") as cp:
            for i in range(n):
                tok = ("kiln_" + secrets.token_urlsafe(40))[:48]
                tokens.append((f"{prefix}-{i}", tok))
                cp.write_row((f"{prefix}-{i}", hashlib.sha256(tok.encode()).hexdigest()))
    return tokens


def metric(backend, name):
    with urllib.request.urlopen(backend.url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return 0


def enqueue(db, n):
    """Queue n jobs in one transaction (one notification), on releases never queued before."""
    with psycopg.connect(db, autocommit=True) as c:
        return [r[0] for r in c.execute(
            "insert into jobs (release_id, target_id) select r.id, t.id from releases r, targets t "
            "where t.name = %s and not exists (select 1 from jobs j where j.release_id = r.id) "
            "order by r.id limit %s returning id", (TARGET, n))]


class Builders:
    """n connected builders with one slot each; got[name] lists the jobs each received."""

    def __init__(self, backend, tokens):
        self.url = backend.url.replace("http", "ws") + "/api/v1/builders/ws"
        self.tokens = tokens
        self.got = {name: [] for name, _ in tokens}
        self.tasks = []

    async def _one(self, name, token, ready):
        async with websockets.connect(self.url, subprotocols=["kiln-builder.v1"], open_timeout=30,
                                      ping_interval=None, max_size=None) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": name,
                                      "version": "test", "arch": "x86_64", "targets": [TARGET],
                                      "slots": 1}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            ready.release()
            async for raw in ws:
                m = json.loads(raw)
                if m["type"] == "job":
                    self.got[name].append(m["job"])

    async def __aenter__(self):
        ready = asyncio.Semaphore(0)
        self.tasks = [asyncio.create_task(self._one(n, t, ready)) for n, t in self.tokens]
        for _ in self.tokens:
            await asyncio.wait_for(ready.acquire(), 60)
        return self

    async def __aexit__(self, *exc):
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def received(self):
        return [j for js in self.got.values() for j in js]


async def until(cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_one_new_job_costs_one_claim_statement(farm):
    db, backend = farm

    async def scenario():
        async with Builders(backend, add_builders(db, "one", N)) as b:
            # The hellos' own claims (finding nothing) are done once the count stands still.
            total0 = -1
            while total0 != metric(backend, "kiln_job_claim_statements_total"):
                total0 = metric(backend, "kiln_job_claim_statements_total")
                await asyncio.sleep(0.5)
            empty0 = metric(backend, "kiln_job_claim_statements_empty_total")
            [job] = enqueue(db, 1)
            assert await until(lambda: job in b.received(), 10), "the job never reached a builder"
            await asyncio.sleep(1)
            total = metric(backend, "kiln_job_claim_statements_total") - total0
            empty = metric(backend, "kiln_job_claim_statements_empty_total") - empty0
            assert b.received() == [job], "a job reached more than one builder"
            # One statement claimed it. At most one more may have found nothing: the
            # periodic look for jobs whose backoff ran out (every 5 s). Before, the
            # job's notification started a statement per 64 idle builders (5 here).
            assert total - empty == 1
            assert empty <= 1, f"{empty} claim statements raced for one job and found nothing"
        with psycopg.connect(db, autocommit=True) as c:  # so its lease never requeues it later
            c.execute("delete from builds where job_id = %s", (job,))
            c.execute("delete from jobs where id = %s", (job,))

    asyncio.run(scenario())


def test_a_burst_reaches_every_free_builder_once(farm):
    db, backend = farm

    async def scenario():
        async with Builders(backend, add_builders(db, "burst", N)) as b:
            await asyncio.sleep(0.5)
            jobs = enqueue(db, N + 20)
            assert await until(lambda: len(b.received()) >= N, 20), \
                f"only {len(b.received())} of {N} builders got a job"
            await asyncio.sleep(1)
            got = b.received()
            # Every builder had one slot: each got exactly one job, no job twice.
            assert sorted(len(js) for js in b.got.values()) == [1] * N
            assert len(set(got)) == N and set(got) <= set(jobs)
            with psycopg.connect(db) as c:
                states = dict(c.execute("select state, count(*) from jobs where id = any(%s) group by state",
                                        (jobs,)).fetchall())
            assert states == {"assigned": N, "queued": 20}

    asyncio.run(scenario())
