"""Built once (issue 16): a py3-none-any wheel is built once for every target.

Two targets share the base image (the real one and a twin of it, as two
CPython targets share pure wheels); a generated pure sdist is queued for both,
with real builders and real Docker. Sequentially (one builder, one slot): the
first job's wheel drops the second job ("covered by kiln wheel F"), one build,
one artifact. Concurrently (two slots): the second job's upload of the same
file name is covered once the first is published, and both jobs succeed with
one artifact. Either way pip installs the wheel from Kiln's index, and the API
says why each target is served.
"""
import json
import os
import re
import signal
import subprocess
import sys

import psycopg
import pytest

from conftest import BUILD, KILNCTL, ROOT, run
from sdists import FileServer, make_pure_sdist, wait_for

BUILDER = BUILD / "builder" / "kiln-builder"
T1 = "bookworm-py311-x86_64"
T2 = "bookworm-py311-x86_64-twin"
FARM_ENV = {"KILN_LEASE_SECONDS": "6", "KILN_JOB_TIMEOUT": "120", "KILN_JOB_MEMORY_MIB": "512"}


@pytest.fixture(scope="module")
def image():
    """The base image, as built by `just image` (never built here)."""
    name = run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()
    if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode:
        pytest.skip(f"image {name} is not built (just image)")
    return name


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, tmp_path_factory):
    for t in (T1, T2):
        run([KILNCTL, "target", "add", t, "--image", image, "--python", "3.11", "--arch", "x86_64",
             "--suite", "bookworm", "--glibc", "2.36"], env={"KILN_DATABASE_URL": migrated})
    f = type("Farm", (), {})()
    f.db, f.tmp, f.procs = migrated, tmp_path_factory.mktemp("farm"), []
    f.backend = backend_factory(migrated, env=FARM_ENV)
    f.files = FileServer()
    yield f
    for proc, _ in f.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    f.files.close()


def start_builder(farm, name, slots):
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                      run([KILNCTL, "builder", "add", name], env={"KILN_DATABASE_URL": farm.db}).stdout)[0]
    home = farm.tmp / name
    home.mkdir()
    env = {**os.environ, "KILN_BACKEND_URL": farm.backend.url.replace("http", "ws"),
           "KILN_BUILDER_TOKEN": token, "KILN_BUILDER_NAME": name, "KILN_BUILDER_SLOTS": str(slots),
           "KILN_BUILDER_TARGETS": f"{T1},{T2}", "KILN_DATA_DIR": str(home), "KILN_LOG": "debug"}
    proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(home / "builder.log", "w"))
    farm.procs.append((proc, home))
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)


def queue_both(farm, name, version):
    """A release with a pure sdist, planned and queued for both targets; the job ids."""
    fn, data = make_pure_sdist(name, version)
    url, sha = farm.files.add(fn, data)
    with psycopg.connect(farm.db, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values (%s, %s)"
                  " on conflict (normalized) do nothing", (name, name))
        r = c.execute("insert into releases (project_id, version, version_normalized) select id, %s, %s"
                      " from projects where normalized = %s returning id", (version, version, name)).fetchone()[0]
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                  " values (%s, %s, 'sdist', %s, %s, %s)", (r, fn, url, sha, len(data)))
        c.execute("insert into release_plans (release_id, target_id, decision, reason)"
                  " select %s, id, 'planned', 'new release' from targets", (r,))
        return [c.execute("insert into jobs (release_id, target_id) select %s, id from targets"
                          " where name = %s returning id", (r, t)).fetchone()[0] for t in (T1, T2)]


def rows(farm, query, *args):
    with psycopg.connect(farm.db) as c:
        return c.execute(query, args).fetchall()


def done(farm, jobs):
    st = rows(farm, "select state from jobs where id = any(%s)", jobs)
    return all(s[0] in ("succeeded", "failed", "cancelled") for s in st)


def pip_installs(farm, tmp_path, name, version):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    out = run([venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--only-binary", ":all:",
               "--index-url", farm.backend.url + "/simple/", f"{name}=={version}"],
              env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}).stdout
    assert f"{name.replace('-', '_')}-{version}-py3-none-any.whl" in out, out
    got = run([venv / "bin" / "python", "-c", f"import {name.replace('-', '_')} as m; print(m.hello())"])
    assert got.stdout.strip() == version


def cells(farm, name, version):
    st, _, raw = farm.backend.get(f"/api/v1/projects/{name}/releases/{version}")
    assert st == 200, raw
    return {c["target"]: c for c in json.loads(raw)["cells"]}


def test_queued_sibling_is_dropped(farm, tmp_path):
    proc = start_builder(farm, "once-seq", 1)
    j1, j2 = queue_both(farm, "kpure-seq", "1.0")
    wait_for(lambda: done(farm, [j1, j2]), 300, "both jobs to end")
    stop(proc)
    states = dict(rows(farm, "select id, state from jobs where id = any(%s)", [j1, j2]))
    built, dropped = (j1, j2) if states[j1] == "succeeded" else (j2, j1)
    assert states[built] == "succeeded" and states[dropped] == "cancelled", states
    wheel = "kpure_seq-1.0-py3-none-any.whl"
    assert rows(farm, "select failure_reason, covered_by from jobs where id = %s", dropped) == \
        [(f"covered by kiln wheel {wheel}", wheel)]
    assert rows(farm, "select count(*) from builds where job_id = any(%s)", [j1, j2]) == [(1,)]
    assert rows(farm, "select filename from artifacts a join releases r on r.id = a.release_id"
                " join projects p on p.id = r.project_id where p.normalized = 'kpure-seq'") == [(wheel,)]
    # Both targets show why they are served.
    c = cells(farm, "kpure-seq", "1.0")
    assert sorted(x["status"] for x in c.values()) == ["built", "covered"]
    assert [x["covered_by"]["filename"] for x in c.values() if x["status"] == "covered"] == [wheel]
    pip_installs(farm, tmp_path, "kpure-seq", "1.0")


def test_running_sibling_succeeds_without_a_second_artifact(farm, tmp_path):
    proc = start_builder(farm, "once-par", 2)
    j1, j2 = queue_both(farm, "kpure-par", "1.0")
    wait_for(lambda: done(farm, [j1, j2]), 400, "both jobs to end")
    stop(proc)
    wheel = "kpure_par-1.0-py3-none-any.whl"
    got = dict((r[0], r[1:]) for r in rows(farm, "select id, state, covered_by from jobs where id = any(%s)",
                                           [j1, j2]))
    arts = rows(farm, "select a.job_id, a.filename from artifacts a join releases r on r.id = a.release_id"
                " join projects p on p.id = r.project_id where p.normalized = 'kpure-par'")
    assert [a[1] for a in arts] == [wheel]
    owner = arts[0][0]
    other = j2 if owner == j1 else j1
    assert got[owner] == ("succeeded", None)
    # The other ran too (both slots took one) or was dropped while still queued;
    # either way it ends served by the one wheel, never failed.
    assert got[other] in (("succeeded", wheel), ("cancelled", wheel)), got
    assert rows(farm, "select count(*) from builds where job_id = %s and state = 'failed'", other) == [(0,)]
    pip_installs(farm, tmp_path, "kpure-par", "1.0")
