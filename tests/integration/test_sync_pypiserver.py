"""kiln-sync against a real index server: pypiserver (from PyPI), serving a
directory of sdists the tests build.

The basic flow a user relies on: first sync, a new upload becomes a queued job,
a removed file and a removed project are followed. pypiserver has no serials and
no yanking; those are covered against the scriptable upstream in test_sync.py.
"""
import hashlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from conftest import BUILD, free_port, run
from sdists import make_sdist

SYNC = BUILD / "registry-sync" / "kiln-sync"
PYPI_SERVER = Path(sys.executable).parent / "pypi-server"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A running pypiserver; yields (simple URL, packages directory)."""
    packages = tmp_path_factory.mktemp("packages")
    port = free_port()
    log = open(packages.parent / "pypiserver.log", "w")
    proc = subprocess.Popen([str(PYPI_SERVER), "run", "-i", "127.0.0.1", "-p", str(port),
                             "-a", ".", "-P", ".", "--backend", "simple-dir",
                             "--hash-algo", "sha256", str(packages)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError("pypiserver did not start: " +
                                         (packages.parent / "pypiserver.log").read_text())
                time.sleep(0.2)
        yield url, packages
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
    return migrated


def publish(packages, name, version):
    fn, data = make_sdist(name, version)
    (packages / fn).write_bytes(data)
    return fn, data


def sync(db, url):
    return run([SYNC, "--once", "--upstream", url], env={"KILN_DATABASE_URL": db}, timeout=120)


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def jobs(db):
    return q(db, "select p.normalized, r.version, j.state from jobs j"
                 " join releases r on r.id = j.release_id join projects p on p.id = r.project_id"
                 " order by 1, 2")


def test_first_sync(db, index):
    url, packages = index
    fn, data = publish(packages, "demo", "1.0")
    publish(packages, "other-pkg", "2.0")
    sync(db, url)
    assert q(db, "select normalized, deleted_at is null from projects order by 1") == [
        ("demo", True), ("other-pkg", True)]
    files = q(db, "select filename, kind, sha256, url from upstream_files order by 1")
    assert [f[:2] for f in files] == [(fn, "sdist"), ("other_pkg-2.0.tar.gz", "sdist")]
    assert files[0][2] == hashlib.sha256(data).hexdigest()
    # The file URL really serves the file.
    assert urllib.request.urlopen(files[0][3], timeout=10).read() == data
    assert jobs(db) == [("demo", "1.0", "queued"), ("other-pkg", "2.0", "queued")]


def test_new_release_becomes_a_job(db, index):
    url, packages = index
    publish(packages, "demo", "1.1")
    sync(db, url)
    assert jobs(db) == [("demo", "1.0", "queued"), ("demo", "1.1", "queued"),
                        ("other-pkg", "2.0", "queued")]
    sync(db, url)  # nothing new: nothing doubles
    assert len(jobs(db)) == 3


def test_removed_file_is_followed(db, index):
    url, packages = index
    (packages / "demo-1.0.tar.gz").unlink()
    sync(db, url)
    assert q(db, "select r.version, r.deleted_at is null, f.deleted_at is null from releases r"
                 " join upstream_files f on f.release_id = r.id join projects p on p.id = r.project_id"
                 " where p.normalized = 'demo' order by 1") == [("1.0", False, False), ("1.1", True, True)]


def test_removed_project_is_followed(db, index):
    url, packages = index
    (packages / "other_pkg-2.0.tar.gz").unlink()
    sync(db, url)
    assert q(db, "select normalized, deleted_at is null from projects order by 1") == [
        ("demo", True), ("other-pkg", False)]
