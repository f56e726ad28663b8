"""kiln-sync when things go wrong: a kill -9 in the middle of a sync, stale CDN
copies, project pages that vanish, malformed answers, a hung upstream; and the
fast-notice feed, and Kiln's own wheels in planning.

Each test gets a fresh database and its own fake upstream (fakeindex.py). The
database state compared is what a user sees: projects, releases, files, plan
decisions and jobs, by name, without ids or timestamps.
"""
import os
import secrets
import signal
import subprocess
import time

import psycopg
import pytest

from conftest import BUILD, KILNCTL, _db_url, drop_database, run
from fakeindex import Upstream
from sdists import make_sdist

SYNC = BUILD / "registry-sync" / "kiln-sync"


@pytest.fixture
def fresh_db(pg_url):
    """A factory of migrated databases with one enabled target."""
    made = []

    def make():
        name = "kt_sync_rec_" + secrets.token_hex(4)
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f'create database "{name}"')
        made.append(name)
        url = _db_url(pg_url, name)
        run([KILNCTL, "migrate"], env={"KILN_DATABASE_URL": url})
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                      " values ('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
        return url
    yield make
    for name in made:
        drop_database(pg_url, name)


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.close()


def sync(db, up, *args, check=True, timeout=120):
    # Short retry waits: the tests check that retries happen, not how long they wait.
    return run([SYNC, "--once", "--upstream", up.url + "/simple/", *args],
               env={"KILN_DATABASE_URL": db, "KILN_SYNC_RETRY_MS": "100"}, check=check,
               timeout=timeout)


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def snapshot(db):
    """Everything kiln-sync writes, as a user would compare it."""
    return {
        "projects": q(db, "select normalized, name, upstream_serial, deleted_at is null"
                          " from projects order by 1"),
        "releases": q(db, "select p.normalized, r.version, r.yanked, r.deleted_at is null"
                          " from releases r join projects p on p.id = r.project_id order by 1, 2"),
        "files": q(db, "select f.filename, f.kind, f.url, f.sha256, f.size, f.requires_python,"
                       " f.yanked, f.deleted_at is null from upstream_files f order by 1"),
        "plans": q(db, "select p.normalized, r.version, t.name, rp.decision, rp.reason"
                       " from release_plans rp join releases r on r.id = rp.release_id"
                       " join projects p on p.id = r.project_id join targets t on t.id = rp.target_id"
                       " order by 1, 2"),
        "jobs": q(db, "select p.normalized, r.version, t.name, j.state from jobs j"
                      " join releases r on r.id = j.release_id join projects p on p.id = r.project_id"
                      " join targets t on t.id = j.target_id order by 1, 2"),
        "state": q(db, "select listing_etag, last_serial, position from sync_state"),
    }


def fill(up, n):
    """n projects with one sdist each (the bytes need not be a real sdist here)."""
    for i in range(n):
        name = f"proj-{i:03d}"
        up.add_file(name, f"proj_{i:03d}-1.{i}.tar.gz", f"sdist {i}".encode())


def stored(db):
    """How many projects have their page stored."""
    return q(db, "select count(*) from projects where upstream_serial is not null")[0][0]


def page_requests(up):
    return [r for r in up.requests if r.startswith("/simple/") and r != "/simple/"]


