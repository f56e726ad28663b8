"""Objects in storage that no row references are deleted, and only those.

Storage and the database cannot change together: a backend killed between
storing an upload and inserting its row leaves an object nobody references (the
chaos run's "no stored object without a row"), and deleting the objects of
dropped artifacts could race an upload of the same bytes (keys are content
addressed; a rebuild's wheel is often byte for byte the lost attempt's). Keys
are registered in storage_pending first; each backend sweeps what is due
(backend/storage_sweep.h).
"""
import hashlib
import os
import signal
import threading
import time

import psycopg
import pytest

from wheels import make_wheel

TOKEN = "kiln_" + "S" * 43


def sql(db, q, *args):
    with psycopg.connect(db, autocommit=True) as c:
        cur = c.execute(q, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, tmp_path_factory):
    store = tmp_path_factory.mktemp("sweep-store")
    sql(migrated, "insert into projects (name, normalized) values ('sweep-demo', 'sweep-demo')")
    sql(migrated, "insert into targets (name, image, python_tag, python_version, platform) values "
                  "('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
    env = {"KILN_STORAGE_DIR": str(store), "KILN_LEASE_SECONDS": "3"}
    return migrated, store, env, backend_factory


def running_job(db, version):
    """A release and a job held with TOKEN, as if a builder had claimed it."""
    sql(db, "insert into releases (project_id, version, version_normalized)"
            " select id, %s, %s from projects", version, version)
    job = sql(db, "insert into jobs (release_id, target_id, state, builder_id, lease_token_hash,"
                  " lease_expires_at, assigned_at, attempts) select r.id, t.id, 'running', null, %s,"
                  " now() + interval '1 hour', now(), 1 from releases r, targets t where r.version = %s"
                  " returning id", hashlib.sha256(TOKEN.encode()).hexdigest(), version)[0][0]
    sql(db, "insert into builds (job_id, attempt) values (%s, 1)", job)
    return job


def stored(store):
    return sorted(os.path.relpath(os.path.join(d, f), store) for d, _, fs in os.walk(store) for f in fs
                  if not f.startswith("."))


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_an_upload_cut_off_by_a_crash_is_swept(farm):
    db, store, env, start = farm
    job = running_job(db, "1.0")
    a = start(db, env=env)
    fn, data = make_wheel("sweep-demo", "1.0")
    with psycopg.connect(db) as locker:
        # The row's insert waits on the job row: kill the backend right then.
        locker.execute("select 1 from jobs where id = %s for update", (job,))
        def put():
            try:
                a.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                          headers={"Authorization": "Bearer " + TOKEN}, timeout=60)
            except OSError:
                pass  # the backend is killed under it

        t = threading.Thread(target=put, daemon=True)
        t.start()
        wait_for(lambda: sql(db, "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                                 " and query like '%%insert into artifacts%%'")[0][0] == 1,
                 20, "the artifact insert to wait")
        assert any(p.endswith(fn) for p in stored(store)), "stored before the row"
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        # The insert dies with it (Postgres would only notice when it answers).
        sql(db, "select pg_terminate_backend(pid) from pg_stat_activity where wait_event_type = 'Lock'"
                " and query like '%%insert into artifacts%%'")
        locker.rollback()
    assert sql(db, "select count(*) from artifacts") == [(0,)]
    key = [p for p in stored(store) if p.endswith(fn)][0]
    assert sql(db, "select key from storage_pending") == [(key,)]
    # An hour later (the upload's grace), any replica's sweep deletes it.
    sql(db, "update storage_pending set not_before = now() - interval '1 second'")
    start(db, env=env)
    wait_for(lambda: not stored(store), 30, "the orphan to be swept")
    assert sql(db, "select count(*) from storage_pending") == [(0,)]
    sql(db, "update jobs set state = 'cancelled', finished_at = now(), lease_token_hash = null,"
            " lease_expires_at = null where id = %s", job)


def test_a_dropped_wheel_is_deleted_unless_the_same_bytes_are_on_their_way(farm):
    db, store, env, start = farm
    backend = start(db, env=env)

    def upload(job, version):
        fn, data = make_wheel("sweep-demo", version)
        st, _, body = backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                                      headers={"Authorization": "Bearer " + TOKEN})
        assert st == 201, body
        return [p for p in stored(store) if p.endswith(fn)][0]

    # Uploaded, then the lease runs out: the reaper drops the artifact, the sweep its object.
    job = running_job(db, "2.0")
    key = upload(job, "2.0")
    assert sql(db, "select count(*) from storage_pending") == [(0,)], "the row took over the registration"
    sql(db, "update jobs set lease_expires_at = now() - interval '1 second' where id = %s", job)
    wait_for(lambda: key not in stored(store), 30, "the dropped wheel to be deleted")
    assert sql(db, "select count(*) from artifacts where job_id = %s", job) == [(0,)]

    # The same, while an upload of the same bytes has registered the key (a rebuild
    # of the same wheel, between its registration and its row): the object stays.
    job = running_job(db, "3.0")
    key = upload(job, "3.0")
    sql(db, "insert into storage_pending (key, not_before) values (%s, now() + interval '1 hour')", key)
    sql(db, "update jobs set lease_expires_at = now() - interval '1 second' where id = %s", job)
    wait_for(lambda: sql(db, "select count(*) from artifacts where job_id = %s", job) == [(0,)], 30,
             "the reaper")
    time.sleep(3)  # the sweep the drop asked for has run
    assert key in stored(store)
    assert sql(db, "select count(*) from storage_pending where key = %s", key) == [(1,)]
