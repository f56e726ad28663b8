"""A builder that stops answering loses its jobs; when it wakes, nothing it says counts.

A builder frozen with SIGSTOP keeps its TCP connection open (its kernel answers
for it), so only an answer from the builder itself is proof of life: the
backend pings every connection, extends the leases of those that answer, and
drops one silent for KILN_BUILDER_PING_TIMEOUT. The frozen builder's job goes
back to the queue when its lease runs out and is built by the other builder;
then the frozen one is woken up (SIGCONT) and its late log, upload and finish
must change nothing: one published wheel, the lost attempt still lost.
"""
import json
import secrets
import signal
import subprocess
import time

import psycopg
import pytest

from conftest import KILNCTL, run
from sdists import FileServer, wait_for
from test_builds import Farm, start_slow_build

LEASE, PING_TIMEOUT = 6, 4
FARM_ENV = {"KILN_LEASE_SECONDS": str(LEASE), "KILN_BUILDER_PING_TIMEOUT": str(PING_TIMEOUT),
            "KILN_JOB_TIMEOUT": "120", "KILN_JOB_MEMORY_MIB": "512"}


@pytest.fixture(scope="module")
def files():
    f = FileServer()
    yield f
    f.close()


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, tmp_path_factory):
    from test_builds import TARGET
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    backend = backend_factory(migrated, env=FARM_ENV)
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("frozen"), backend_factory, None)
    run_id = secrets.token_hex(3)
    f.start_builder(f"frozen-a-{run_id}")
    f.start_builder(f"frozen-b-{run_id}")
    wait_for(lambda: backend.log().count("builder connected") >= 2, 60, "both builders")
    yield f
    for proc, _, _ in f.builders.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
    f.stop_all()


@pytest.fixture(scope="module")
def image():
    from conftest import ROOT
    run([ROOT / "scripts" / "image.sh", "build"], timeout=1800)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


