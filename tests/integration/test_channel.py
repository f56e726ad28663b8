"""The builders' WebSocket channel, driven by a scripted builder.

Real backend, real database; the 'builder' here is this test speaking the
protocol of docs/protocol.md, so every rule can be checked precisely: hello and
tokens, job dispatch with leases, progress, log chunks, upload and finish with
publication, stale and foreign job ids, malformed and oversized messages, and
lease expiry when a builder vanishes.
"""
import hashlib
import json
import re
import time

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import KILNCTL, run
from wheels import make_wheel

TARGET = "bookworm-py311-x86_64"


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    """A backend with a short lease, one target and a project with three releases."""
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "(%s, 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64')", (TARGET,))
        p = c.execute("insert into projects (name, normalized) values ('chan-demo', 'chan-demo') returning id").fetchone()[0]
        for v in ("1.0", "1.1", "1.2", "1.3", "1.4"):
            r = c.execute("insert into releases (project_id, version, version_normalized) values (%s, %s, %s) returning id",
                          (p, v, v)).fetchone()[0]
            c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size) values "
                      "(%s, %s, 'sdist', %s, %s, 10)",
                      (r, f"chan_demo-{v}.tar.gz", f"http://127.0.0.1:9/chan_demo-{v}.tar.gz", "a" * 64))
    backend = backend_factory(migrated, env={"KILN_LEASE_SECONDS": "3"})
    return migrated, backend


def add_builder(db, name):
    out = run([KILNCTL, "builder", "add", name], env={"KILN_DATABASE_URL": db}).stdout
    return re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)


def ws(backend):
    return connect(backend.url.replace("http", "ws") + "/api/v1/builders/ws",
                   subprotocols=["kiln-builder.v1"], open_timeout=10, max_size=None)


def hello(conn, token, name, slots=1, running=()):
    conn.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": name,
                          "version": "test", "arch": "x86_64", "targets": [TARGET], "slots": slots,
                          "running": [{"job": j} for j in running]}))
    return json.loads(conn.recv(timeout=10))


def recv(conn, timeout=15):
    return json.loads(conn.recv(timeout=timeout))


def queue(db, version, priority=0):
    with psycopg.connect(db, autocommit=True) as c:
        return c.execute(
            "insert into jobs (release_id, target_id, priority) select r.id, t.id, %s from releases r, targets t "
            "where r.version = %s returning id", (priority, version)).fetchone()[0]


def job_row(db, job):
    with psycopg.connect(db) as c:
        return c.execute("select state, attempts, failure_reason from jobs where id = %s", (job,)).fetchone()


def build_phase(db, job):
    with psycopg.connect(db) as c:
        return c.execute("select phase from builds where job_id = %s order by attempt desc limit 1",
                         (job,)).fetchone()[0]


def expect_error_and_close(conn, code):
    msg = recv(conn)
    assert msg["type"] == "error" and msg["code"] == code, msg
    assert msg["message"]
    with pytest.raises(Exception):
        conn.recv(timeout=5)


def test_bad_token_is_refused(farm):
    db, backend = farm
    with ws(backend) as conn:
        msg = hello(conn, "kiln_" + "x" * 43, "nobody")
        assert msg["type"] == "error" and msg["code"] == "unauthorized"


def test_first_message_must_be_hello(farm):
    db, backend = farm
    with ws(backend) as conn:
        conn.send(json.dumps({"type": "progress", "job": 1, "phase": "building"}))
        expect_error_and_close(conn, "unauthorized")


@pytest.mark.parametrize("payload", ["not json", "[1,2]", '{"type": 5}', '{"no": "type"}',
                                     '{"type": "hello", "protocol": "one"}'])
def test_malformed_messages_close_with_a_clear_error(farm, payload):
    db, backend = farm
    with ws(backend) as conn:
        conn.send(payload)
        expect_error_and_close(conn, "bad_message")


def test_oversized_message_is_refused(farm):
    db, backend = farm
    with ws(backend) as conn:
        conn.send(json.dumps({"type": "hello", "pad": "x" * (2 << 20)}))
        expect_error_and_close(conn, "too_big")


def test_disabled_builder_and_wrong_protocol(farm):
    db, backend = farm
    token = add_builder(db, "soon-disabled")
    run([KILNCTL, "builder", "disable", "soon-disabled"], env={"KILN_DATABASE_URL": db})
    with ws(backend) as conn:
        assert hello(conn, token, "soon-disabled")["code"] == "unauthorized"
    token = add_builder(db, "time-traveller")
    with ws(backend) as conn:
        conn.send(json.dumps({"type": "hello", "protocol": 99, "token": token, "name": "time-traveller",
                              "targets": [TARGET], "slots": 1}))
        expect_error_and_close(conn, "unsupported_protocol")


