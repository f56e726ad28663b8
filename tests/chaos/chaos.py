#!/usr/bin/env python3
"""Kiln's chaos run: many small jobs through a whole farm while a driver kill -9s
its parts at random moments, then the invariants that must hold anyway.

usage: tests/chaos/chaos.py [--jobs N] [--seed S] [--keep] [JOBS=N] [SEED=S] [...]
       (`just chaos`, `just chaos SEED=1234`, `just chaos JOBS=100 SEED=1234`;
       or the environment: KILN_CHAOS_JOBS, KILN_CHAOS_SEED)

The farm is private to the run (nothing is shared with other tests or a `just up`
farm): its own Postgres cluster (scripts/db.sh) and SeaweedFS (scripts/s3.sh)
under .kiln/chaos/<run>/ on free ports, two kiln-backend replicas, kiln-sync
mirroring a local upstream (tests/integration/fakeindex.py: PEP 691, serials, an
RSS feed) that publishes tiny pure-Python sdists while the run goes on, and three
kiln-builder daemons building in Docker (the builder image), each given both
replicas' URLs (KILN_BACKEND_URL with two URLs: a builder fails over by itself,
no load balancer). Builder names carry the run's id, so its Docker objects are its
own.

The schedule: a seeded random stream of kills. Kinds come in shuffled rounds of
the five (a builder, a backend replica, kiln-sync, Postgres, SeaweedFS) so each
kind is hit about as often; the gap before each kill, the victim and how long it
stays down are drawn from the same stream. kill -9 every time (Postgres: the
postmaster and its children, like a crash); the victim is started again after its
down time (Postgres does crash recovery, SeaweedFS restarts on its data). A
process that exits by itself is started again too (as systemd would) and noted.
The seed is printed first and again with any failure; the same seed gives the
same kills in the same order with the same gaps (what the farm is doing at that
moment still depends on timing).

When every release is published upstream and every job has ended, the chaos
stops, everything is up, the dust settles, and the checks run (see check()).
Exit 0 when all hold, 1 otherwise (the run's directory is kept then).
"""
import argparse
import gzip
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from fakeindex import Upstream  # noqa: E402
from ports import free_port, pick_s3_port  # noqa: E402
from sdists import targz  # noqa: E402

import psycopg  # noqa: E402

BUILD = Path(os.environ.get("KILN_TEST_BUILD", ROOT / "build" / "release"))
KILNCTL = BUILD / "kilnctl" / "kilnctl"
BACKEND = BUILD / "backend" / "kiln-backend"
BUILDER = BUILD / "builder" / "kiln-builder"
SYNC = BUILD / "registry-sync" / "kiln-sync"
TARGET = "bookworm-py311-x86_64"
KINDS = ("builder", "backend", "sync", "postgres", "s3")
LOG_LINES = 12  # numbered lines each build prints: the log must hold them all, in order
TERMINAL = ("succeeded", "failed", "cancelled")


def say(*a):
    print("chaos:", *a, flush=True)


# --- the upstream's packages --------------------------------------------------