def q(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchall()


def wait_for_building(farm, job, columns):
    """The running attempt of job once it is in its build phase (its container
    running setup.py's sleep): the given columns of builds bu join builders b.
    The attempt that gets there is the one to freeze: an earlier one may have been
    handed back (an engine hiccup is retried as infrastructure)."""
    try:
        return wait_for(lambda: next(iter(q(
            farm.db, f"select {columns} from builds bu join builders b on b.id = bu.builder_id"
                     " where bu.job_id = %s and bu.phase = 'building' and bu.state = 'running'",
            job)), None), 120, "the build phase")
    except AssertionError:
        # Say what the job did instead.
        raise AssertionError(f"no build phase in 120 s: job {farm.job(job)}, builds "
                             f"{q(farm.db, 'select attempt, state, phase from builds where job_id = %s', job)}")


def test_a_frozen_builder_loses_its_job_and_its_late_reports_are_refused(farm, files):
    job, _ = start_slow_build(farm, files, "kfrozen", 10)
    # In the middle of the build: the container is running setup.py's sleep.
    attempt, victim = wait_for_building(farm, job, "bu.attempt, b.name")
    other = next(n for n in farm.builders if n != victim)
    proc = farm.builders[victim][0]
    time.sleep(3)
    proc.send_signal(signal.SIGSTOP)
    frozen_at = time.time()
    try:
        # The backend stops hearing from it and drops its connection.
        wait_for(lambda: "builder stopped answering" in farm.backend.log(), PING_TIMEOUT + 5,
                 "the silent connection to be dropped")
        # Its job goes back to the queue within the lease (plus the reaper's 5 s tick).
        wait_for(lambda: q(farm.db, "select state from builds where job_id = %s and attempt = %s",
                           job, attempt) == [("lost",)],
                 PING_TIMEOUT + LEASE + 5 + 5, "the frozen builder's attempt to be lost")
        assert time.time() - frozen_at < PING_TIMEOUT + LEASE + 5 + 5
        # Not seen alive since it froze (an open connection proves nothing): the
        # last lease tick that counted it came within one period of its last pong.
        seen = q(farm.db, "select extract(epoch from last_seen_at) from builders where name = %s",
                 victim)[0][0]
        assert float(seen) < frozen_at + LEASE / 3 + 1, (seen, frozen_at)
        builders = json.loads(farm.backend.get("/api/v1/builders")[2])["builders"]
        assert next(b for b in builders if b["name"] == victim)["active_jobs"] == 0
        # And it shows offline, its connection still open or not (the other stays online).
        def online():
            return {b["name"]: b["online"] for b in
                    json.loads(farm.backend.get("/api/v1/builders")[2])["builders"]}
        wait_for(lambda: online()[victim] is False, 15, "the frozen builder to show offline")
        assert online()[other] is True
        # The other builder builds it while the first is still frozen.
        state, attempts, reason, builder_id = farm.wait_done(job, timeout=300)
        assert state == "succeeded" and attempts == attempt + 1, (state, attempts, reason)
        assert q(farm.db, "select name from builders where id = %s", builder_id) == [(other,)]
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGCONT)

    # Awake: it reconnects, is told the job is no longer its own, and its late
    # upload, log and finish (its container went on building meanwhile) are refused.
    log_before = farm.builder_log(victim)
    wait_for(lambda: sum(victim in line for line in farm.backend.log().splitlines()
                         if "builder connected" in line) >= 2, 60, "the woken builder to come back")
    wait_for(lambda: not subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=org.kiln.builder={victim}"],
        capture_output=True, text=True).stdout.strip(), 120, "the woken builder's container to end")
    time.sleep(3)  # what it had to say has been said
    late = farm.builder_log(victim)[len(log_before):]
    assert "job recorded" not in late, late  # no finish of its was ever accepted

    builds = q(farm.db, "select attempt, state, b.name from builds join builders b"
                        " on b.id = builds.builder_id where job_id = %s order by attempt", job)
    assert builds[-2:] == [(attempt, "lost", victim), (attempt + 1, "succeeded", other)], builds
    arts = q(farm.db, "select a.filename, a.published_at is not null, bu.attempt, a.storage_key"
                      " from artifacts a join builds bu on bu.id = a.build_id where a.job_id = %s", job)
    assert [(a[1], a[2]) for a in arts] == [(True, attempt + 1)], arts
    assert q(farm.db, "select state, attempts from jobs where id = %s", job) == [("succeeded", attempt + 1)]
    # The lost attempt's log ends with the reaper's line: nothing of the woken builder's after it.
    lost = q(farm.db, "select id from builds where job_id = %s and attempt = %s", job, attempt)[0][0]
    log = farm.backend.get(f"/api/v1/builds/{lost}/log")[2]
    assert log.rstrip().endswith(b"used)."), log[-300:]
    # Storage holds the one wheel, and it is the one served.
    fn, key = arts[0][0], arts[0][3]
    st, _, body = farm.backend.get(f"/files/kfrozen/{fn}")
    assert st == 200 and body[:2] == b"PK"
    assert q(farm.db, "select count(*) from storage_pending") == [(0,)] or wait_for(
        lambda: q(farm.db, "select count(*) from storage_pending") == [(0,)], 90, "the sweep")
    # Only the frozen builder was ever dropped, and only once it was frozen.
    drops = [line for line in farm.backend.log().splitlines() if "stopped answering" in line]
    assert drops and all(f"builder={victim} " in line for line in drops), drops
    # Both builders are connected again and the woken one is idle and alive.
    wait_for(lambda: sum(b["name"] in farm.builders and b["active_jobs"] == 0 for b in json.loads(
        farm.backend.get("/api/v1/builders")[2])["builders"]) == 2, 30, "both builders idle")
    assert q(farm.db, "select count(*) from jobs where state in ('queued', 'assigned', 'running')") == [(0,)]


def test_a_lone_frozen_builder_gets_its_job_back_when_it_wakes(farm, files):
    """With no other builder, the job lost while frozen can only come back to the
    builder that lost it, maybe while its old attempt is still stopping: it must
    be built in the end, not stay assigned to a builder that ignores it."""
    from sdists import make_sdist
    names = sorted(farm.builders)
    lone, gone = names[0], names[1]
    p = farm.builders[gone][0]
    p.send_signal(signal.SIGCONT)
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    fn, data = make_sdist("kalone", "1.0", setup_extra="import time; time.sleep(12)")
    url, sha = files.add(fn, data)
    job = farm.queue("kalone", "1.0", url, sha, fn)
    attempt = wait_for_building(farm, job, "bu.attempt")[0]
    time.sleep(2)
    proc = farm.builders[lone][0]
    proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: q(farm.db, "select state from builds where job_id = %s and attempt = %s",
                           job, attempt) == [("lost",)],
                 PING_TIMEOUT + LEASE + 5 + 5, "the frozen builder's attempt to be lost")
    finally:
        proc.send_signal(signal.SIGCONT)
    state, attempts, reason, _ = farm.wait_done(job, timeout=300)
    assert state == "succeeded", (state, attempts, reason)
    builds = q(farm.db, "select state, failure_reason from builds where job_id = %s order by attempt", job)
    assert builds[attempt - 1][0] == "lost" and builds[-1][0] == "succeeded", builds
    # In between, at most a hand-back of the attempt given while the old one was stopping.
    assert all(b[1] == "builder is still stopping an earlier attempt of this job"
               for b in builds[attempt:-1]), builds
    assert q(farm.db, "select count(*) from artifacts where job_id = %s and published_at is not null",
             job) == [(1,)]