def test_full_job_life(farm):
    db, backend = farm
    token = add_builder(db, "b-life")
    job = queue(db, "1.0")
    with ws(backend) as conn:
        welcome = hello(conn, token, "b-life")
        assert welcome["type"] == "welcome" and welcome["lease_s"] == 3
        j = recv(conn)
        assert j["type"] == "job" and j["job"] == job and j["attempt"] == 1
        assert j["project"] == "chan-demo" and j["version"] == "1.0"
        assert j["source"]["kind"] == "sdist" and j["source"]["filename"] == "chan_demo-1.0.tar.gz"
        assert j["target"]["python_tag"] == "cp311"
        assert job_row(db, job)[0] == "assigned"
        # Phases sent in a burst, as a builder does, may be stored in any order
        # by the backend's connections: the phase shown only moves forward.
        for phase in ("fetching", "prefetching", "building"):
            conn.send(json.dumps({"type": "progress", "job": job, "phase": phase}))
        deadline = time.time() + 10
        while build_phase(db, job) != "building" and time.time() < deadline:
            time.sleep(0.05)
        assert build_phase(db, job) == "building"
        conn.send(json.dumps({"type": "progress", "job": job, "phase": "fetching"}))  # late
        time.sleep(1)
        assert build_phase(db, job) == "building"
        assert job_row(db, job)[0] == "running"  # and the job is still this builder's
        for seq, line in enumerate(["line one\n", "line two\n"]):
            conn.send(json.dumps({"type": "log", "job": job, "seq": seq, "data": line}))
        conn.send(json.dumps({"type": "log", "job": job, "seq": 1, "data": "line two\n"}))  # a resend
        fn, data = make_wheel("chan-demo", "1.0")
        st, _, body = backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                                      headers={"Authorization": "Bearer " + j["lease"]})
        assert st == 201, body
        # Uploaded but not yet published: the index does not show it.
        assert backend.get("/simple/chan-demo/")[0] == 404
        conn.send(json.dumps({"type": "finish", "job": job, "status": "succeeded", "exit_code": 0,
                              "duration_ms": 1234}))
        deadline = time.time() + 10
        while job_row(db, job)[0] != "succeeded" and time.time() < deadline:
            time.sleep(0.05)
    assert job_row(db, job)[0] == "succeeded"
    with psycopg.connect(db) as c:
        b = c.execute("select state, exit_code, duration_ms from builds where job_id = %s", (job,)).fetchone()
        assert b == ("succeeded", 0, 1234)
    status, _, page = backend.get("/simple/chan-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert status == 200 and json.loads(page)["files"][0]["filename"] == fn
    # The whole log afterwards; moved into storage once the build finished.
    with psycopg.connect(db) as c:
        build = c.execute("select id from builds where job_id = %s", (job,)).fetchone()[0]
    deadline = time.time() + 10
    while time.time() < deadline:
        with psycopg.connect(db) as c:
            if c.execute("select log_key from builds where id = %s", (build,)).fetchone()[0]:
                break
        time.sleep(0.1)
    status, headers, text = backend.get(f"/api/v1/builds/{build}/log")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert text == b"line one\nline two\n"


def test_live_log_viewer_sees_lines_as_they_come(farm):
    db, backend = farm
    token = add_builder(db, "b-live")
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select id, '3.0', '3.0' from projects where normalized = 'chan-demo'")
    job = queue(db, "3.0")
    with ws(backend) as conn:
        hello(conn, token, "b-live")
        assert recv(conn)["job"] == job
        conn.send(json.dumps({"type": "log", "job": job, "seq": 0, "data": "before the viewer\n"}))
        time.sleep(0.3)
        with psycopg.connect(db) as c:
            build = c.execute("select id from builds where job_id = %s", (job,)).fetchone()[0]
        viewer = connect(backend.url.replace("http", "ws") + f"/api/v1/builds/{build}/log/ws",
                         subprotocols=["kiln-log.v1"], open_timeout=10)
        first = json.loads(viewer.recv(timeout=10))
        assert first == {"type": "chunk", "seq": 0, "data": "before the viewer\n"}
        conn.send(json.dumps({"type": "log", "job": job, "seq": 1, "data": "while watching\n"}))
        second = json.loads(viewer.recv(timeout=10))
        assert second["seq"] == 1 and second["data"] == "while watching\n"
        conn.send(json.dumps({"type": "finish", "job": job, "status": "failed", "exit_code": 2,
                              "reason": "build failed with exit code 2"}))
        end = json.loads(viewer.recv(timeout=10))
        assert end["type"] == "end" and end["state"] == "failed"
        viewer.close()
    status, _, _ = backend.get("/api/v1/builds/999999/log")
    assert status == 404


def test_success_without_a_wheel_is_a_failure(farm):
    db, backend = farm
    token = add_builder(db, "b-empty")
    job = queue(db, "1.1")
    with ws(backend) as conn:
        hello(conn, token, "b-empty")
        j = recv(conn)
        assert j["job"] == job
        conn.send(json.dumps({"type": "finish", "job": job, "status": "succeeded", "exit_code": 0}))
        deadline = time.time() + 10
        while job_row(db, job)[0] != "failed" and time.time() < deadline:
            time.sleep(0.05)
    state, attempts, reason = job_row(db, job)
    assert state == "failed" and "no wheel" in reason


def test_transient_failure_is_retried_with_backoff(farm):
    db, backend = farm
    token = add_builder(db, "b-retry")
    job = queue(db, "1.2")
    with ws(backend) as conn:
        hello(conn, token, "b-retry")
        assert recv(conn)["job"] == job
        conn.send(json.dumps({"type": "finish", "job": job, "status": "retry", "exit_code": -1,
                              "reason": "sdist download failed: 503"}))
        deadline = time.time() + 10
        while job_row(db, job)[0] != "queued" and time.time() < deadline:
            time.sleep(0.05)
    with psycopg.connect(db) as c:
        state, nb = c.execute("select state, not_before > now() from jobs where id = %s", (job,)).fetchone()
        assert state == "queued" and nb is True
        c.execute("update jobs set state = 'cancelled', finished_at = now() where id = %s", (job,))
        c.commit()


def test_foreign_job_id_closes_the_connection(farm):
    db, backend = farm
    token = add_builder(db, "b-foreign")
    other = queue(db, "1.3", priority=-100)  # stays queued: nobody may claim it while we test
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set not_before = now() + interval '1 hour' where id = %s", (other,))
    with ws(backend) as conn:
        hello(conn, token, "b-foreign")
        conn.send(json.dumps({"type": "progress", "job": other, "phase": "building"}))
        expect_error_and_close(conn, "not_your_job")
    assert job_row(db, other)[0] == "queued"
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set state = 'cancelled', finished_at = now() where id = %s", (other,))


def test_vanished_builder_loses_the_job_to_another(farm):
    db, backend = farm
    t1, t2 = add_builder(db, "b-vanish"), add_builder(db, "b-heir")
    job = queue(db, "1.4")
    conn = ws(backend)
    hello(conn, t1, "b-vanish")
    first = recv(conn)
    assert first["job"] == job
    conn.send(json.dumps({"type": "log", "job": job, "seq": 0, "data": "started\n"}))
    time.sleep(0.3)
    conn.close()  # the builder is gone; its lease (3 s) runs out
    with ws(backend) as heir:
        hello(heir, t2, "b-heir")
        second = recv(heir, timeout=20)
        assert second["job"] == job and second["attempt"] == 2 and second["lease"] != first["lease"]
        # The old lease token no longer uploads.
        fn, data = make_wheel("chan-demo", "1.4")
        st, _, _ = backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                                   headers={"Authorization": "Bearer " + first["lease"]})
        assert st == 403
    with psycopg.connect(db) as c:
        lost = c.execute("select state, failure_reason, id from builds where job_id = %s and attempt = 1",
                         (job,)).fetchone()
        assert lost[0] == "lost" and "b-vanish" in lost[1]
    # The lost build's log, moved into storage like any ended build's, ends with the reaper's line.
    deadline = time.time() + 10
    while time.time() < deadline:
        with psycopg.connect(db) as c:
            if c.execute("select log_key from builds where id = %s", (lost[2],)).fetchone()[0]:
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the lost build's log was not stored")
    status, _, log = backend.get(f"/api/v1/builds/{lost[2]}/log")
    log = log.decode()
    assert status == 200 and log.startswith("started\n") and "stopped responding" in log and "queued again" in log


