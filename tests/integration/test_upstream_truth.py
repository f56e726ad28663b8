"""What the upstream says about its releases reaches Kiln's index, on every replica.

A local upstream (fakeindex) yanks, unyanks and deletes; kiln-sync mirrors it;
Kiln has built wheels for the releases (rows and bytes put here, as a finished
build leaves them). Two backend replicas share the database and the storage,
and each has the pages cached before every change, so what is checked is the
change reaching both caches, not a first read:
  - a yank marks Kiln's wheels of the release yanked with its reason (PEP 592,
    `data-yanked` in HTML, `yanked` in JSON), pip skips them unless the version
    is pinned, and an unyank clears it;
  - a deleted release or project leaves /simple/, the downloads and the API
    within a second of the sync, while its wheels stay in storage until
    KILN_DELETED_RETENTION has passed and a sweep removes them;
  - a release's time is the upstream's upload time (PEP 700), in the API and
    as the upload-time of Kiln's wheels.
"""
import hashlib
import json
import os
import sys
import time

import psycopg
import pytest

from conftest import BUILD, KILNCTL, run
from fakeindex import Upstream
from sdists import make_sdist
from wheels import make_wheel, wheel_metadata

SYNC = BUILD / "registry-sync" / "kiln-sync"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
T_10 = "2019-05-06T07:08:09Z"
T_11 = "2021-10-11T12:13:14Z"


def q(db, sql, *args):
    with psycopg.connect(db, autocommit=True) as c:
        cur = c.execute(sql, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, tmp_path_factory):
    store = tmp_path_factory.mktemp("truth-store")
    q(migrated, "insert into targets (name, image, python_tag, python_version, platform)"
                " values ('bookworm-py311-x86_64', 'img', 'cp311', '3.11', 'linux_x86_64')")
    up = Upstream()
    env = {"KILN_STORAGE_DIR": str(store)}
    a = backend_factory(migrated, env=env)
    b = backend_factory(migrated, env=env)
    f = type("Farm", (), {})()
    f.db, f.up, f.replicas, f.store, f.env, f.start = migrated, up, (a, b), store, env, backend_factory
    f.tmp = tmp_path_factory.mktemp("truth")
    yield f
    up.close()


def sync(f):
    return run([SYNC, "--once", "--upstream", f.up.url + "/simple/"],
               env={"KILN_DATABASE_URL": f.db}, timeout=120)


def page(backend, project):
    """(status, parsed PEP 691 JSON or None)."""
    st, _, body = backend.get(f"/simple/{project}/", headers=JSON)
    return st, (json.loads(body) if st == 200 else None)


def html(backend, project):
    return backend.get(f"/simple/{project}/")[2].decode()


def files(backend, project):
    st, doc = page(backend, project)
    return {x["filename"]: x for x in doc["files"]} if st == 200 else {}


def within(seconds, pred, what):
    deadline = time.time() + seconds
    while True:
        got = pred()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.05)


def stored(f):
    return sorted(os.path.relpath(os.path.join(d, n), f.store)
                  for d, _, ns in os.walk(f.store) for n in ns if not n.startswith("."))


def build_wheel(f, project, version):
    """Kiln's wheel of a mirrored release: row (published) and bytes in storage."""
    fn, data = make_wheel(project, version)
    key = f"wheels/truth/{fn}"
    meta = wheel_metadata(data)
    q(f.db, "insert into artifacts (project_id, release_id, filename, sha256, size, python_tags,"
            " abi_tags, platform_tags, metadata, metadata_sha256, storage_key, published_at)"
            " select p.id, r.id, %s, %s, %s, '{py3}', '{none}', '{any}', %s, %s, %s, now()"
            " from projects p join releases r on r.project_id = p.id"
            " where p.normalized = %s and r.version = %s",
      fn, hashlib.sha256(data).hexdigest(), len(data), meta, hashlib.sha256(meta).hexdigest(), key,
      project, version)
    path = f.tmp / fn
    path.write_bytes(data)
    run([KILNCTL, "storage", "put", key, path],
        env={"KILN_DATABASE_URL": f.db, "KILN_STORAGE": "fs", **f.env})
    return fn


