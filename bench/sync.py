"""bench/sync.py: how fast kiln-sync takes in a big upstream, and how soon it
notices a new release.

1. Listing ingest: a synthetic PEP 691 listing of N projects (default 736,000,
   about 40 MB of JSON, the size of the public index's) served on loopback;
   `kiln-sync --once --listing-only` stores it into an empty database and counts
   the pages behind it (all of them); then, with every page taken as stored (a
   project row per listed project, at the listed serial, written by SQL), again
   after 1% of the serials rose, and 1% are behind. Reports wall time and peak
   RSS of each run (GNU time). Target: <= 5 s per run.
2. Fast notice: kiln-sync as a daemon polling the RSS feed every second
   (KILN_SYNC_FEED_INTERVAL=1, full sync every hour); a release is added to the
   upstream and the time until its job is queued is measured, several times.
   Target: <= 2 s.

Run through bench/sync.sh, which makes and drops the scratch database.
"""
import argparse
import hashlib
import http.server
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SYNC = ROOT / "build" / "release" / "registry-sync" / "kiln-sync"
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from fakeindex import Upstream  # noqa: E402

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
PORT = 18450


class Listing:
    """A fixed listing served as one prebuilt body, with an ETag."""

    def __init__(self):
        self.body = b""
        self.etag = ""
        up = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.headers.get("If-None-Match") == up.etag:
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", JSON_TYPE)
                self.send_header("Content-Length", str(len(up.body)))
                self.send_header("ETag", up.etag)
                self.end_headers()
                self.wfile.write(up.body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, projects, serial):
        doc = {"meta": {"api-version": "1.1", "_last-serial": serial},
               "projects": [{"name": n, "_last-serial": s} for n, s in projects]}
        self.body = json.dumps(doc, separators=(",", ":")).encode()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


def names(n, rng):
    """n distinct, plausible project names of varied length."""
    words = ["py", "django", "flask", "data", "tools", "client", "api", "async", "lib",
             "test", "cloud", "json", "web", "ml", "core", "utils", "plugin", "sdk", "aws", "x"]
    out = []
    for i in range(n):
        parts = rng.sample(words, rng.randint(1, 3))
        out.append("-".join(parts) + f"-{i}")
    return out


def timed_sync(db, url, *args):
    """Run kiln-sync --once under GNU time: (seconds, peak RSS MiB, stderr)."""
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", str(SYNC), "--once", *args,
                        "--upstream", url], env={**os.environ, "KILN_DATABASE_URL": db},
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"kiln-sync failed:\n{p.stderr[-3000:]}")
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("TIME ")][-1]
    secs, kib = line.split()[1:]
    return float(secs), int(kib) / 1024, p.stderr


def phases(stderr):
    """Seconds from "listing fetched" (downloaded and parsed) to the pages behind
    counted ("listing only"), and that count."""
    import datetime
    ts, behind = {}, None
    for ln in stderr.splitlines():
        for msg in ("listing fetched", "listing only: pages not fetched"):
            if f'msg="{msg}"' in ln:
                ts[msg] = datetime.datetime.strptime(ln.split()[0][3:], "%Y-%m-%dT%H:%M:%S.%fZ")
                if "behind=" in ln:
                    behind = int(ln.split("behind=")[1].split()[0])
    secs = (ts["listing only: pages not fetched"] - ts["listing fetched"]).total_seconds()
    return secs, behind


def bench_listing(db, n):
    rng = random.Random(6)
    listing = Listing()
    projects = [(name, rng.randint(1, 25_000_000)) for name in names(n, rng)]
    listing.set(projects, 25_000_000)
    url = f"http://127.0.0.1:{PORT}/simple/"
    print(f"listing: {n} projects, {len(listing.body) / 1e6:.1f} MB of PEP 691 JSON")

    secs, rss, err = timed_sync(db, url, "--listing-only")
    dbsecs, behind = phases(err)
    with psycopg.connect(db) as c:
        count = c.execute("select count(*) from upstream_listing").fetchone()[0]
    assert count == n and behind == n, (count, behind)
    print(f"  empty database:     {secs:.2f} s (database {dbsecs:.2f} s), peak RSS {rss:.0f} MiB")
    first = (secs, rss)

    # Every page stored, as after a whole first sync: the projects a re-sync joins with.
    with psycopg.connect(db) as c:
        c.execute("insert into projects (name, normalized, upstream_serial)"
                  " select name, normalized, serial from upstream_listing")
        c.execute("analyze projects")

    raised = rng.sample(range(n), n // 100)
    for i in raised:
        projects[i] = (projects[i][0], 25_000_001 + i)
    listing.set(projects, 25_000_001 + n)
    secs, rss, err = timed_sync(db, url, "--listing-only")
    dbsecs, behind = phases(err)
    with psycopg.connect(db) as c:
        moved = c.execute("select count(*) from upstream_listing where serial > 25000000").fetchone()[0]
    assert moved == len(raised) and behind == len(raised), (moved, behind)
    print(f"  1% serials raised:  {secs:.2f} s (database {dbsecs:.2f} s), peak RSS {rss:.0f} MiB"
          f" ({behind} projects behind)")
    listing.server.shutdown()
    return first, (secs, rss)


def bench_feed(db, rounds):
    up = Upstream()
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("truncate projects cascade")
        c.execute("delete from sync_state")
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('bench', 'img', 'cp311', '3.11', 'linux_x86_64') on conflict do nothing")
    up.release("feedpkg", "0.1", "feedpkg-0.1.tar.gz", b"0")
    env = {**os.environ, "KILN_DATABASE_URL": db, "KILN_UPSTREAM_URL": up.url + "/simple/",
           "KILN_SYNC_FEED_URL": up.url + "/rss/updates.xml", "KILN_SYNC_FEED_INTERVAL": "1",
           "KILN_SYNC_INTERVAL": "3600", "KILN_LOG": "warn"}
    proc = subprocess.Popen([str(SYNC)], env=env)
    lat = []
    try:
        with psycopg.connect(db, autocommit=True) as c:
            def job(version):
                return c.execute("select 1 from jobs j join releases r on r.id = j.release_id"
                                 " where r.version = %s", (version,)).fetchone()
            deadline = time.time() + 30
            while not job("0.1") and time.time() < deadline:
                time.sleep(0.05)
            for i in range(1, rounds + 1):
                v = f"1.{i}"
                time.sleep(random.random())  # land anywhere in the poll cycle
                start = time.monotonic()
                up.release("feedpkg", v, f"feedpkg-{v}.tar.gz", v.encode())
                while not job(v):
                    if time.monotonic() - start > 30:
                        raise SystemExit(f"release {v} not queued within 30 s")
                    time.sleep(0.01)
                lat.append(time.monotonic() - start)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        up.close()
    print(f"fast notice (feed every 1 s), {rounds} releases: median {statistics.median(lat):.2f} s,"
          f" max {max(lat):.2f} s; full listings fetched: {up.requests.count('/simple/')}")
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--projects", type=int, default=736_000)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    bench_listing(a.db, a.projects)
    bench_feed(a.db, a.rounds)


if __name__ == "__main__":
    main()