def test_restarted_builder_does_not_keep_the_jobs_it_lost(farm):
    # kill -9 and a restart within the lease: the new process says hello without
    # the job its old one held. While it stays connected, that job's lease must
    # still run out (it was extended for every job of a connected builder: the job
    # stayed 'assigned' forever, found by the chaos run), and come back to it.
    db, backend = farm
    token = add_builder(db, "b-restart")
    with psycopg.connect(db, autocommit=True) as c:
        # Earlier tests' builders left jobs behind: out of the way, so ours is the one offered.
        c.execute("update jobs set state = 'cancelled', finished_at = now(), lease_token_hash = null,"
                  " lease_expires_at = null where state in ('queued', 'assigned', 'running')")
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select id, '5.0', '5.0' from projects where normalized = 'chan-demo'")
    job = queue(db, "5.0")
    with ws(backend) as old:
        hello(old, token, "b-restart")
        first = recv(old)
        assert first["job"] == job and first["attempt"] == 1
    with ws(backend) as new:
        assert hello(new, token, "b-restart", running=())["type"] == "welcome"
        again = recv(new, timeout=20)  # lease 3 s, reaper every 5 s
        assert again["job"] == job and again["attempt"] == 2, again
        conn_state = job_row(db, job)
        assert conn_state[0] == "assigned" and conn_state[1] == 2
        new.send(json.dumps({"type": "finish", "job": job, "status": "failed", "exit_code": 1,
                             "reason": "build failed with exit code 1"}))
        assert recv(new)["type"] == "finished"
    with psycopg.connect(db) as c:
        states = c.execute("select state from builds where job_id = %s order by attempt", (job,)).fetchall()
    assert states == [("lost",), ("failed",)]


