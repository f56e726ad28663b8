"""A build requirement the upstream has only as an sdist: the farm builds it first.

kwaiter's pyproject.toml requires kwaitdep, which its index has no wheel of
(only setuptools is there). The farm mirrors kwaitdep too. Built first,
kwaiter fails with class build-requirement and waits for kwaitdep, which the
farm is building for the same target; when that build succeeds, kwaiter is
queued again and its builder finds kwaitdep's wheel in the farm's own index
(KILN_BUILD_FARM_INDEX=auto) and builds. A requirement the farm does not build
fails as before, waiting for nothing.
"""
import hashlib
import json
import os
import secrets
import sys

import psycopg
import pytest

from conftest import KILNCTL, ROOT, image_wheel, run
from fakeindex import Upstream
from sdists import FileServer, targz, wait_for
from test_builds import TARGET, Farm

FARM_ENV = {"KILN_LEASE_SECONDS": "6", "KILN_JOB_TIMEOUT": "120", "KILN_JOB_MEMORY_MIB": "512"}


def waiter_sdist(name, needs):
    """A setuptools project whose build imports `needs` (a build requirement)."""
    base = f"{name}-1.0"
    mod = needs.replace("-", "_")
    return f"{base}.tar.gz", targz({
        f"{base}/pyproject.toml": f'[build-system]\nrequires = ["setuptools", "{needs}"]\n'
                                  'build-backend = "setuptools.build_meta"\n',
        # The requirement is really there at build time: its value goes into the wheel.
        f"{base}/setup.py": f"import {mod}\nfrom setuptools import setup\n"
                            f"open('{name}.py', 'w').write('FROM_DEP = %r\\n' % {mod}.VALUE)\n"
                            f"setup(name='{name}', version='1.0', py_modules=['{name}'])\n",
        f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
    })


@pytest.fixture(scope="module")
def image():
    run([ROOT / "scripts" / "image.sh", "build"], timeout=1800)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, tmp_path_factory):
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    # The build requirements' index: setuptools only (the image's own wheel).
    st_name, st_data = image_wheel(image, "setuptools-")
    idx = Upstream(html_only=True)
    idx.add_file("setuptools", st_name, st_data)
    backend = backend_factory(migrated, env=FARM_ENV)
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("farmreq"), backend_factory, None)
    f.files = FileServer()
    f.start_builder(f"farmreq-{secrets.token_hex(3)}",
                    extra_env={"KILN_BUILD_INDEX_URL": idx.url + "/simple/"})
    yield f
    f.stop_all()
    f.files.close()
    idx.close()


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def test_a_requirement_the_farm_builds_is_waited_for_then_used(farm, tmp_path):
    # A plain setuptools project (no pyproject.toml: the image's setuptools builds it).
    dep_fn, dep_data = "kwaitdep-1.0.tar.gz", targz({
        # Slow enough for the waiting to be seen through the API.
        "kwaitdep-1.0/setup.py": "import time; time.sleep(5)\nfrom setuptools import setup\n"
                                 "setup(name='kwaitdep', version='1.0', py_modules=['kwaitdep'])\n",
        "kwaitdep-1.0/kwaitdep.py": "VALUE = 'built by the farm'\n",
        "kwaitdep-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: kwaitdep\nVersion: 1.0\n",
    })
    fn, data = waiter_sdist("kwaiter", "kwaitdep")
    # kwaiter goes first (the builder has one slot); kwaitdep waits in the queue.
    waiter = farm.queue("kwaiter", "1.0", *farm.files.add(fn, data), fn)
    dep = farm.queue("kwaitdep", "1.0", *farm.files.add(dep_fn, dep_data), dep_fn)
    with psycopg.connect(farm.db, autocommit=True) as c:
        c.execute("update jobs set priority = 10 where id = %s", (waiter,))

    wait_for(lambda: q(farm.db, "select state from builds where job_id = %s and attempt = 1",
                       waiter) == [("failed",)], 300, "kwaiter's first build to fail")
    (cls, reason), = q(farm.db, "select failure_class, failure_reason from builds"
                                " where job_id = %s and attempt = 1", waiter)
    assert cls == "build-requirement", (cls, reason)
    assert f"waits for kwaitdep, which this farm is building (job {dep})" in reason, reason
    # The release's jobs say what it waits for, while it waits.
    jobs = json.loads(farm.backend.get("/api/v1/projects/kwaiter/releases/1.0")[2])["jobs"]
    assert [(j["id"], j["state"], j["waits_for"]) for j in jobs] == [(waiter, "failed", "kwaitdep")], jobs
    assert q(farm.db, "select state from jobs where id = %s", dep)[0][0] in ("queued", "assigned", "running")

    state, attempts, reason, _ = farm.wait_done(dep)
    assert state == "succeeded", reason
    state, attempts, reason, _ = farm.wait_done(waiter)
    assert (state, attempts) == ("succeeded", 2), (state, attempts, reason)
    assert q(farm.db, "select waits_for from jobs where id = %s", waiter) == [(None,)]
    assert "waiting jobs queued again" in farm.backend.log()

    # The second build used the farm's own kwaitdep wheel: its reported build
    # requirements name it with the sha256 of the wheel the farm published.
    (dep_wheel, dep_sha), = q(farm.db, "select filename, sha256 from artifacts"
                                       " where job_id = %s and published_at is not null", dep)
    reqs, = q(farm.db, "select build_requirements from builds where job_id = %s and attempt = 2",
              waiter)[0]
    assert {"filename": dep_wheel, "sha256": dep_sha} in reqs, reqs
    (build2,), = q(farm.db, "select id from builds where job_id = %s and attempt = 2", waiter)
    log = wait_for(lambda: (lambda r: r[0] == 200 and r[2])(farm.backend.get(f"/api/v1/builds/{build2}/log")),
                   20, "the second build's log")
    assert b"kwaitdep" in log

    # And what kwaiter's wheel carries came from kwaitdep at build time.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--only-binary", ":all:",
         "--index-url", farm.backend.url + "/simple/", "kwaiter==1.0"],
        env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull})
    got = run([venv / "bin" / "python", "-c", "import kwaiter; print(kwaiter.FROM_DEP)"]).stdout
    assert got.strip() == "built by the farm"
    assert hashlib.sha256(farm.backend.get(f"/files/kwaitdep/{dep_wheel}")[2]).hexdigest() == dep_sha


def test_a_requirement_nobody_builds_fails_waiting_for_nothing(farm):
    fn, data = waiter_sdist("kloner", "knowhere-at-all")
    job = farm.queue("kloner", "1.0", *farm.files.add(fn, data), fn)
    state, attempts, reason, _ = farm.wait_done(job)
    assert (state, attempts) == ("failed", 1), (state, attempts, reason)
    assert "waits for" not in (reason or ""), reason
    assert q(farm.db, "select failure_class, waits_for from jobs where id = %s", job) == \
        [("build-requirement", None)]
    # The build says which requirement was missing, as pip said it.
    (build,), = q(farm.db, "select id from builds where job_id = %s", job)
    b = json.loads(farm.backend.get(f"/api/v1/builds/{build}")[2])
    assert b["failure_class"] == "build-requirement"
    log = farm.backend.get(f"/api/v1/builds/{build}/log")[2]
    assert b"knowhere-at-all" in log
