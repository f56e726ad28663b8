"""Git sources and scope rules from kilnctl, synced by kiln-sync.

A git repository made by the test (served over file://, listed by kiln-sync
with libgit2) with version tags becomes releases whose source is URL + commit,
and queued jobs; scope rules added with `kilnctl scope` steer planning.
"""
import os
import signal
import subprocess
import time

import psycopg
import pytest

from conftest import BUILD, KILNCTL, run
from fakeindex import Upstream
from sdists import make_sdist

SYNC = BUILD / "registry-sync" / "kiln-sync"


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
    return migrated


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    yield up
    up.close()


def git(repo, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "HOME": str(repo), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def commit(repo, version):
    (repo / "setup.py").write_text(
        f"from setuptools import setup\nsetup(name='gitpkg', version='{version}')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"version {version}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = tmp_path_factory.mktemp("gitpkg")
    git(r, "init", "-q", "-b", "main")
    commit(r, "1.0")
    git(r, "tag", "v1.0")                       # lightweight, "v" prefix
    commit(r, "1.1")
    git(r, "tag", "-a", "1.1", "-m", "release 1.1")  # annotated: counts by its commit
    git(r, "tag", "nightly")                     # not a version: ignored
    return r


def kilnctl(db, *args, check=True):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": db}, check=check)


def sync(db, up):
    return run([SYNC, "--once", "--upstream", up.url + "/simple/"],
               env={"KILN_DATABASE_URL": db}, timeout=120)


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def git_releases(db):
    return q(db, "select r.version, r.git_tag, r.git_commit from releases r"
                 " join projects p on p.id = r.project_id where p.normalized = 'gitpkg'"
                 " and r.git_source_id is not null order by 1")


def test_add_git_refuses_bad_input(db):
    p = kilnctl(db, "source", "add-git", "not a name!", "https://example.invalid/x.git", check=False)
    assert p.returncode != 0 and "name" in p.stderr
    p = kilnctl(db, "source", "add-git", "gitpkg", "-uhttps://x", check=False)
    assert p.returncode != 0 and "not a git URL" in p.stderr
    p = kilnctl(db, "source", "add-git", "gitpkg", check=False)
    assert p.returncode != 0 and "usage" in p.stderr
    assert q(db, "select count(*) from git_sources") == [(0,)]


def test_two_tags_become_two_releases_and_jobs(db, upstream, repo):
    url = f"file://{repo}"
    out = kilnctl(db, "source", "add-git", "GitPkg", url).stdout
    assert "gitpkg" in out and url in out
    p = sync(db, upstream)
    assert "git release added" in p.stderr
    assert git_releases(db) == [
        ("1.0", "v1.0", git(repo, "rev-parse", "v1.0")),
        ("1.1", "1.1", git(repo, "rev-parse", "1.1^{commit}"))]
    assert q(db, "select r.version, j.state from jobs j join releases r on r.id = j.release_id"
                 " order by 1") == [("1.0", "queued"), ("1.1", "queued")]
    listed = kilnctl(db, "source", "list").stdout
    assert "gitpkg" in listed and url in listed and " 2 " in listed

    sync(db, upstream)  # idempotent
    assert len(git_releases(db)) == 2
    assert q(db, "select count(*) from jobs") == [(2,)]


def test_new_tag_becomes_a_release_and_moved_tags_change_nothing(db, upstream, repo):
    old = git_releases(db)
    commit(repo, "1.2")
    git(repo, "tag", "v1.2")
    git(repo, "tag", "-f", "v1.0")  # moved to another commit after the fact
    sync(db, upstream)
    rel = git_releases(db)
    assert rel[:2] == old
    assert rel[2] == ("1.2", "v1.2", git(repo, "rev-parse", "v1.2"))
    assert q(db, "select count(*) from jobs") == [(3,)]


def test_unreachable_repository_is_reported_not_fatal(db, upstream, tmp_path):
    kilnctl(db, "source", "add-git", "broken", f"file://{tmp_path}/missing")
    upstream.add_file("demo", *make_sdist("demo", "1.0"))
    p = run([SYNC, "--once", "--upstream", upstream.url + "/simple/"],
            env={"KILN_DATABASE_URL": db}, check=False, timeout=120)
    assert p.returncode != 0 and "git source failed" in p.stderr
    assert q(db, "select count(*) from releases r join projects p on p.id = r.project_id"
                 " where p.normalized = 'demo'") == [(1,)]  # the upstream was still synced
    assert "last error" in kilnctl(db, "source", "list").stdout
    kilnctl(db, "source", "remove", "broken", f"file://{tmp_path}/missing")
    sync(db, upstream)


def test_scope_rules_from_kilnctl(db, upstream):
    assert "no rules" in kilnctl(db, "scope", "list").stdout
    kilnctl(db, "scope", "deny", "secret-*")
    kilnctl(db, "scope", "always-source", "pure*")
    kilnctl(db, "scope", "allow", "secret-ok", "--position", "1")
    listed = kilnctl(db, "scope", "list").stdout.splitlines()
    assert [line.split() for line in listed[1:]] == [
        ["1", "allow", "all", "secret-ok"], ["2", "deny", "all", "secret-*"],
        ["3", "always-source", "all", "pure*"]]
    p = kilnctl(db, "scope", "forbid", "x", check=False)
    assert p.returncode != 0 and "usage" in p.stderr

    upstream.add_file("secret-thing", *make_sdist("secret-thing", "1.0"))
    upstream.add_file("secret-ok", *make_sdist("secret-ok", "1.0"))
    fn, data = make_sdist("purelib", "1.0")
    upstream.add_file("purelib", fn, data)
    upstream.add_file("purelib", "purelib-1.0-py3-none-any.whl", b"PK\x05\x06" + b"\0" * 18)
    sync(db, upstream)
    assert q(db, "select p.normalized, rp.decision, rp.reason from release_plans rp"
                 " join releases r on r.id = rp.release_id join projects p on p.id = r.project_id"
                 " where p.normalized in ('secret-thing', 'secret-ok', 'purelib') order by 1") == [
        ("purelib", "planned", "new release"), ("secret-ok", "planned", "new release"),
        ("secret-thing", "skipped", "denied by scope")]
    kilnctl(db, "scope", "remove", "secret-*")
    assert "secret-*" not in kilnctl(db, "scope", "list").stdout
    p = kilnctl(db, "scope", "remove", "secret-*", check=False)
    assert p.returncode != 0 and "no scope rule" in p.stderr


def test_daemon_polls_tags_between_full_syncs(db, upstream, tmp_path):
    r = tmp_path / "gitpoll"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    commit(r, "1.0")
    git(r, "tag", "v1.0")
    kilnctl(db, "source", "add-git", "gitpoll", f"file://{r}")

    def versions():
        return [v for v, in q(db, "select r.version from releases r join projects p"
                                  " on p.id = r.project_id where p.normalized = 'gitpoll' order by 1")]

    listings = upstream.requests.count("/simple/")
    proc = subprocess.Popen([str(SYNC), "--upstream", upstream.url + "/simple/"], stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "KILN_DATABASE_URL": db,
                                            "KILN_SYNC_INTERVAL": "3600", "KILN_SYNC_GIT_INTERVAL": "1"})
    try:
        deadline = time.time() + 60
        while versions() != ["1.0"] and time.time() < deadline:
            time.sleep(0.1)
        assert versions() == ["1.0"]  # the first full sync's pass
        commit(r, "2.0")
        git(r, "tag", "v2.0")
        deadline = time.time() + 30
        while versions() != ["1.0", "2.0"] and time.time() < deadline:
            time.sleep(0.1)
        assert versions() == ["1.0", "2.0"]
        # Noticed by a tag poll, with the next full sync an hour away.
        assert upstream.requests.count("/simple/") == listings + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, err


def test_removing_a_source_keeps_its_releases(db, upstream):
    """`kilnctl source remove` on a source that made releases (it failed on the
    schema's check before migration 0008): the releases and their commits stay,
    and the next sync neither deletes nor re-adds them."""
    url = q(db, "select s.url from git_sources s join projects p on p.id = s.project_id"
                " where p.normalized = 'gitpkg'")[0][0]
    def kept():
        return q(db, "select r.version, r.git_tag, r.git_commit from releases r join projects p"
                     " on p.id = r.project_id where p.normalized = 'gitpkg' order by 1")
    before = kept()
    assert before == git_releases(db) and before
    out = kilnctl(db, "source", "remove", "gitpkg", url).stdout
    assert "removed" in out and url not in kilnctl(db, "source", "list").stdout
    sync(db, upstream)
    assert kept() == before
    assert git_releases(db) == []  # no longer tied to a source