def test_kill_9_mid_sync_resumes_to_the_same_state(fresh_db, upstream):
    fill(upstream, 60)
    reference = fresh_db()
    sync(reference, upstream)
    want = snapshot(reference)
    assert len(want["projects"]) == 60 and len(want["jobs"]) == 60

    db = fresh_db()
    upstream.delay = 0.05
    upstream.requests.clear()
    env = {**os.environ, "KILN_DATABASE_URL": db}
    proc = subprocess.Popen([str(SYNC), "--once", "--batch", "7", "--upstream", upstream.url + "/simple/"],
                            env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and stored(db) < 20:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The listing was stored first, whole; then pages, a batch per transaction.
    assert q(db, "select count(*) from upstream_listing") == [(60,)]
    done = stored(db)
    assert 20 <= done < 60, "the kill was meant to land in the middle of the sync"
    assert done % 7 == 0, "batches commit whole"
    after = q(db, "select position->>'after' from sync_state")[0][0]
    assert after == f"proj-{done - 1:03d}"
    assert q(db, "select last_serial from sync_state") == [(None,)]

    upstream.delay = 0
    upstream.requests.clear()
    p = sync(db, upstream, "--batch", "7")
    assert f"resume_after={after}" in p.stderr
    refetched = [r for r in page_requests(upstream) if r.strip("/").split("/")[1] <= after]
    assert refetched == [], "pages committed before the kill are not fetched again"
    assert len(page_requests(upstream)) == 60 - done
    assert snapshot(db) == want


def test_listing_keeps_one_row_per_name_and_replaces_the_last(fresh_db, upstream):
    import json
    db = fresh_db()

    def listing(*projects):
        body = json.dumps({"meta": {"api-version": "1.1", "_last-serial": 9},
                           "projects": [dict(p) for p in projects]}).encode()
        upstream.queued["/simple/"] = [(200, "application/vnd.pypi.simple.v1+json", body)]
        return sync(db, upstream, "--listing-only")

    # Second spellings count once with the higher serial (the first listed on a
    # tie); an invalid name is skipped; no project row is made before its page.
    p = listing({"name": "Foo.Bar", "_last-serial": 3}, {"name": "foo_bar", "_last-serial": 5},
                {"name": "bad name!", "_last-serial": 1}, {"name": "FOO-BAR", "_last-serial": 5},
                {"name": "Other"})
    assert q(db, "select normalized, name, serial from upstream_listing order by 1") == [
        ("foo-bar", "foo_bar", 5), ("other", "Other", None)]
    assert "skipping invalid project name" in p.stderr and "behind=2" in p.stderr
    assert q(db, "select count(*) from projects") == [(0,)]

    # The next listing replaces it whole.
    listing({"name": "other", "_last-serial": 7})
    assert q(db, "select normalized, name, serial from upstream_listing") == [("other", "other", 7)]


def test_pages_are_fetched_in_parallel_on_few_connections(fresh_db, upstream):
    fill(upstream, 40)
    db = fresh_db()
    upstream.delay = 0.1
    upstream.peers.clear()
    run([SYNC, "--once", "--upstream", upstream.url + "/simple/"],
        env={"KILN_DATABASE_URL": db, "KILN_SYNC_CONNECTIONS": "4", "KILN_SYNC_BATCH": "20"})
    assert q(db, "select count(*) from jobs") == [(40,)]
    assert 1 < upstream.max_inflight <= 4
    # 41 requests (listing + 40 pages) over at most 4 page connections and the listing's.
    assert len(upstream.peers) <= 5


def test_progress_on_a_terminal_and_in_the_log(fresh_db, upstream):
    import pty
    fill(upstream, 12)
    db = fresh_db()
    p = sync(db, upstream, "--batch", "5")
    assert 'msg="progress" done=12 of=12' in p.stderr  # not a terminal: log lines

    other = Upstream()
    fill(other, 15)
    db = fresh_db()
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(SYNC), "--once", "--upstream", other.url + "/simple/"],
                            env={**os.environ, "KILN_DATABASE_URL": db, "KILN_LOG": "warn"},
                            stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    other.close()
    assert proc.wait(timeout=60) == 0
    text = out.decode()
    assert "sync: 15/15 projects" in text and "ETA" in text and "/s" in text