def test_mirrored_releases_are_served_with_upstream_times(farm):
    f = farm
    f.up.add_file("truthy", *make_sdist("truthy", "1.0"), upload_time=T_10)
    f.up.add_file("truthy", *make_sdist("truthy", "1.1"), upload_time=T_11)
    f.up.add_file("goner", *make_sdist("goner", "1.0"), upload_time=T_10)
    sync(f)
    f.w10 = build_wheel(f, "truthy", "1.0")
    f.w11 = build_wheel(f, "truthy", "1.1")
    f.wg = build_wheel(f, "goner", "1.0")
    for r in f.replicas:
        got = files(r, "truthy")
        assert set(got) == {f.w10, f.w11}
        assert got[f.w10]["yanked"] is False and got[f.w11]["yanked"] is False
        # PEP 700: when the upstream published the release, not when Kiln built the wheel.
        assert got[f.w10]["upload-time"].startswith("2019-05-06T07:08:09")
        assert got[f.w11]["upload-time"].startswith("2021-10-11T12:13:14")
    st, _, body = f.replicas[0].get("/api/v1/projects/truthy")
    rels = {r["version"]: r for r in json.loads(body)["releases"]}
    assert rels["1.0"]["uploaded_at"] == T_10 and rels["1.1"]["uploaded_at"] == T_11
    st, _, body = f.replicas[1].get("/api/v1/projects/truthy/releases/1.1")
    assert st == 200 and json.loads(body)["uploaded_at"] == T_11


def pip_download(f, spec):
    out = f.tmp / f"dl-{time.monotonic_ns()}"
    p = run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--only-binary", ":all:", "--index-url", f.replicas[1].url + "/simple/",
             "-d", out, spec], env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""},
            check=False)
    return p, sorted(os.listdir(out)) if out.exists() else []


def test_a_yank_reaches_kilns_wheels_on_both_replicas(farm):
    f = farm
    for r in f.replicas:  # cached on both
        assert files(r, "truthy")[f.w11]["yanked"] is False
    f.up.projects["truthy"]["files"][1]["yanked"] = "broken build, use 1.2"
    f.up.touch("truthy")
    sync(f)
    for r in f.replicas:
        within(1, lambda: files(r, "truthy")[f.w11]["yanked"] == "broken build, use 1.2",
               f"the yank on {r.url}")
        assert files(r, "truthy")[f.w10]["yanked"] is False
        assert f'data-yanked="broken build, use 1.2">{f.w11}<' in html(r, "truthy")
    st, _, body = f.replicas[0].get("/api/v1/projects/truthy/releases/1.1")
    rel = json.loads(body)
    assert rel["yanked"] is True and [a["yanked"] for a in rel["artifacts"]] == [True]
    # pip skips the yanked wheel unless the version is pinned.
    p, got = pip_download(f, "truthy")
    assert got == [f.w10], p.stdout + p.stderr
    p, got = pip_download(f, "truthy==1.1")
    assert got == [f.w11], p.stdout + p.stderr
    assert "yanked" in (p.stdout + p.stderr).lower()


def test_an_unyank_clears_it(farm):
    f = farm
    f.up.projects["truthy"]["files"][1]["yanked"] = False
    f.up.touch("truthy")
    sync(f)
    for r in f.replicas:
        within(1, lambda: files(r, "truthy")[f.w11]["yanked"] is False, f"the unyank on {r.url}")
        assert "data-yanked" not in html(r, "truthy")
    p, got = pip_download(f, "truthy")
    assert got == [f.w11], p.stdout + p.stderr


def test_a_wheel_built_after_the_yank_is_born_yanked(farm):
    f = farm
    f.up.add_file("truthy", *make_sdist("truthy", "1.2"), yanked="superseded")
    sync(f)
    w12 = build_wheel(f, "truthy", "1.2")
    for r in f.replicas:
        within(1, lambda: files(r, "truthy").get(w12, {}).get("yanked") == "superseded",
               f"the new wheel yanked on {r.url}")


def test_a_deleted_release_leaves_the_index_at_once(farm):
    f = farm
    before = stored(f)
    for r in f.replicas:  # cached on both, the download too
        assert f.w10 in files(r, "truthy")
        assert r.get(f"/files/truthy/{f.w10}")[0] == 200
    del f.up.projects["truthy"]["files"][0]
    f.up.touch("truthy")
    sync(f)
    for r in f.replicas:
        within(1, lambda: f.w10 not in files(r, "truthy"), f"1.0 gone on {r.url}")
        assert f.w11 in files(r, "truthy")
        assert "1.0" not in page(r, "truthy")[1]["versions"]
        assert r.get(f"/files/truthy/{f.w10}")[0] == 404
        assert r.get("/api/v1/projects/truthy/releases/1.0")[0] == 404
        rels = [x["version"] for x in json.loads(r.get("/api/v1/projects/truthy")[2])["releases"]]
        assert "1.0" not in rels and "1.1" in rels
    # Out of the index, still in storage: the retention has not passed.
    assert stored(f) == before
    assert q(f.db, "select count(*) from artifacts where filename = %s", f.w10) == [(1,)]