def make_sdist(name, version):
    """A tiny pure-Python sdist whose build prints LOG_LINES numbered lines (only
    while building the wheel, so each line appears once in the log)."""
    mod = name.replace("-", "_")
    setup_py = (
        "import sys\n"
        "if 'bdist_wheel' in sys.argv:\n"
        f"    for i in range(1, {LOG_LINES + 1}):\n"
        f"        print('chaos-line {name} {version} %d/{LOG_LINES}' % i, flush=True)\n"
        "from setuptools import setup\n"
        f"setup(name={name!r}, version={version!r}, py_modules=[{mod!r}])\n")
    base = f"{mod}-{version}"
    files = {
        f"{base}/setup.py": setup_py,
        f"{base}/{mod}.py": f"VERSION = {version!r}\n",
        f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    return f"{base}.tar.gz", targz(files)


def wheel_name(name, version):
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


# --- processes ----------------------------------------------------------------


def run(cmd, env, check=True, timeout=300):
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


class Daemon:
    """One of the farm's programs, started and killed by the driver."""

    def __init__(self, farm, name, kind, argv, env, log):
        self.farm, self.name, self.kind = farm, name, kind
        self.argv, self.env, self.log = argv, env, log
        self.proc = None
        self.down_until = None   # killed: start again at this time
        self.starts = 0
        self.exits = []          # (return code, last log lines) of exits nobody asked for

    def start(self):
        with open(self.log, "a") as f:
            f.write(f"\n==== chaos: start {time.strftime('%H:%M:%S')}\n")
        self.proc = subprocess.Popen([str(a) for a in self.argv], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "a"),
                                     start_new_session=True)
        self.starts += 1
        self.down_until = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=60):
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def tail(self, n=15):
        try:
            return "\n".join(Path(self.log).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Service:
    """Postgres or SeaweedFS, run by its script in the run's data dir; killed by pid."""

    def __init__(self, farm, kind, script, pidfile):
        self.farm, self.kind, self.name = farm, kind, kind
        self.script, self.pidfile = script, pidfile
        self.down_until = None
        self.starts = 0
        self.exits = []

    def pid(self):
        try:
            return int(Path(self.pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def alive(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()

    def start(self):
        for attempt in range(60):
            p = run([ROOT / "scripts" / self.script, "start"], self.farm.env, check=False, timeout=300)
            if p.returncode == 0:
                self.starts += 1
                self.down_until = None
                return
            time.sleep(1)
        raise RuntimeError(f"{self.script} start keeps failing:\n{p.stdout}\n{p.stderr}")

    def kill9(self):
        pid = self.pid()
        if not pid:
            return
        # The process and its children at once, as a crash or the OOM killer would.
        victims = [pid] + [int(x) for x in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                          text=True).stdout.split()]
        for v in victims:
            try:
                os.kill(v, signal.SIGKILL)
            except OSError:
                pass
        # Gone for good, not only dead: pg_ctl takes a zombie postmaster for a live one.
        deadline = time.time() + 30
        while time.time() < deadline and any(Path(f"/proc/{v}").exists() for v in victims):
            time.sleep(0.05)

    def stop(self):
        run([ROOT / "scripts" / self.script, "stop"], self.farm.env, check=False, timeout=120)


# --- the farm -----------------------------------------------------------------


class Farm:
    def __init__(self, args, seed):
        self.args, self.seed = args, seed
        self.id = f"{seed % 100000:05d}{secrets.token_hex(2)}"
        data_root = Path(os.environ.get("KILN_DATA_DIR", ROOT / ".kiln"))
        self.dir = data_root / "chaos" / self.id
        self.dir.mkdir(parents=True)
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        port_rng = random.Random()
        self.pg_port = free_port()
        self.s3_port = pick_s3_port(port_rng)
        # The SeaweedFS binary of the checkout's own data dir, not a second download.
        weed = run([ROOT / "scripts" / "s3.sh", "weed"], dict(os.environ), timeout=600).stdout.strip()
        venv = Path(weed).resolve().parents[1]
        if venv.name == "venv-s3":
            (self.dir / "venv-s3").symlink_to(venv)
        self.env = {**os.environ, "KILN_DATA_DIR": str(self.dir), "KILN_PG_PORT": str(self.pg_port),
                    "KILN_S3_PORT": str(self.s3_port), "KILN_S3_BUCKET": "chaos", "KILN_CONFIG": ""}
        for k in ("KILN_DATABASE_URL", "KILN_S3_ENDPOINT"):
            self.env.pop(k, None)
        self.pg = Service(self, "postgres", "db.sh", self.dir / "pg" / "data" / "postmaster.pid")
        self.s3 = Service(self, "s3", "s3.sh", self.dir / "s3" / "weed.pid")
        self.upstream = None
        self.backends, self.builders, self.sync = [], [], None
        self.db = None
        self.kills = {k: 0 for k in KINDS}
        self.killed = []  # (time, name) of every kill
        self.events = []

    # setup

    def start(self):
        say(f"run {self.id} in {self.dir}: Postgres :{self.pg_port}, SeaweedFS :{self.s3_port}")
        self.pg.start()
        self.db = run([ROOT / "scripts" / "db.sh", "url"], self.env).stdout.strip()
        self.env["KILN_DATABASE_URL"] = self.db
        self.s3.start()
        for line in run([ROOT / "scripts" / "s3.sh", "env"], self.env).stdout.splitlines():
            m = re.fullmatch(r"export (KILN_S3_[A-Z0-9_]+)=(.*)", line.strip())
            if m:
                self.env[m[1]] = m[2].strip("'\"")
        self.env["KILN_STORAGE"] = "s3"
        run([KILNCTL, "migrate"], self.env)
        run([ROOT / "scripts" / "image.sh", "build"], self.env, timeout=3600)  # a no-op when it exists
        image = run([ROOT / "scripts" / "image.sh", "name"], self.env).stdout.strip()
        run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
             "--platform", "linux_x86_64"], self.env)
        self.upstream = Upstream()
        # Backends: short leases so a vanished builder's job is back in the queue soon.
        ports = [free_port() for _ in range(2)]
        for i, port in enumerate(ports):
            home = self.dir / f"backend{i + 1}"
            home.mkdir()
            env = {**self.env, "KILN_HTTP_LISTEN": f"127.0.0.1:{port}", "KILN_DATA_DIR": str(home),
                   "KILN_FRONTEND_DIR": str(ROOT / "frontend"), "KILN_LEASE_SECONDS": "10",
                   "KILN_JOB_TIMEOUT": "300", "KILN_JOB_MEMORY_MIB": "512", "KILN_LOG": "info",
                   # An upload cut off by a kill leaves its object to the sweep after this
                   # (an hour by default): short, so the dust settles within the run.
                   "KILN_STORAGE_SWEEP_GRACE": "30",
                   # The invariants count one job per release: no sampled
                   # reproducibility checks (jobs of their own) in this run.
                   "KILN_REPRO": "off"}
            d = Daemon(self, f"backend{i + 1}", "backend", [BACKEND], env, self.logs / f"backend{i + 1}.log")
            d.url = f"http://127.0.0.1:{port}"
            self.backends.append(d)
            d.start()
        for b in self.backends:
            self.wait_http(b.url + "/readyz", 60)
        urls = [b.url.replace("http://", "ws://") for b in self.backends]
        for i in range(self.args.builders):
            name = f"chaos-{self.id}-b{i + 1}"
            out = run([KILNCTL, "builder", "add", name], self.env).stdout
            token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
            home = self.dir / f"builder{i + 1}"
            home.mkdir()
            # Each builder lists both replicas, starting with a different one.
            order = urls[i % 2:] + urls[:i % 2]
            env = {**self.env, "KILN_BACKEND_URL": ",".join(order), "KILN_BUILDER_TOKEN": token,
                   "KILN_BUILDER_NAME": name, "KILN_BUILDER_SLOTS": str(self.args.slots),
                   "KILN_BUILDER_TARGETS": TARGET, "KILN_DATA_DIR": str(home), "KILN_LOG": "info"}
            d = Daemon(self, name, "builder", [BUILDER], env, self.logs / f"builder{i + 1}.log")
            self.builders.append(d)
            d.start()
        env = {**self.env, "KILN_UPSTREAM_URL": self.upstream.url + "/simple/",
               "KILN_SYNC_FEED_URL": self.upstream.url + "/rss/updates.xml",
               "KILN_SYNC_INTERVAL": "5", "KILN_SYNC_FEED_INTERVAL": "1", "KILN_SYNC_RETRY_MS": "200",
               "KILN_SYNC_TIMEOUT": "10", "KILN_LOG": "info"}
        self.sync = Daemon(self, "kiln-sync", "sync", [SYNC], env, self.logs / "sync.log")
        self.sync.start()

    def wait_http(self, url, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer in {timeout}s")

    def victims(self, kind):
        return {"builder": self.builders, "backend": self.backends, "sync": [self.sync],
                "postgres": [self.pg], "s3": [self.s3]}[kind]

    def all(self):
        return [self.pg, self.s3, *self.backends, *self.builders, self.sync]

    # database reads that survive Postgres being down (None then)

    def q(self, sql, *params):
        try:
            with psycopg.connect(self.db, connect_timeout=3) as c:
                return c.execute(sql, params).fetchall()
        except psycopg.Error:
            return None

    # teardown

    def stop(self):
        for d in self.builders + [self.sync] + self.backends:
            try:
                d.stop(timeout=30)
            except Exception:
                pass
        for b in self.builders:
            for what, cmd in (("containers", ["docker", "ps", "-aq"]), ("volumes", ["docker", "volume", "ls", "-q"])):
                ids = subprocess.run(cmd + ["--filter", f"label=org.kiln.builder={b.name}"], capture_output=True,
                                     text=True).stdout.split()
                if ids:
                    rm = ["docker", "rm", "-f"] if what == "containers" else ["docker", "volume", "rm", "-f"]
                    subprocess.run(rm + ids, capture_output=True)
        if self.upstream:
            self.upstream.close()
        self.s3.stop()
        self.pg.stop()


# --- the run --------------------------------------------------------------------


class Schedule:
    """The seeded stream of kills: (gap before it, kind, victim index, down time)."""

    def __init__(self, seed, gap, down):
        self.rng = random.Random(seed)
        self.gap, self.down = gap, down
        self.deck = []

    def next(self, counts):
        if not self.deck:
            self.deck = list(KINDS)
            self.rng.shuffle(self.deck)
        kind = self.deck.pop()
        return (self.rng.uniform(*self.gap), kind, self.rng.randrange(counts[kind]),
                self.rng.uniform(*self.down))


def release_plan(seed, n):
    """n (project, version) pairs in the seeded order they are published upstream:
    projects of 1 to 6 versions, a version's predecessors first."""
    rng = random.Random(seed ^ 0x5eed)
    pairs, p = [], 0
    while len(pairs) < n:
        p += 1
        for v in range(1, rng.randint(1, 6) + 1):
            if len(pairs) < n:
                pairs.append((f"chaos-p{p:04d}", f"1.{v}"))
    rng.shuffle(pairs)
    # Keep each project's versions in order (a shuffled list, stably re-sorted per project).
    order = {}
    for pair in pairs:
        order.setdefault(pair[0], []).append(pair)
    queues = {k: sorted(v, key=lambda x: int(x[1].split(".")[1])) for k, v in order.items()}
    return [queues[name].pop(0) for name, _ in pairs]


def drive(farm, plan, schedule, args):
    """Publish releases while killing things; returns when all are released and
    every job has ended (or the time limit is hit)."""
    rng = random.Random(farm.seed ^ 0xb47c)
    released = 0
    t0 = time.time()
    next_kill = pending = None
    counts = {k: len(farm.victims(k)) for k in KINDS}
    last_status = 0
    while True:
        now = time.time()
        if now - t0 > args.max_seconds:
            say(f"time limit of {args.max_seconds}s reached while driving")
            return False
        # Restart what is due, and what exited by itself (noted: nobody asked it to).
        for d in farm.all():
            if d.down_until is not None:
                if now >= d.down_until:
                    d.start()
                    farm.events.append((round(now - t0, 1), "start", d.name, round(time.time() - now, 1)))
            elif not d.alive():
                code = d.proc.returncode if isinstance(d, Daemon) and d.proc else None
                d.exits.append((code, d.tail() if isinstance(d, Daemon) else ""))
                farm.events.append((round(now - t0, 1), "exited", d.name, code))
                say(f"{d.name} exited by itself (code {code}); starting it again")
                d.start()
        # Publish: keep a modest queue so kiln-sync works all along the run.
        if released < len(plan):
            st = farm.q("select count(*) filter (where state = 'queued'), count(*) from jobs")
            # Released but not planned yet counts as queued: kiln-sync has yet to see it.
            if st is not None and st[0][0] + released - st[0][1] < args.queue_low:
                k = min(rng.randint(5, 25), len(plan) - released)
                for name, version in plan[released:released + k]:
                    fn, data = make_sdist(name, version)
                    farm.upstream.release(name, version, fn, data)
                released += k
        # Kill.
        if pending is None:
            pending = schedule.next(counts)
            next_kill = now + pending[0]
        if now >= next_kill:
            _, kind, idx, down = pending
            victim = farm.victims(kind)[idx]
            if victim.down_until is None:
                victim.kill9()
                victim.down_until = time.time() + down
                farm.kills[kind] += 1
                farm.killed.append((now, victim.name))
                farm.events.append((round(now - t0, 1), "kill", victim.name, round(down, 1)))
            pending = None
        # Done?
        if released == len(plan) and now - last_status > 2:
            last_status = now
            st = farm.q("select count(*), count(*) filter (where state in ('succeeded', 'failed', 'cancelled'))"
                        " from jobs")
            if st and st[0][0] == len(plan) and st[0][1] == len(plan):
                return True
        if now - getattr(farm, "_last_say", 0) > 30:
            farm._last_say = now
            st = farm.q("select state, count(*) from jobs group by 1 order by 1")
            say(f"t={now - t0:.0f}s released={released}/{len(plan)} jobs={dict(st) if st is not None else 'db down'}"
                f" kills={farm.kills}")
        time.sleep(0.1)


def settle(farm, n, timeout):
    """Everything up, nothing killed: wait until every job ended, every build ended,
    every ended build's log is in storage, and the storage sweep has nothing left."""
    for d in farm.all():
        if not d.alive():
            d.start()
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        st = farm.q(
            "select (select count(*) from jobs),"
            " (select count(*) from jobs where state in ('succeeded', 'failed', 'cancelled')),"
            " (select count(*) from builds where state = 'running'),"
            " (select count(*) from builds where state <> 'running' and log_key is null),"
            " (select count(*) from artifacts where published_at is null),"
            " (select count(*) from storage_pending)")
        if st:
            last = st[0]
            if last[0] == n and last[1] == n and not any(last[2:]):
                return None
        time.sleep(1)
    last = last or ["?"] * 6
    return (f"the dust did not settle in {timeout}s: jobs={last[0]}/{n}, ended={last[1]}, builds running="
            f"{last[2]}, ended builds with their log not in storage={last[3]}, unpublished artifacts={last[4]},"
            f" storage keys waiting for the sweep={last[5]}")


# --- the checks -------------------------------------------------------------------


def http_get(url, headers=None, timeout=30):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def storage_keys(farm, prefix):
    out = run([KILNCTL, "storage", "ls", prefix], farm.env).stdout
    return {k: int(v) for k, v in (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())}


def storage_get(farm, key):
    p = subprocess.run([str(KILNCTL), "storage", "get", key, "-"], env=farm.env, capture_output=True, timeout=60)
    if p.returncode != 0:
        return None
    return p.stdout


def check(farm, plan):
    """The invariants; returns a list of problems (empty: all hold)."""
    problems = []
    want = {(name, version) for name, version in plan}
    rows = farm.q(
        "select j.id, p.normalized, r.version, j.state, j.attempts, j.failure_reason"
        " from jobs j join releases r on r.id = j.release_id join projects p on p.id = r.project_id")
    jobs = {}
    for jid, name, version, state, attempts, reason in rows:
        jobs.setdefault((name, version), []).append((jid, state, attempts, reason))
    # 1. Exactly one job per release, ended: succeeded, since nothing here can fail
    # for real, or failed only because the chaos used up its attempts (every
    # attempt lost with its killed builder, or ended by a transient error: the
    # reason then says "gave up after N attempts").
    gave_up = []
    for key in sorted(want):
        js = jobs.get(key, [])
        if len(js) != 1:
            problems.append(f"{key[0]} {key[1]}: {len(js)} jobs, want 1")
            continue
        jid, state, attempts, reason = js[0]
        if state == "failed" and "gave up after" in (reason or ""):
            gave_up.append(jid)
        elif state != "succeeded":
            problems.append(f"job {jid} ({key[0]} {key[1]}) is {state}: {reason}")
    for key in set(jobs) - want:
        problems.append(f"a job for {key}, which was never released")
    builds = farm.q("select b.id, b.job_id, b.attempt, b.state, b.failure_reason, b.log_key, b.log_size,"
                    " w.name, extract(epoch from b.started_at), extract(epoch from b.finished_at)"
                    " from builds b left join builders w on w.id = b.builder_id order by b.job_id, b.attempt")
    # 2. A build is lost only when something was killed that explains it: its
    # builder, while it ran (from just before its claim, which may reach a builder
    # already dead, to its reaping); or, around its claim, the replica that made
    # the claim or Postgres (the claim committed, its answer never came back, so
    # the job was never sent: its lease runs out).
    dispatch = {b.name for b in farm.backends} | {"postgres"}
    for bid, jid, attempt, state, _, _, _, builder, started, finished in builds:
        if state != "lost":
            continue
        started, finished = float(started), float(finished)
        if not any((name == builder and started - 5 <= t <= finished) or
                   (name in dispatch and started - 5 <= t <= started + 5) for t, name in farm.killed):
            problems.append(f"build {bid} (job {jid} attempt {attempt}) was lost, but neither {builder} while"
                            f" it ran nor a replica or Postgres when it was claimed was killed")
    by_job = {}
    for row in builds:
        by_job.setdefault(row[1], []).append(row)
    arts = farm.q("select a.id, a.job_id, a.build_id, a.filename, a.sha256, a.size, a.storage_key,"
                  " a.published_at is not null from artifacts a")
    arts_by_job = {}
    for a in arts:
        arts_by_job.setdefault(a[1], []).append(a)
    job_rows = {jid: (name, version, state, attempts) for jid, name, version, state, attempts, _ in rows}
    for jid, (name, version, state, attempts) in job_rows.items():
        bs = by_job.get(jid, [])
        # 3. One build per attempt, numbered 1..attempts; exactly one succeeded, the last.
        if [b[2] for b in bs] != list(range(1, attempts + 1)):
            problems.append(f"job {jid}: builds for attempts {[b[2] for b in bs]}, attempts={attempts}")
        ok = [b for b in bs if b[3] == "succeeded"]
        if state == "succeeded" and (len(ok) != 1 or ok[0] is not bs[-1]):
            problems.append(f"job {jid}: {len(ok)} succeeded builds (want 1, the last attempt):"
                            f" {[(b[2], b[3]) for b in bs]}")
        if state != "succeeded" and ok:
            problems.append(f"job {jid} is {state} but has a succeeded build")
        # 4. Its wheel, once: one artifact, published, from the succeeded build.
        a = arts_by_job.get(jid, [])
        if state == "succeeded":
            if len(a) != 1 or a[0][3] != wheel_name(name, version) or not a[0][7] or (ok and a[0][2] != ok[0][0]):
                problems.append(f"job {jid}: artifacts {[(x[3], x[2], x[7]) for x in a]}, want one published"
                                f" {wheel_name(name, version)} from build {ok[0][0] if ok else '?'}")
        elif a:
            problems.append(f"job {jid} is {state} but has artifacts {[x[3] for x in a]}")
    # 5. Storage and rows agree both ways; every stored hash matches its bytes.
    stored = storage_keys(farm, "wheels/")
    keys = {a[6]: a for a in arts}
    for key, a in keys.items():
        if key not in stored:
            problems.append(f"artifact {a[3]} (job {a[1]}): {key} is missing from storage")
        elif stored[key] != a[5]:
            problems.append(f"artifact {a[3]}: stored size {stored[key]}, row says {a[5]}")
    for key in set(stored) - set(keys):
        problems.append(f"stored object without a row: {key}")
    checked = 0
    base = farm.backends[0].url
    gave_up_keys = {(job_rows[j][0], job_rows[j][1]) for j in gave_up}
    for name in sorted({a[0] for a in want}):
        expect = {wheel_name(n, v) for n, v in want if n == name and (n, v) not in gave_up_keys}
        try:
            status, body = http_get(f"{base}/simple/{name}/",
                                    {"Accept": "application/vnd.pypi.simple.v1+json"})
        except urllib.error.HTTPError as e:
            if not (e.code == 404 and not expect):  # no wheel at all: no page
                problems.append(f"/simple/{name}/ answered {e.code}")
            continue
        page = json.loads(body)
        listed = {f["filename"]: f for f in page["files"]}
        if set(listed) != expect:
            problems.append(f"/simple/{name}/ lists {sorted(listed)}, want {sorted(expect)}")
        for fn, f in listed.items():
            url = urllib.parse.urljoin(f"{base}/simple/{name}/", f["url"])
            try:
                _, data = http_get(url)
            except Exception as e:
                problems.append(f"downloading {fn}: {e}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            row = next((a for a in arts if a[3] == fn), None)
            if digest != f["hashes"]["sha256"] or not row or digest != row[4] or len(data) != row[5]:
                problems.append(f"{fn}: downloaded bytes hash to {digest}, index says {f['hashes']['sha256']},"
                                f" row says {row[4] if row else None}")
            checked += 1
    # 6. Logs: every ended build's log is in storage, whole.
    log_keys = storage_keys(farm, "logs/")
    expected_logs = set()
    for bid, jid, attempt, state, reason, log_key, log_size, *_ in builds:
        if state == "running":
            problems.append(f"build {bid} (job {jid}) still running")
            continue
        if not log_key:
            problems.append(f"build {bid} ({state}) has no stored log")
            continue
        expected_logs.add(log_key)
        gz = storage_get(farm, log_key)
        if gz is None:
            problems.append(f"build {bid}: log {log_key} missing from storage")
            continue
        try:
            text = gzip.decompress(gz).decode("utf-8", errors="replace")
        except Exception as e:
            problems.append(f"build {bid}: stored log {log_key} is damaged: {e}")
            continue
        if len(gzip.decompress(gz)) != log_size:
            problems.append(f"build {bid}: log is {len(gzip.decompress(gz))} bytes, row says {log_size}")
        found = log_problems(bid, jid, attempt, state, reason, text, job_rows.get(jid))
        if found:
            (farm.logs / f"build-{bid}.log").write_text(text)  # kept for a look
        problems += found
    for key in set(log_keys) - expected_logs:
        problems.append(f"stored log without a build: {key}")
    for jid in gave_up:
        say(f"job {jid} used up its attempts: " + "; ".join(
            f"{b[2]}: {b[3]} on {b[7]} ({(b[4] or '')[:100]})" for b in by_job.get(jid, [])))
    say(f"checked {len(job_rows)} jobs ({len(gave_up)} failed after the chaos used up their attempts:"
        f" {gave_up}), {len(builds)} builds, {len(arts)} artifacts, {checked} downloads, {len(expected_logs)} logs")
    farm.gave_up = len(gave_up)
    return problems


def log_problems(bid, jid, attempt, state, reason, text, job):
    """What "complete" means for a build's log:
    - it starts with the builder's first line for this job and attempt;
    - a succeeded build's log has every numbered line its build printed, once and in
      order, the upload line of its wheel, and ends with the builder's last line
      ("built 1 wheel(s) in ...");
    - a failed build's log ends with the builder's note of the reason it reported;
    - a lost build's log ends with the backend's line saying the builder stopped
      responding (what the builder sent before it vanished comes first)."""
    p = []
    lines = text.rstrip("\n").split("\n")
    first = f"kiln: job {jid} attempt {attempt}: "
    if state == "lost":
        if not lines[-1].startswith("kiln: builder ") or "stopped responding" not in lines[-1]:
            p.append(f"build {bid} (lost): log ends {lines[-1]!r}")
        # A build that sent nothing: the reaper's line is the whole log (after an empty line).
        head = text.lstrip("\n").split("\n")[0]
        if not head.startswith(first) and not head.startswith("kiln: builder "):
            p.append(f"build {bid} (lost): log starts {head!r}")
        return p
    if not lines[0].startswith(first):
        p.append(f"build {bid} ({state}): log starts {lines[0]!r}, want {first!r}...")
    if state == "succeeded":
        name, version = job[0], job[1]
        # pip indents the build's output.
        nums = [ln.strip() for ln in lines if ln.strip().startswith(f"chaos-line {name} {version} ")]
        want = [f"chaos-line {name} {version} {i}/{LOG_LINES}" for i in range(1, LOG_LINES + 1)]
        if nums != want:
            p.append(f"build {bid}: numbered lines {[n.rsplit(' ', 1)[1] for n in nums]}, want 1..{LOG_LINES}")
        if f"kiln: uploaded {wheel_name(name, version)}" not in lines:
            p.append(f"build {bid}: no upload line")
        if not re.fullmatch(r"kiln: built 1 wheel\(s\) in [0-9.]+ s", lines[-1]):
            p.append(f"build {bid} (succeeded): log ends {lines[-1]!r}")
    elif state in ("failed", "cancelled"):
        note = (reason or "").split(" (gave up after ")[0]
        if state == "failed" and not lines[-1] == f"kiln: {note}":
            p.append(f"build {bid} (failed: {reason}): log ends {lines[-1]!r}")
    return p


GAP, DOWN = (3.0, 9.0), (0.5, 4.0)


def replay(args, seed):
    """The command that replays this run's schedule."""
    if tuple(args.gap) == GAP and tuple(args.down) == DOWN and args.builders == 3 and args.slots == 2:
        return f"just chaos JOBS={args.jobs} SEED={seed}"
    return (f"tests/chaos/chaos.py --jobs {args.jobs} --seed {seed} --gap {args.gap[0]:g} {args.gap[1]:g}"
            f" --down {args.down[0]:g} {args.down[1]:g} --builders {args.builders} --slots {args.slots}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("KILN_CHAOS_JOBS") or 1000))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("KILN_CHAOS_SEED") or 0) or None)
    ap.add_argument("--builders", type=int, default=3)
    ap.add_argument("--slots", type=int, default=2, help="build slots of each builder")
    ap.add_argument("--gap", type=float, nargs=2, default=GAP, metavar=("MIN", "MAX"),
                    help="seconds between two kills (uniform)")
    ap.add_argument("--down", type=float, nargs=2, default=DOWN, metavar=("MIN", "MAX"),
                    help="seconds a killed part stays down (uniform)")
    ap.add_argument("--queue-low", type=int, default=20, help="publish more when fewer jobs are queued")
    ap.add_argument("--max-seconds", type=int, default=3 * 3600)
    ap.add_argument("--settle-seconds", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the run's directory even if it passes")
    ap.add_argument("settings", nargs="*", metavar="NAME=VALUE",
                    help="JOBS=N, SEED=S (what `just chaos JOBS=... SEED=...` passes)")
    args = ap.parse_args()
    for setting in args.settings:
        name, _, value = setting.partition("=")
        if name.upper() not in ("JOBS", "SEED") or not value.isdigit():
            ap.error(f"unknown setting {setting!r} (JOBS=N or SEED=N)")
        setattr(args, name.lower(), int(value))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    say(f"seed={seed} jobs={args.jobs} (replay: {replay(args, seed)})")
    t0 = time.time()
    farm = Farm(args, seed)
    ok = False
    try:
        farm.start()
        plan = release_plan(seed, args.jobs)
        schedule = Schedule(seed, tuple(args.gap), tuple(args.down))
        drove = drive(farm, plan, schedule, args)
        t_chaos = time.time() - t0
        say(f"chaos over after {t_chaos:.0f}s: kills {farm.kills}; settling")
        problems = [] if drove else ["the jobs did not all end while the chaos went on"]
        stuck = settle(farm, len(plan), args.settle_seconds)
        if stuck:
            problems.append(stuck)
        problems += check(farm, plan)
        crashes = [(d.name, code, tail) for d in farm.all() for code, tail in d.exits
                   if d.kind in ("backend", "builder") or (code is not None and code < 0)]
        for name, code, tail in crashes:
            problems.append(f"{name} exited by itself with code {code}:\n{tail}")
        st = farm.q("select count(*), sum(attempts) from jobs")
        lost = farm.q("select count(*) from builds where state = 'lost'")
        say(f"jobs={st[0][0]} builds={st[0][1]} lost builds={lost[0][0]}"
            f" failed after the chaos used up their attempts={getattr(farm, 'gave_up', '?')} kills={farm.kills}"
            f" restarts-after-exit={sum(len(d.exits) for d in farm.all())}"
            f" duration={time.time() - t0:.0f}s seed={seed}")
        if problems:
            say(f"FAIL seed={seed}: {len(problems)} problem(s)")
            for p in problems[:60]:
                print("  -", p, flush=True)
            if len(problems) > 60:
                print(f"  ... and {len(problems) - 60} more", flush=True)
            say(f"replay: {replay(args, seed)}; logs kept in {farm.dir}")
        else:
            ok = True
            say(f"PASS seed={seed}")
    except BaseException:
        say(f"FAIL seed={seed}: the driver failed; logs kept in {farm.dir}")
        raise
    finally:
        with open(farm.dir / "events.json", "w") as f:
            json.dump(farm.events, f)
        farm.stop()
        if ok and not args.keep:
            shutil.rmtree(farm.dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