def test_sigterm_finishes_the_batch(fresh_db, upstream):
    fill(upstream, 30)
    db = fresh_db()
    upstream.delay = 0.05
    env = {**os.environ, "KILN_DATABASE_URL": db}
    proc = subprocess.Popen([str(SYNC), "--once", "--batch", "5", "--upstream", upstream.url + "/simple/"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(page_requests(upstream)) < 7:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) != 0  # --once did not finish the listing
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped by a signal" in err
    # Whatever was fetched was written: no page fetched and lost.
    assert stored(db) == len(page_requests(upstream))
    upstream.delay = 0
    sync(db, upstream)
    assert q(db, "select count(*) from jobs")[0][0] == 30


def test_stale_page_is_retried_not_stored(fresh_db, upstream):
    db = fresh_db()
    upstream.add_file("demo", "demo-1.0.tar.gz", b"one")
    sync(db, upstream)
    upstream.add_file("demo", "demo-1.1.tar.gz", b"two")
    upstream.stale["demo"] = 2  # the CDN serves the old page twice more
    p = sync(db, upstream)
    assert "stale copy" in p.stderr
    assert q(db, "select upstream_serial from projects") == [(2,)]
    assert [r[0] for r in q(db, "select version from releases order by 1")] == ["1.0", "1.1"]

    # A page that stays stale is never stored, and the listing is not marked seen.
    upstream.add_file("demo", "demo-1.2.tar.gz", b"three")
    upstream.stale["demo"] = 100
    p = sync(db, upstream, check=False)
    assert p.returncode != 0 and "stale copy" in p.stderr
    assert q(db, "select upstream_serial from projects") == [(2,)]
    assert q(db, "select count(*) from releases where version = '1.2'") == [(0,)]
    assert q(db, "select last_serial from sync_state") == [(2,)]
    upstream.stale["demo"] = 0
    sync(db, upstream)
    assert q(db, "select count(*) from releases where version = '1.2'") == [(1,)]


def test_404_page_keeps_the_listing_etag(fresh_db, upstream):
    db = fresh_db()
    upstream.add_file("demo", "demo-1.0.tar.gz", b"one")
    upstream.add_file("vanishing", "vanishing-1.0.tar.gz", b"v")
    sync(db, upstream)
    upstream.add_file("vanishing", "vanishing-1.1.tar.gz", b"v2")
    upstream.add_file("demo", "demo-1.1.tar.gz", b"two")
    upstream.queued["/simple/vanishing/"] = [(404, "text/plain", b"not found")]
    p = sync(db, upstream)
    assert "project page not found" in p.stderr
    assert q(db, "select normalized, deleted_at is null from projects order by 1") == [
        ("demo", True), ("vanishing", False)]
    assert q(db, "select last_serial, listing_etag is not null from sync_state") == [(4, True)]
    upstream.requests.clear()
    p = sync(db, upstream)
    assert upstream.requests == ["/simple/"] and "listing unchanged" in p.stderr


BAD_ANSWERS = {
    "bad json": [(200, "application/vnd.pypi.simple.v1+json", b'{"meta": {"api-version": "1.1"}, "files": [')],
    "wrong hash": [(200, "application/vnd.pypi.simple.v1+json",
                    b'{"meta": {"api-version": "1.1", "_last-serial": 9}, "name": "demo", "files": ['
                    b'{"filename": "demo-1.1.tar.gz", "url": "x", "hashes": {"sha256": "not-hex"}}]}')],
    "server error": [(500, "text/plain", b"oops"), (503, "text/plain", b"busy")],
    "hang": ["hang"],
}


@pytest.mark.parametrize("kind", sorted(BAD_ANSWERS))
def test_malformed_answer_is_retried_and_corrupts_nothing(fresh_db, upstream, kind):
    db = fresh_db()
    upstream.add_file("demo", "demo-1.0.tar.gz", b"one")
    upstream.add_file("other", "other-1.0.tar.gz", b"o")
    sync(db, upstream)
    upstream.add_file("demo", "demo-1.1.tar.gz", b"two")
    upstream.add_file("other", "other-1.1.tar.gz", b"o2")

    # Once: retried, and the sync ends as if nothing happened.
    upstream.queued["/simple/demo/"] = list(BAD_ANSWERS[kind])
    p = sync(db, upstream, "--timeout", "1")
    assert "retrying" in p.stderr
    assert q(db, "select count(*) from releases where version = '1.1'") == [(2,)]

    # Always: demo keeps what it had, other is stored, the sync reports the failure.
    upstream.add_file("demo", "demo-1.2.tar.gz", b"three")
    upstream.add_file("other", "other-1.2.tar.gz", b"o3")
    upstream.queued["/simple/demo/"] = list(BAD_ANSWERS[kind]) * 8
    demo_before = [r for r in snapshot(db)["files"] if r[0].startswith("demo")]
    p = sync(db, upstream, "--timeout", "1", check=False, timeout=300)
    assert p.returncode != 0 and "project sync failed" in p.stderr
    assert [r for r in snapshot(db)["files"] if r[0].startswith("demo")] == demo_before
    assert q(db, "select count(*) from releases where version = '1.2'") == [(1,)], p.stderr  # other's
    assert q(db, "select last_serial from sync_state")[0][0] < upstream.serial

    upstream.queued.clear()
    sync(db, upstream)
    assert q(db, "select count(*) from releases where version = '1.2'") == [(2,)]


def test_bad_html_page_corrupts_nothing(fresh_db):
    up = Upstream(html_only=True)
    try:
        db = fresh_db()
        up.add_file("legacy", "legacy-1.0.tar.gz", b"one")
        sync(db, up)
        up.add_file("newer", "newer-1.0.tar.gz", b"n")  # the listing changes
        up.queued["/simple/legacy/"] = [(200, "text/html", b"\x00\xff<html" + b"<div>" * 300000)] * 8
        p = sync(db, up, check=False)
        assert p.returncode != 0 and "project sync failed" in p.stderr
        assert q(db, "select filename, deleted_at is null from upstream_files order by 1") == [
            ("legacy-1.0.tar.gz", True), ("newer-1.0.tar.gz", True)]
    finally:
        up.close()


def test_release_kiln_built_is_not_planned_again(fresh_db, upstream):
    db = fresh_db()
    with psycopg.connect(db, autocommit=True) as c:
        pid = c.execute("insert into projects (name, normalized) values ('built', 'built')"
                        " returning id").fetchone()[0]
        rid = c.execute("insert into releases (project_id, version, version_normalized)"
                        " values (%s, '1.0', '1.0') returning id", (pid,)).fetchone()[0]
        c.execute("insert into artifacts (project_id, release_id, filename, sha256, size, python_tags,"
                  " abi_tags, platform_tags, metadata, metadata_sha256, storage_key)"
                  " values (%s, %s, 'built-1.0-cp311-cp311-linux_x86_64.whl', %s, 1, '{cp311}',"
                  " '{cp311}', '{linux_x86_64}', '', %s, 'k/built')", (pid, rid, "a" * 64, "b" * 64))
        c.execute("insert into scope_rules (position, pattern, action) values (1, '*', 'always_source')")
    upstream.add_file("built", "built-1.0.tar.gz", b"one")
    upstream.add_file("built", "built-1.1.tar.gz", b"two")
    sync(db, upstream)
    assert q(db, "select r.version, rp.decision, rp.reason from release_plans rp"
                 " join releases r on r.id = rp.release_id order by 1") == [
        ("1.0", "skipped", "covered by kiln wheel built-1.0-cp311-cp311-linux_x86_64.whl"),
            ("1.1", "planned", "new release")]
    assert [r[1] for r in snapshot(db)["jobs"]] == ["1.1"]


def test_feed_turns_a_new_release_into_a_job_before_any_full_sync(fresh_db, upstream):
    db = fresh_db()
    fn, data = make_sdist("fast", "1.0")
    upstream.release("fast", "1.0", fn, data)
    env = {**os.environ, "KILN_DATABASE_URL": db, "KILN_UPSTREAM_URL": upstream.url + "/simple/",
           "KILN_SYNC_FEED_URL": upstream.url + "/rss/updates.xml", "KILN_SYNC_RETRY_MS": "100"}
    proc = subprocess.Popen([str(SYNC), "--interval", "3600", "--feed-interval", "1"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not q(db, "select 1 from jobs"):
            time.sleep(0.1)
        assert len(q(db, "select 1 from jobs")) == 1  # the first full sync
        fn, data = make_sdist("fast", "1.1")
        upstream.release("fast", "1.1", fn, data)
        upstream.stale["fast"] = 2  # the CDN lags: the first fetches miss the new release
        start = time.time()
        found = []
        while time.time() < start + 15 and not found:
            found = q(db, "select j.state from jobs j join releases r on r.id = j.release_id"
                          " where r.version = '1.1'")
            time.sleep(0.05)
        latency = time.time() - start
        assert found == [("queued",)], "the feed did not bring the release in"
        assert upstream.requests.count("/simple/") == 1, "no second full sync ran"
        assert "/rss/updates.xml" in upstream.requests
        assert latency < 10
        assert q(db, "select last_feed_at is not null from sync_state") == [(True,)]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    err = proc.stderr.read()
    assert "mode=feed" in err
    assert "does not list 1.1 yet" in err  # the stale copies were fetched again, not trusted


class CuttableProxy:
    """A TCP proxy to Postgres that the test can cut (every connection closed,
    nothing accepted: the database looks down) and restore on the same port."""

    def __init__(self, target_port):
        import socket
        import threading
        self.target = ("127.0.0.1", target_port)
        self.conns = []
        self.lock = threading.Lock()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.up()

    def up(self):
        import socket
        import threading
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(16)
        threading.Thread(target=self.accept, args=(self.srv,), daemon=True).start()

    def accept(self, srv):
        import socket
        import threading
        while True:
            try:
                a, _ = srv.accept()
            except OSError:
                return
            b = socket.create_connection(self.target)
            with self.lock:
                self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self.pipe, args=(x, y), daemon=True).start()

    @staticmethod
    def pipe(x, y):
        try:
            while True:
                data = x.recv(65536)
                if not data:
                    break
                y.sendall(data)
        except OSError:
            pass
        for s in (x, y):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        import socket
        # shutdown() first: close() alone leaves a thread blocked in accept() accepting.
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
            self.conns = []


def test_daemon_waits_for_the_database_without_spinning(fresh_db, upstream):
    # Found by the chaos run: with the database down, the daemon's reconnect
    # loop did not wait between tries (284,746 "sync failed" lines in one run),
    # and a daemon started while the database was down exited at once.
    import re as re_
    db = fresh_db()
    upstream.add_file("waits", "waits-1.0.tar.gz", b"one")
    pg_port = int(re_.search(r":(\d+)/", db).group(1))
    proxy = CuttableProxy(pg_port)
    proxy.cut()  # down before the daemon starts
    url = db.replace(f":{pg_port}/", f":{proxy.port}/")
    env = {**os.environ, "KILN_DATABASE_URL": url, "KILN_SYNC_INTERVAL": "1", "KILN_LOG": "info"}
    import tempfile
    errf = tempfile.NamedTemporaryFile("w+", delete=False)
    proc = subprocess.Popen([str(SYNC), "--upstream", upstream.url + "/simple/"], env=env,
                            stderr=errf, stdout=subprocess.DEVNULL)
    try:
        time.sleep(3)
        assert proc.poll() is None, open(errf.name).read()
        assert "waiting for it" in open(errf.name).read()
        proxy.up()
        deadline = time.time() + 30
        while time.time() < deadline and q(db, "select count(*) from jobs")[0][0] < 1:
            time.sleep(0.2)
        assert q(db, "select count(*) from jobs")[0][0] == 1, open(errf.name).read()
        # Down again while it runs: it backs off (a handful of tries in 4 s, not thousands).
        before = open(errf.name).read().count("sync failed")
        proxy.cut()
        time.sleep(4)
        tries = open(errf.name).read().count("sync failed") - before
        assert 1 <= tries <= 6, tries
        proxy.up()
        upstream.add_file("waits", "waits-1.1.tar.gz", b"two")
        deadline = time.time() + 40
        while time.time() < deadline and q(db, "select count(*) from jobs")[0][0] < 2:
            time.sleep(0.2)
        assert q(db, "select count(*) from jobs")[0][0] == 2, open(errf.name).read()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.cut()
        os.unlink(errf.name)
