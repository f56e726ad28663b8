"""KILN_SYNC_PROJECTS: kiln-sync fetches and stores only the selected projects.

A whole public index lists hundreds of thousands of projects; `just up` mirrors
a handful. Against the generated upstream of test_sync: only selected pages are
requested, unselected projects are never stored, narrowing the selection does
not mark mirrored projects deleted, and a bad selection is a clear error.
"""
import psycopg
import pytest

from conftest import run
from sdists import make_sdist
from test_sync import SYNC, Upstream


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    for name in ("crc-fast", "crc-slow", "zope-thing", "other"):
        fn, data = make_sdist(name, "1.0")
        up.add_file(name, fn, data)
    yield up
    up.close()


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('bookworm-py311-x86_64', 'img', 'cp311', '3.11', 'linux_x86_64')")
    return migrated


def sync(db, upstream, projects, check=True):
    return run([SYNC, "--once", "--upstream", upstream.url + "/simple/"],
               env={"KILN_DATABASE_URL": db, "KILN_SYNC_PROJECTS": projects},
               check=check, timeout=120)


def live_projects(db):
    with psycopg.connect(db) as c:
        return sorted(r[0] for r in c.execute(
            "select normalized from projects where deleted_at is null").fetchall())


def page_requests(upstream):
    return sorted({p for p in upstream.requests if p.startswith("/simple/") and p != "/simple/"})


def test_only_selected_pages_are_fetched_and_stored(db, upstream):
    upstream.requests.clear()
    sync(db, upstream, "crc-*, Zope_Thing")
    assert page_requests(upstream) == ["/simple/crc-fast/", "/simple/crc-slow/", "/simple/zope-thing/"]
    assert live_projects(db) == ["crc-fast", "crc-slow", "zope-thing"]
    with psycopg.connect(db) as c:
        jobs = c.execute("select p.normalized from jobs j join releases r on r.id = j.release_id"
                         " join projects p on p.id = r.project_id order by 1").fetchall()
    assert [j[0] for j in jobs] == ["crc-fast", "crc-slow", "zope-thing"]


def test_narrowing_the_selection_keeps_mirrored_projects(db, upstream):
    upstream.touch("crc-slow")  # a changed serial would make it fetched again if selected
    upstream.requests.clear()
    sync(db, upstream, "crc-fast")
    assert page_requests(upstream) == []
    assert live_projects(db) == ["crc-fast", "crc-slow", "zope-thing"]


def test_empty_selection_mirrors_everything(db, upstream):
    sync(db, upstream, "")
    assert live_projects(db) == ["crc-fast", "crc-slow", "other", "zope-thing"]


def test_bad_selection_is_a_clear_error(db, upstream):
    upstream.requests.clear()
    p = sync(db, upstream, "crcmod; rm -rf", check=False)
    assert p.returncode == 1
    assert "KILN_SYNC_PROJECTS: 'crcmod;' is not a project name or glob" in p.stderr
    assert upstream.requests == []