def test_finish_right_after_log_chunks_keeps_every_line(farm):
    # Queries run on several pool connections: a finish sent right behind the last
    # chunks must still be stored after them, or the log's last lines are lost (the
    # builder's "uploaded ..." and "built ..." notes come just before its finish).
    db, backend = farm
    token = add_builder(db, "b-lastlines")
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select id, '4.' || g, '4.' || g from projects, generate_series(0, 11) g "
                  "where normalized = 'chan-demo'")
    builds = {}
    with ws(backend) as conn:
        hello(conn, token, "b-lastlines")
        for n in range(12):
            job = queue(db, f"4.{n}")
            assert recv(conn)["job"] == job
            lines = [f"job {job} line {i}\n" for i in range(3)]
            for i, line in enumerate(lines):
                conn.send(json.dumps({"type": "log", "job": job, "seq": i, "data": line}))
            conn.send(json.dumps({"type": "finish", "job": job, "status": "failed", "exit_code": 1,
                                  "reason": "build failed with exit code 1"}))
            ack = recv(conn)
            assert ack["type"] == "finished" and ack["job"] == job
            with psycopg.connect(db) as c:
                builds[c.execute("select id from builds where job_id = %s", (job,)).fetchone()[0]] = "".join(lines)
    deadline = time.time() + 30
    with psycopg.connect(db) as c:
        while c.execute("select count(*) from builds where id = any(%s) and log_key is null",
                        (list(builds),)).fetchone()[0] and time.time() < deadline:
            time.sleep(0.1)
    for build, text in builds.items():
        status, _, body = backend.get(f"/api/v1/builds/{build}/log")
        assert status == 200 and body.decode() == text, (build, body)


def test_a_message_the_database_lost_is_sent_again(farm):
    # The database connection running a log chunk's insert dies (Postgres killed
    # or restarted): the backend must not drop the chunk, or the log has a hole
    # for good (found by the chaos run). It closes the builder's connection so the
    # builder reconnects and sends everything again.
    db, backend = farm
    token = add_builder(db, "b-dblost")
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set state = 'cancelled', finished_at = now(), lease_token_hash = null,"
                  " lease_expires_at = null where state in ('queued', 'assigned', 'running')")
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select id, '6.0', '6.0' from projects where normalized = 'chan-demo'")
    job = queue(db, "6.0")
    with ws(backend) as conn:
        hello(conn, token, "b-dblost")
        assert recv(conn)["job"] == job
        with psycopg.connect(db) as locker:
            # Hold the insert back, then kill the database session running it.
            locker.execute("lock table build_log_chunks in exclusive mode")
            conn.send(json.dumps({"type": "log", "job": job, "seq": 0, "data": "kept\n"}))
            deadline = time.time() + 10
            pid = None
            while pid is None and time.time() < deadline:
                with psycopg.connect(db, autocommit=True) as c:
                    row = c.execute("select pid from pg_stat_activity where wait_event_type = 'Lock'"
                                    " and query like 'insert into build_log_chunks%'").fetchone()
                pid = row and row[0]
                time.sleep(0.05)
            assert pid, "the chunk's insert never waited on the lock"
            with psycopg.connect(db, autocommit=True) as c:
                c.execute("select pg_terminate_backend(%s)", (pid,))
            locker.rollback()
        msg = recv(conn)
        assert msg["type"] == "error" and msg["code"] == "unavailable", msg
        with pytest.raises(Exception):
            conn.recv(timeout=5)
    # The builder comes back with its job and sends what it had sent again.
    with ws(backend) as conn:
        assert hello(conn, token, "b-dblost", running=[job])["type"] == "welcome"
        conn.send(json.dumps({"type": "log", "job": job, "seq": 0, "data": "kept\n"}))
        conn.send(json.dumps({"type": "finish", "job": job, "status": "failed", "exit_code": 1,
                              "reason": "build failed with exit code 1"}))
        ack = recv(conn)
        assert ack["type"] == "finished" and ack["job"] == job, ack
    with psycopg.connect(db) as c:
        build = c.execute("select id from builds where job_id = %s", (job,)).fetchone()[0]
    status, _, body = backend.get(f"/api/v1/builds/{build}/log")
    assert status == 200 and body == b"kept\n"


