"""kiln-sync against a static upstream index made by the test.

The upstream is a small http.server that speaks PEP 691 JSON (and PEP 503 HTML
when JSON is not asked for), with a listing ETag for conditional GETs, serving
the sdists and wheels themselves too. The tests run in order against one
database: first sync, unchanged re-sync, a new release, a yank, a deleted file,
a release covered by a pure-Python wheel.
"""
import hashlib
import secrets

import psycopg
import pytest

from conftest import BUILD, KILNCTL, _db_url, drop_database, run
from fakeindex import Upstream
from sdists import make_sdist

SYNC = BUILD / "registry-sync" / "kiln-sync"


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    yield up
    up.close()


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('bookworm-py311-x86_64', 'img', 'cp311', '3.11', 'linux_x86_64')")
        c.execute("insert into targets (name, image, python_tag, python_version, platform, enabled)"
                  " values ('off', 'img', 'cp312', '3.12', 'linux_x86_64', false)")
    return migrated


def sync(db, upstream, check=True):
    return run([SYNC, "--once", "--upstream", upstream.url + "/simple/"],
               env={"KILN_DATABASE_URL": db}, check=check, timeout=120)


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def jobs(db, project):
    return q(db, "select r.version, t.name, j.state from jobs j join releases r on r.id = j.release_id"
                 " join projects p on p.id = r.project_id join targets t on t.id = j.target_id"
                 " where p.normalized = %s order by r.version", project)


def test_missing_upstream_is_a_clear_error(db):
    p = run([SYNC, "--once"], env={"KILN_DATABASE_URL": db, "KILN_UPSTREAM_URL": ""}, check=False)
    assert p.returncode != 0
    assert "KILN_UPSTREAM_URL is not set" in p.stderr


def test_first_sync_creates_projects_and_jobs(db, upstream):
    upstream.add_file("demo", *make_sdist("demo", "1.0"))
    upstream.add_file("other-pkg", *make_sdist("other-pkg", "2.0"))
    sync(db, upstream)
    assert q(db, "select normalized, upstream_serial from projects order by 1") == [
        ("demo", 1), ("other-pkg", 2)]
    files = q(db, "select f.filename, f.kind, f.sha256, f.size, f.requires_python, f.url"
                  " from upstream_files f order by 1")
    assert [f[:2] for f in files] == [("demo-1.0.tar.gz", "sdist"), ("other_pkg-2.0.tar.gz", "sdist")]
    assert files[0][2] == hashlib.sha256(upstream.projects["demo"]["files"][0]["data"]).hexdigest()
    assert files[0][4] == ">=3.8"
    assert files[0][5] == upstream.url + "/files/demo-1.0.tar.gz"
    assert jobs(db, "demo") == [("1.0", "bookworm-py311-x86_64", "queued")]
    assert jobs(db, "other-pkg") == [("2.0", "bookworm-py311-x86_64", "queued")]
    assert q(db, "select decision, reason from release_plans order by release_id") == [
        ("planned", "new release"), ("planned", "new release")]
    assert q(db, "select last_serial from sync_state") == [(2,)]


def test_unchanged_listing_is_a_304(db, upstream):
    upstream.requests.clear()
    p = sync(db, upstream)
    assert upstream.requests == ["/simple/"]
    assert "listing unchanged" in p.stderr
    assert len(q(db, "select id from jobs")) == 2


def test_new_release_becomes_a_job(db, upstream):
    upstream.add_file("demo", *make_sdist("demo", "1.1"))
    upstream.requests.clear()
    sync(db, upstream)
    assert "/simple/other-pkg/" not in upstream.requests  # its serial did not rise
    assert jobs(db, "demo") == [("1.0", "bookworm-py311-x86_64", "queued"),
                                ("1.1", "bookworm-py311-x86_64", "queued")]
    sync(db, upstream)  # idempotent
    assert len(q(db, "select id from jobs")) == 3


def test_yank_is_followed(db, upstream):
    upstream.projects["demo"]["files"][1]["yanked"] = "broken"
    upstream.touch("demo")
    sync(db, upstream)
    assert q(db, "select r.version, r.yanked, r.yanked_reason, f.yanked from releases r"
                 " join upstream_files f on f.release_id = r.id join projects p on p.id = r.project_id"
                 " where p.normalized = 'demo' order by 1") == [
        ("1.0", False, None, False), ("1.1", True, "broken", True)]
    upstream.projects["demo"]["files"][1]["yanked"] = False
    upstream.touch("demo")
    sync(db, upstream)
    assert q(db, "select yanked from releases where version = '1.1'") == [(False,)]


def test_removed_file_is_marked_deleted(db, upstream):
    del upstream.projects["demo"]["files"][0]
    upstream.touch("demo")
    sync(db, upstream)
    rows = q(db, "select f.filename, f.deleted_at is not null, r.deleted_at is not null"
                 " from upstream_files f join releases r on r.id = f.release_id"
                 " where f.filename like 'demo-%%' order by 1")
    assert rows == [("demo-1.0.tar.gz", True, True), ("demo-1.1.tar.gz", False, False)]