def test_a_deleted_project_404s_on_both_replicas(farm):
    f = farm
    for r in f.replicas:
        assert page(r, "goner")[0] == 200
        assert "goner" in r.get("/simple/")[2].decode()
    f.up.remove_project("goner")
    sync(f)
    assert q(f.db, "select deleted_at is not null from projects where normalized = 'goner'") == [(True,)]
    for r in f.replicas:
        within(1, lambda: page(r, "goner")[0] == 404, f"goner 404 on {r.url}")
        assert "/goner/" not in r.get("/simple/")[2].decode()
        assert r.get(f"/files/goner/{f.wg}")[0] == 404
        assert r.get("/api/v1/projects/goner")[0] == 404
        names = [p["normalized"] for p in json.loads(r.get("/api/v1/projects")[2])["projects"]]
        assert "goner" not in names and "truthy" in names


def test_a_release_back_upstream_gets_its_wheels_back(farm):
    f = farm
    f.up.add_file("truthy", *make_sdist("truthy", "1.0"), upload_time=T_10)
    sync(f)
    for r in f.replicas:
        within(1, lambda: f.w10 in files(r, "truthy"), f"1.0 back on {r.url}")
        assert r.get(f"/files/truthy/{f.w10}")[0] == 200
    del f.up.projects["truthy"]["files"][-1]
    f.up.touch("truthy")
    sync(f)
    within(1, lambda: f.w10 not in files(f.replicas[0], "truthy"), "1.0 gone again")


def check_wheel(f, project, version):
    """A reproducibility check of a release's build whose wheel differed, so Kiln
    kept it (repro_wheels.storage_key): rows and bytes. Returns its key."""
    fn, data = make_wheel(project, version)
    key = f"wheels/check/{project}/{fn}"
    (tid,) = q(f.db, "insert into targets (name, image, python_tag, python_version, platform, enabled)"
                     " values ('sweep-check', 'none', 'cp311', '3.11', 'linux_x86_64', false)"
                     " on conflict (name) do update set enabled = false returning id")[0]
    rel = "(select r.id from releases r join projects p on p.id = r.project_id" \
          " where p.normalized = %s and r.version = %s)"
    (build_job,) = q(f.db, "insert into jobs (release_id, target_id, state, finished_at)"
                           f" values ({rel}, %s, 'succeeded', now()) returning id",
                     project, version, tid)[0]
    (check_job,) = q(f.db, "insert into jobs (release_id, target_id, state, finished_at, kind, check_of)"
                           f" values ({rel}, %s, 'succeeded', now(), 'check', %s) returning id",
                     project, version, tid, build_job)[0]
    (build,) = q(f.db, "insert into builds (job_id, attempt, state) values (%s, 1, 'succeeded')"
                       " returning id", check_job)[0]
    q(f.db, "insert into repro_wheels (build_id, filename, sha256, size, storage_key, differs)"
            " values (%s, %s, %s, %s, %s, '[]') returning 1",
      build, fn, hashlib.sha256(data).hexdigest(), len(data), key)
    path = f.tmp / ("check-" + fn)
    path.write_bytes(data)
    run([KILNCTL, "storage", "put", key, path],
        env={"KILN_DATABASE_URL": f.db, "KILN_STORAGE": "fs", **f.env})
    return key


def test_the_sweep_removes_deleted_wheels_after_the_retention(farm):
    f = farm
    key10, keyg = f"wheels/truth/{f.w10}", f"wheels/truth/{f.wg}"
    # The wheels a reproducibility check kept go with their release, and stay with a live one.
    checkg, check11 = check_wheel(f, "goner", "1.0"), check_wheel(f, "truthy", "1.1")
    assert {key10, keyg, checkg, check11} <= set(stored(f))
    # A replica with a retention of one second: its first sweep, 5 s after it starts.
    time.sleep(1.1)
    c = f.start(f.db, env={**f.env, "KILN_DELETED_RETENTION": "1"})
    within(30, lambda: key10 not in stored(f) and keyg not in stored(f) and checkg not in stored(f),
           "the sweep")
    assert q(f.db, "select filename from artifacts where filename = any(%s)", [f.w10, f.wg]) == []
    assert q(f.db, "select storage_key from repro_wheels order by 1") == [(check11,)]
    # The live releases' wheels stay.
    assert f"wheels/truth/{f.w11}" in stored(f) and check11 in stored(f)
    assert c.get(f"/files/truthy/{f.w11}")[0] == 200
    assert "storage swept" in c.log() and "expired=3" in c.log()
