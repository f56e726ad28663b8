"""Backups: `just backup` stores a pg_dump in the object store, `just restore`
brings it back into an empty database, and a backend on the restored database
serves the same index: the same /simple/ and project pages, byte for byte, and
the same wheel downloads.

The farm here is a real backend over real SeaweedFS with two wheels uploaded
through the builders' endpoint and published; the backup and restore run the
script behind the just recipes (scripts/backup.sh) with the same environment an
operator would give it.
"""
import hashlib
import secrets
import urllib.request

import psycopg
import pytest

from conftest import KILNCTL, ROOT, _db_url, drop_database, run
from test_install import TOKEN, leased_job, upload
from wheels import make_wheel

BACKUP = ROOT / "scripts" / "backup.sh"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def farm(migrated, s3, backend_factory):
    """A backend on s3 with Kiln-Demo 1.0 and 1.1 published; returns (backend, {filename: bytes})."""
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('Kiln-Demo', 'kiln-demo')")
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "('bookworm-py311-x86_64', 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64')")
    backend = backend_factory(migrated, storage="s3", env=s3)
    wheels = {}
    for version in ("1.0", "1.1"):
        job = leased_job(migrated, version)
        fn, data = make_wheel("Kiln-Demo", version, requires_python=">=3.8")
        status, _, body = upload(backend, job, fn, data, token=TOKEN)
        assert status in (200, 201), body
        with psycopg.connect(migrated, autocommit=True) as c:
            c.execute("update artifacts set published_at = now() where job_id = %s", (job,))
        wheels[fn] = data
    return backend, wheels


@pytest.fixture
def empty_database(pg_url):
    name = "kt_restore_" + secrets.token_hex(3)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    yield _db_url(pg_url, name)
    drop_database(pg_url, name)


@pytest.fixture
def backup_name(s3):
    """A backup name no other run uses; the stored dump is removed afterwards."""
    name = f"it-{secrets.token_hex(4)}.dump"
    yield name
    run([KILNCTL, "storage", "rm", f"backups/{name}"], env=s3, check=False)


def pages(backend):
    """What pip and uv see: index and project pages in both formats."""
    got = {}
    for path in ("/simple/", "/simple/kiln-demo/"):
        for accept in ("text/html", JSON_TYPE):
            status, headers, body = backend.get(path, headers={"Accept": accept})
            assert status == 200, (path, accept, status, body)
            got[(path, accept)] = body
    return got


def download(backend, filename):
    """The wheel's bytes as pip gets them: the project page's link, then its redirect."""
    import urllib.parse
    path = urllib.parse.urljoin("/simple/kiln-demo/", file_path(backend, filename))
    status, headers, body = backend.get(path)
    if status in (301, 302, 303, 307, 308):
        with urllib.request.urlopen(headers["location"], timeout=30) as r:
            return r.read()
    assert status == 200, (status, body)
    return body


def file_path(backend, filename):
    """The path of filename's link on the project page (relative links resolved)."""
    _, _, body = backend.get("/simple/kiln-demo/", headers={"Accept": JSON_TYPE})
    import json
    for f in json.loads(body)["files"]:
        if f["filename"] == filename:
            return f["url"]
    raise AssertionError(f"{filename} not on the project page: {body!r}")


def test_restore_into_an_empty_database_serves_the_same_index(farm, migrated, empty_database, s3,
                                                              backend_factory, backup_name):
    backend, wheels = farm
    before = pages(backend)
    assert b"Kiln-Demo" in before[("/simple/", "text/html")] or b"kiln-demo" in before[("/simple/", "text/html")]
    for fn in wheels:
        assert fn.encode() in before[("/simple/kiln-demo/", "text/html")]

    out = run([BACKUP, "backup", backup_name], env={**s3, "KILN_DATABASE_URL": migrated}).stdout
    assert out.strip() == f"backups/{backup_name}"
    listed = run([BACKUP, "list"], env={**s3, "KILN_DATABASE_URL": migrated}).stdout
    assert f"backups/{backup_name} " in listed

    run([BACKUP, "restore", backup_name], env={**s3, "KILN_DATABASE_URL": empty_database})
    restored = backend_factory(empty_database, storage="s3", env=s3)
    after = pages(restored)
    assert after == before
    for fn, data in wheels.items():
        assert file_path(restored, fn) == file_path(backend, fn)
        got = download(restored, fn)
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), fn
    # The restored database is a working farm database: migrations all applied.
    status = run([KILNCTL, "migrate", "--status"], env={"KILN_DATABASE_URL": empty_database}).stdout
    assert status.strip() and all(line.split()[1] == "applied" for line in status.splitlines() if line.strip()), status


def test_restore_refuses_a_database_that_holds_data(farm, migrated, s3, backup_name):
    run([BACKUP, "backup", backup_name], env={**s3, "KILN_DATABASE_URL": migrated})
    with psycopg.connect(migrated) as c:
        before = c.execute("select count(*) from artifacts").fetchone()[0]
    p = run([BACKUP, "restore", backup_name], env={**s3, "KILN_DATABASE_URL": migrated}, check=False)
    assert p.returncode != 0
    assert "restore only into an empty database" in p.stderr
    with psycopg.connect(migrated) as c:
        assert c.execute("select count(*) from artifacts").fetchone()[0] == before == 2


def test_restore_of_an_unknown_backup_says_so(empty_database, s3):
    p = run([BACKUP, "restore", "no-such-backup.dump"], env={**s3, "KILN_DATABASE_URL": empty_database},
            check=False)
    assert p.returncode == 1 and "no backup 'no-such-backup.dump'" in p.stderr
    p = run([BACKUP, "backup", "../escape"], env={**s3, "KILN_DATABASE_URL": empty_database}, check=False)
    assert p.returncode == 1 and "bad backup name" in p.stderr


def test_restore_takes_the_newest_by_default(farm, migrated, empty_database, s3):
    """Without a name, restore picks the newest of the backups named by time, not
    one named by hand that merely sorts last."""
    env = {**s3, "KILN_DATABASE_URL": migrated}
    by_hand = f"zz-{secrets.token_hex(4)}.dump"
    run([BACKUP, "backup", by_hand], env=env)
    key = run([BACKUP, "backup"], env=env).stdout.strip()
    try:
        assert run([BACKUP, "list"], env=env).stdout.splitlines()[-1].startswith(f"backups/{by_hand} ")
        got = run([BACKUP, "restore"], env={**s3, "KILN_DATABASE_URL": empty_database}).stdout.strip()
        assert got == key
        with psycopg.connect(empty_database) as c:
            assert c.execute("select count(*) from artifacts where published_at is not null").fetchone()[0] == 2
    finally:
        run([KILNCTL, "storage", "rm", key], env=s3, check=False)
        run([KILNCTL, "storage", "rm", f"backups/{by_hand}"], env=s3, check=False)