def test_foreign_and_unparsable_files_are_skipped(db, upstream):
    upstream.add_file("demo", *make_sdist("intruder", "9.0"))
    upstream.add_file("demo", "demo-notaversion!.tar.gz", b"x")
    p = sync(db, upstream)
    assert "skipping upstream file" in p.stderr
    assert q(db, "select count(*) from upstream_files where filename like 'intruder%%'"
                 " or filename like 'demo-notaversion%%'") == [(0,)]
    assert q(db, "select count(*) from releases where version = '9.0'") == [(0,)]


def test_pure_python_wheel_covers_the_target(db, upstream):
    fn, data = make_sdist("purelib", "3.0")
    upstream.projects["purelib"] = {"files": [
        {"filename": fn, "data": data, "yanked": False},
        {"filename": "purelib-3.0-py3-none-any.whl", "data": b"PK\x05\x06" + b"\0" * 18,
         "yanked": False}]}
    upstream.touch("purelib")
    sync(db, upstream)
    assert jobs(db, "purelib") == []
    assert q(db, "select rp.decision, rp.reason from release_plans rp join releases r"
                 " on r.id = rp.release_id where r.version = '3.0'") == [
        ("skipped", "covered by upstream wheel")]


def test_second_instance_is_refused(db, upstream):
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("select pg_advisory_lock(hashtext('kiln-sync'))")
        p = sync(db, upstream, check=False)
    assert p.returncode != 0
    assert "another kiln-sync" in p.stderr


def test_removed_project_is_marked_deleted(db, upstream):
    upstream.add_file("gone", *make_sdist("gone", "1.0"))
    sync(db, upstream)
    assert q(db, "select deleted_at is null from projects where normalized = 'gone'") == [(True,)]
    del upstream.projects["gone"]
    upstream.serial += 1
    p = sync(db, upstream)
    assert q(db, "select deleted_at is null from projects where normalized = 'gone'") == [(False,)], p.stderr
    assert q(db, "select deleted_at is null from projects where normalized = 'demo'") == [(True,)]


def test_scope_deny(db, upstream):
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into scope_rules (position, pattern, action) values (1, 'secret-*', 'deny')")
    upstream.add_file("secret-thing", *make_sdist("secret-thing", "1.0"))
    sync(db, upstream)
    assert jobs(db, "secret-thing") == []
    assert q(db, "select rp.decision, rp.reason from release_plans rp join releases r on r.id = rp.release_id"
                 " join projects p on p.id = r.project_id where p.normalized = 'secret-thing'") == [
        ("skipped", "denied by scope")]


def test_429_is_retried_after_retry_after(db, upstream):
    upstream.add_file("demo", *make_sdist("demo", "1.2"))
    upstream.fail = 2
    p = sync(db, upstream)
    assert "retrying" in p.stderr
    assert ("1.2", "bookworm-py311-x86_64", "queued") in jobs(db, "demo")


@pytest.fixture(scope="module")
def html_db(pg_url):
    name = "kt_sync_html_" + secrets.token_hex(3)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    url = _db_url(pg_url, name)
    run([KILNCTL, "migrate"], env={"KILN_DATABASE_URL": url})
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
    yield url
    drop_database(pg_url, name)


def test_html_upstream_without_serials(html_db):
    up = Upstream(html_only=True)
    try:
        up.add_file("Legacy.Pkg", *make_sdist("legacy-pkg", "0.1"))
        sync(html_db, up)
        assert q(html_db, "select f.filename, f.requires_python, f.url, f.sha256 is not null"
                          " from upstream_files f") == [
            ("legacy_pkg-0.1.tar.gz", ">=3.9", up.url + "/files/legacy_pkg-0.1.tar.gz", True)]
        assert jobs(html_db, "legacy-pkg") == [("0.1", "t311", "queued")]
        assert q(html_db, "select page_etag is not null from projects") == [(True,)]

        # Unchanged listing: one request, a 304.
        up.requests.clear()
        sync(html_db, up)
        assert up.requests == ["/simple/"]

        # A yank changes the page but not the listing: the listing's 304 hides it
        # until the listing changes; then the page is fetched again by its ETag.
        up.projects["Legacy.Pkg"]["files"][0]["yanked"] = "oops"
        up.add_file("another", *make_sdist("another", "1.0"))
        up.requests.clear()
        sync(html_db, up)
        assert "/simple/Legacy.Pkg/" not in up.requests  # pages are fetched by normalized name
        assert q(html_db, "select yanked, yanked_reason from releases r join projects p"
                          " on p.id = r.project_id where p.normalized = 'legacy-pkg'") == [(True, "oops")]
    finally:
        up.close()


def test_daemon_syncs_until_sigterm(db, upstream):
    import os
    import signal
    import subprocess
    import time

    env = {**os.environ, "KILN_DATABASE_URL": db, "KILN_UPSTREAM_URL": upstream.url + "/simple/"}
    proc = subprocess.Popen([str(SYNC), "--interval", "1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        upstream.requests.clear()
        deadline = time.time() + 20
        while upstream.requests.count("/simple/") < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert upstream.requests.count("/simple/") >= 2  # it came back after the interval
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "listing unchanged" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