def test_late_messages_of_an_old_attempt_never_land_on_the_new_one(farm):
    # The same builder loses its job (its connection dropped past the lease) and
    # is given it again as attempt 2; then what its old attempt still had to say
    # arrives (docs/protocol.md, Attempts). Without the attempt, that log chunk,
    # progress and "succeeded" finish would be stored on attempt 2.
    db, backend = farm
    token = add_builder(db, "b-attempts")
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set state = 'cancelled', finished_at = now(), lease_token_hash = null,"
                  " lease_expires_at = null where state in ('queued', 'assigned', 'running')")
        c.execute("insert into releases (project_id, version, version_normalized) "
                  "select id, '7.0', '7.0' from projects where normalized = 'chan-demo'")
    job = queue(db, "7.0")
    with ws(backend) as old:
        hello(old, token, "b-attempts")
        first = recv(old)
        assert first["job"] == job and first["attempt"] == 1
    with ws(backend) as conn:
        assert hello(conn, token, "b-attempts")["type"] == "welcome"
        again = recv(conn, timeout=20)  # lease 3 s, reaper every 5 s
        assert again["job"] == job and again["attempt"] == 2, again
        conn.send(json.dumps({"type": "log", "job": job, "attempt": 1, "seq": 0,
                              "data": "old attempt line\n"}))
        conn.send(json.dumps({"type": "progress", "job": job, "attempt": 1, "phase": "building"}))
        msg = recv(conn)
        assert msg == {"type": "cancel", "job": job, "attempt": 1, "reason": msg["reason"]}, msg
        conn.send(json.dumps({"type": "finish", "job": job, "attempt": 1, "status": "succeeded",
                              "exit_code": 0, "reason": ""}))
        msg = recv(conn)
        assert msg["type"] == "cancel" and msg["attempt"] == 1, msg
        # Nothing of attempt 1 landed: the job is still attempt 2's, assigned, its build
        # running with no log; the lost build stays lost.
        with psycopg.connect(db) as c:
            assert c.execute("select state, attempts from jobs where id = %s", (job,)).fetchone() == \
                ("assigned", 2)
            rows = c.execute("select b.attempt, b.state, b.phase, count(l.seq) from builds b"
                             " left join build_log_chunks l on l.build_id = b.id"
                             " where b.job_id = %s group by b.id order by b.attempt", (job,)).fetchall()
        assert [r[:2] for r in rows] == [(1, "lost"), (2, "running")], rows
        assert rows[1][2] != "building" and rows[1][3] == 0, rows
        # The connection stayed; attempt 2's own messages are stored as usual.
        conn.send(json.dumps({"type": "log", "job": job, "attempt": 2, "seq": 0,
                              "data": "new attempt line\n"}))
        conn.send(json.dumps({"type": "finish", "job": job, "attempt": 2, "status": "failed",
                              "exit_code": 1, "reason": "build failed with exit code 1"}))
        ack = recv(conn)
        assert ack == {"type": "finished", "job": job, "attempt": 2, "state": "failed"}, ack
    with psycopg.connect(db) as c:
        states = c.execute("select attempt, state from builds where job_id = %s order by attempt",
                           (job,)).fetchall()
        assert states == [(1, "lost"), (2, "failed")]
        build = c.execute("select id from builds where job_id = %s and attempt = 2", (job,)).fetchone()[0]
        deadline = time.time() + 10
        while c.execute("select log_key is null from builds where id = %s", (build,)).fetchone()[0] \
                and time.time() < deadline:
            time.sleep(0.1)
    status, _, body = backend.get(f"/api/v1/builds/{build}/log")
    assert status == 200 and body == b"new attempt line\n", body
