"""Reproducibility checks on the farm (issue 17 part 4, docs/builds.md
"Reproducibility checks").

What a user checks: with KILN_REPRO=all and two builders, every published build
is built again by the other builder and compared. A plain C extension comes out
byte for byte the same ("reproducible"); a project that embeds its build time
"differs", and the result names the member. The check publishes nothing: the
index still lists the one wheel, and the check's differing wheel is kept in
storage for inspection, not served.
"""
import importlib.util
import json
import secrets

import psycopg
import pytest

from conftest import KILNCTL, ROOT, run
from sdists import FileServer, wait_for
from test_builds import FARM_ENV, TARGET, Farm, image  # noqa: F401 (fixture)

_spec = importlib.util.spec_from_file_location("repro_run", ROOT / "bench" / "repro" / "run.py")
repro = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(repro)


@pytest.fixture(scope="module")
def files():
    f = FileServer()
    yield f
    f.close()


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, s3, tmp_path_factory):  # noqa: F811
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    backend = backend_factory(migrated, storage="s3",
                              env={**s3, **FARM_ENV, "KILN_JOB_TIMEOUT": "300", "KILN_REPRO": "all"})
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("repro"), backend_factory, s3)
    run_id = secrets.token_hex(3)
    f.start_builder(f"repro-a-{run_id}")
    f.start_builder(f"repro-b-{run_id}")
    wait_for(lambda: backend.log().count("builder connected") >= 2, 60, "both builders")
    yield f
    f.stop_all()


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def queue_demo(farm, files, tmp_path, name, embed_time):
    path = repro.demo_sdist(tmp_path, name, embed_time=embed_time)
    url, sha = files.add(path.name, path.read_bytes())
    return farm.queue(name, "1.0", url, sha, path.name)


def wait_result(farm, job):
    """The check of job, once decided: (result, detail, check builder, build's builder)."""
    return wait_for(lambda: next(iter(q(
        farm.db, "select result, detail, builder_id, original_builder_id from repro_results"
                 " where of_job_id = %s", job)), None), 600, f"the check of job {job}")


def test_a_second_builder_checks_every_build(farm, files, tmp_path):
    plain = queue_demo(farm, files, tmp_path, "krepro", embed_time=False)
    stamped = queue_demo(farm, files, tmp_path, "ktime", embed_time=True)
    for job in (plain, stamped):
        state, _, reason, _ = farm.wait_done(job, timeout=600)
        assert state == "succeeded", (job, reason)

    # The plain C extension: rebuilt by the other builder, the same bytes.
    result, detail, by, of = wait_result(farm, plain)
    assert result == "reproducible", detail
    assert by != of, "the check ran on the builder whose build it checks"
    (wheel,) = detail
    assert wheel["result"] == "same" and wheel["sha256"] == wheel["expected"], wheel
    assert wheel["filename"].startswith("krepro-1.0-cp311-cp311-")
    # Identical bytes store nothing.
    assert q(farm.db, "select w.storage_key from repro_wheels w join builds b on b.id = w.build_id"
                      " join jobs j on j.id = b.job_id where j.check_of = %s", plain) == [(None,)]

    # The build that embeds its time: differs, and the member is named.
    result, detail, by, of = wait_result(farm, stamped)
    assert result == "differs", detail
    assert by != of
    (wheel,) = detail
    assert wheel["result"] == "differs" and wheel["sha256"] != wheel["expected"], wheel
    so = "ktime.cpython-311-x86_64-linux-gnu.so"
    members = {(m.get("member"), m.get("what")) for m in wheel["members"]}
    assert (so, "content") in members, wheel["members"]
    assert ("ktime-1.0.dist-info/RECORD", "content") in members, wheel["members"]
    # Dates, modes and the other members came out the same.
    assert members <= {(so, "content"), ("ktime-1.0.dist-info/RECORD", "content")}, members

    # A check publishes nothing: one wheel per project in the index, the
    # published one; the check's other bytes are kept in storage, unserved.
    for name, job in (("krepro", plain), ("ktime", stamped)):
        arts = q(farm.db, "select a.filename, a.sha256, a.job_id from artifacts a"
                          " join releases r on r.id = a.release_id join projects p on p.id = r.project_id"
                          " where p.normalized = %s", name)
        assert len(arts) == 1 and arts[0][2] == job, arts
        st, _, body = farm.backend.get(f"/simple/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        assert st == 200
        assert [f["hashes"]["sha256"] for f in json.loads(body)["files"]] == [arts[0][1]]
    (key,) = q(farm.db, "select w.storage_key from repro_wheels w join builds b on b.id = w.build_id"
                        " join jobs j on j.id = b.job_id where j.check_of = %s", stamped)[0]
    assert key and key.startswith("wheels/") and wheel["sha256"] in key
    # The check is a job of its own kind, and the build's job stays the build.
    assert q(farm.db, "select kind, state from jobs where check_of in (%s, %s) order by check_of",
             plain, stamped) == [("check", "succeeded"), ("check", "succeeded")]
    # Counted in /metrics.
    st, _, metrics = farm.backend.get("/metrics")
    assert b"kiln_repro_checks_queued_total 2" in metrics, metrics[-2000:]


def test_a_lone_builder_checks_its_own_build(farm, files, tmp_path):
    """With one builder left the check is still made, by that builder (a weaker
    check: same machine and image, another container, another time)."""
    import signal
    names = sorted(farm.builders)
    gone = farm.builders[names[1]][0]
    gone.send_signal(signal.SIGTERM)
    gone.wait(60)
    job = queue_demo(farm, files, tmp_path, "klone", embed_time=False)
    state, _, reason, _ = farm.wait_done(job, timeout=600)
    assert state == "succeeded", reason
    result, detail, by, of = wait_result(farm, job)
    assert result == "reproducible", detail
    assert by == of
    assert q(farm.db, "select name from builders where id = %s", by) == [(names[0],)]


def test_a_bad_policy_stops_the_backend_with_the_forms_it_takes(tmp_path):
    import os
    import subprocess
    from conftest import BACKEND
    p = subprocess.run([str(BACKEND)], env={**os.environ, "KILN_REPRO": "sometimes",
                                            "KILN_DATA_DIR": str(tmp_path)},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "KILN_REPRO is 'sometimes': want off, all, or a sample N% (0 to 100)" in p.stderr, p.stderr
