"""The build queue's admin side: the admin API (backend/api_admin.c), its bearer
tokens (backend/admin_auth.c), the public queue page's endpoint, and the kilnctl
commands that do the same things with the same statements (common/queue_sql.c).

Real backends on a fresh migrated database; builders are scripted over the
WebSocket channel as in test_channel.py, so a cancel or a pause is checked where
it matters: on the wire to the builder. Every response is recorded and checked
against docs/openapi.yaml at the end.
"""
import hashlib
import json
import re
import secrets
import time
from urllib.parse import quote

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import KILNCTL, ROOT, run

T_X86, T_ARM, T_OFF = "adm-py311-x86_64", "adm-py311-aarch64", "adm-py311-off"
PROJECT = "adm-demo"
RESPONSES = []  # (method, path, status, headers, body)


def sql(db, query, *args):
    with psycopg.connect(db, autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else None


def one(db, query, *args):
    return sql(db, query, *args)[0][0]


def kilnctl(db, *args, check=True):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": db}, check=check)


def token_in(text):
    return re.search(r"kiln_[A-Za-z0-9_-]{43}", text).group(0)


class Farm:
    pass


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    """Three targets (one disabled), a project with three buildable releases and
    one without a source, another project, admin and builder tokens, a backend."""
    f = Farm()
    f.db = migrated
    for name, enabled in ((T_X86, True), (T_ARM, True), (T_OFF, False)):
        sql(f.db, "insert into targets (name, image, python_tag, python_version, platform, enabled)"
            " values (%s, 'kiln/adm:1', 'cp311', '3.11', 'linux_x86_64', %s)", name, enabled)
    for project, versions in ((PROJECT, ("1.0", "1.1", "2.0rc1", "3.0")), ("adm-other", ("0.1",))):
        pid = one(f.db, "insert into projects (name, normalized) values (%s, %s) returning id",
                  project.replace("-", "_").title(), project)
        for v in versions:
            rid = one(f.db, "insert into releases (project_id, version, version_normalized)"
                      " values (%s, %s, %s) returning id", pid, v, v)
            if v != "3.0":  # 3.0 has no source: never queued
                sql(f.db, "insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                    " values (%s, %s, 'sdist', %s, %s, 10)", rid, f"{project}-{v}.tar.gz",
                    f"http://127.0.0.1:9/{project}-{v}.tar.gz", "a" * 64)
    f.admin = token_in(kilnctl(f.db, "admin-token", "add", "ops").stdout)
    f.retired = token_in(kilnctl(f.db, "admin-token", "add", "retired").stdout)
    kilnctl(f.db, "admin-token", "disable", "retired")
    f.builder_token = token_in(kilnctl(f.db, "builder", "add", "b-token-only").stdout)
    f.backend = backend_factory(f.db)
    return f


def api(farm, method, path, body=None, token=None, backend=None, headers=None):
    """(status, parsed JSON body) of one request, recorded for the OpenAPI check."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    st, rh, raw = (backend or farm.backend).request(method, path, body=body, headers=h)
    RESPONSES.append((method, path, st, rh, raw))
    data = json.loads(raw) if rh.get("content-type") == "application/json" and raw else raw
    if st == 200:
        assert rh.get("cache-control") == "no-store", (path, rh)
    else:
        assert set(data) == {"error"} and data["error"]["message"], (path, st, data)
    return st, data


def admin(farm, path, body=None, backend=None):
    return api(farm, "POST", path, body, token=farm.admin, backend=backend)


def clear_queue(db):
    """Cancel every live job, so each test starts from an empty queue."""
    sql(db, "update jobs set state = 'cancelled', finished_at = now(), lease_token_hash = null,"
        " lease_expires_at = null where state in ('queued', 'assigned', 'running')")


def queue_job(db, project, version, target, priority=0, state="queued"):
    return one(db, "insert into jobs (release_id, target_id, priority, state, finished_at)"
               " select r.id, t.id, %s, %s, case when %s in ('failed', 'succeeded') then now() end"
               " from releases r join projects p on p.id = r.project_id, targets t"
               " where p.normalized = %s and r.version = %s and t.name = %s returning id",
               priority, state, state, project, version, target)


def live_jobs(db):
    return sql(db, "select p.normalized, r.version, t.name, j.priority from jobs j"
               " join releases r on r.id = j.release_id join projects p on p.id = r.project_id"
               " join targets t on t.id = j.target_id"
               " where j.state in ('queued', 'assigned', 'running') order by 1, 2, 3")


def snapshot(db):
    return (sql(db, "select id, state, priority, failure_reason, builder_id from jobs order by id"),
            sql(db, "select id, state from builds order by id"),
            sql(db, "select name, paused, enabled from builders order by name"),
            sql(db, "select name, enabled, token_hash from api_tokens order by name"))


# ---- a scripted builder (as in test_channel.py) ----

def ws(backend):
    return connect(backend.url.replace("http", "ws") + "/api/v1/builders/ws",
                   subprotocols=["kiln-builder.v1"], open_timeout=10, max_size=None)


def hello(conn, token, name, targets=(T_X86,), slots=1):
    conn.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": name,
                          "version": "test", "arch": "x86_64", "targets": list(targets),
                          "slots": slots}))
    msg = recv(conn)
    assert msg["type"] == "welcome", msg
    return msg


def recv(conn, timeout=15):
    return json.loads(conn.recv(timeout=timeout))


def no_message(conn, seconds):
    with pytest.raises(TimeoutError):
        conn.recv(timeout=seconds)


def wait_for(pred, timeout=10):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


# ---- authorization ----

ROUTES = [
    ("cancel", "/api/v1/admin/jobs/{job}/cancel", {"reason": "not allowed"}),
    ("rebuild", f"/api/v1/admin/projects/{PROJECT}/rebuild", None),
    ("requeue", "/api/v1/admin/jobs/requeue-failed", {}),
    ("pause", "/api/v1/admin/builders/b-auth-active/pause", None),
    ("resume", "/api/v1/admin/builders/b-auth-paused/resume", None),
]


@pytest.fixture
def auth_setup(farm):
    """Something for every admin route to change: a queued job, a failed one, builders."""
    clear_queue(farm.db)
    job = queue_job(farm.db, PROJECT, "1.0", T_X86)
    queue_job(farm.db, PROJECT, "1.1", T_X86, state="failed")
    for name, paused in (("b-auth-active", False), ("b-auth-paused", True)):
        sql(farm.db, "insert into builders (name, token_hash, paused) values (%s, %s, %s)"
            " on conflict (name) do update set paused = excluded.paused",
            name, secrets.token_hex(32), paused)
    return job


@pytest.mark.parametrize("route", ROUTES, ids=[r[0] for r in ROUTES])
def test_admin_routes_refuse_missing_bad_and_foreign_tokens(farm, auth_setup, route):
    _, path, body = route
    path = path.format(job=auth_setup)
    before = snapshot(farm.db)
    cases = [
        (None, 401), ("", 401), ("Bearer", 401), ("Bearer kiln_short", 401),
        ("Basic " + farm.admin, 401), ("Bearer " + farm.admin + "x", 401),
        ("Bearer " + farm.builder_token, 403),                     # a builder's token
        ("Bearer kiln_" + "A" * 43, 403),                           # nobody's
        ("Bearer " + farm.retired, 403),                            # a disabled admin token
    ]
    for header, status in cases:
        headers = {} if header is None else {"Authorization": header}
        st, data = api(farm, "POST", path, body, headers=headers)
        assert st == status, (header, st, data)
        assert data["error"]["code"] == "unauthorized"
        for secret in (farm.admin, farm.builder_token, farm.retired):
            assert secret not in data["error"]["message"]
    assert snapshot(farm.db) == before
    # The setup was one each route does change, given a valid token.
    st, data = admin(farm, path, body)
    assert st == 200, data
    assert snapshot(farm.db) != before


def test_tokens_never_reach_the_log(farm):
    log = farm.backend.log()
    for secret in (farm.admin, farm.retired, farm.builder_token):
        assert secret not in log
        assert hashlib.sha256(secret.encode()).hexdigest() not in log
    assert 'by="ops"' in log  # admin actions are logged by the token's name


def test_admin_token_commands(farm):
    out = kilnctl(farm.db, "admin-token", "add", "ui-test").stdout
    tok = token_in(out)
    assert "shown only now" in out
    stored = one(farm.db, "select token_hash from api_tokens where name = 'ui-test'")
    assert stored == hashlib.sha256(tok.encode()).hexdigest()
    listing = kilnctl(farm.db, "admin-token", "list").stdout
    assert re.search(r"^ui-test\s+enabled\s", listing, re.M)
    assert re.search(r"^retired\s+disabled\s", listing, re.M)
    assert stored not in listing and tok not in listing
    assert api(farm, "POST", "/api/v1/admin/jobs/requeue-failed", token=tok)[0] == 200
    kilnctl(farm.db, "admin-token", "disable", "ui-test")
    assert api(farm, "POST", "/api/v1/admin/jobs/requeue-failed", token=tok)[0] == 403
    kilnctl(farm.db, "admin-token", "enable", "ui-test")
    assert api(farm, "POST", "/api/v1/admin/jobs/requeue-failed", token=tok)[0] == 200
    p = kilnctl(farm.db, "admin-token", "add", "ui-test", check=False)
    assert p.returncode == 1 and "already exists" in p.stderr
    p = kilnctl(farm.db, "admin-token", "add", "no spaces", check=False)
    assert p.returncode == 1 and "invalid admin token name" in p.stderr
    p = kilnctl(farm.db, "admin-token", "disable", "nobody", check=False)
    assert p.returncode == 1 and "no admin token named 'nobody'" in p.stderr
    assert kilnctl(farm.db, "admin-token", "frobnicate", check=False).returncode == 2


def test_malformed_bodies_are_400_and_change_nothing(farm):
    clear_queue(farm.db)
    before = snapshot(farm.db)
    path = f"/api/v1/admin/projects/{PROJECT}/rebuild"
    for body, needle in [("{not json", "malformed JSON"), ("[1, 2]", "object"),
                         ('"x"', "object"), ({"version": 1}, "'version'"),
                         ({"target": ["a"]}, "'target'"), ({"version": "v" * 300}, "'version'")]:
        st, data = admin(farm, path, body)
        assert st == 400 and needle in data["error"]["message"], (body, data)
    st, data = admin(farm, "/api/v1/admin/jobs/requeue-failed", {"project": 7})
    assert st == 400 and "'project'" in data["error"]["message"]
    st, data = admin(farm, "/api/v1/admin/jobs/1/cancel", {"reason": False})
    assert st == 400 and "'reason'" in data["error"]["message"]
    st, data = admin(farm, "/api/v1/admin/builders/b-auth-active/pause", "[]")
    assert st == 400
    st, data = admin(farm, path, {"pad": "x" * (20 * 1024)})
    assert st == 413
    st, data = admin(farm, "/api/v1/admin/jobs/abc/cancel")
    assert st == 400
    assert snapshot(farm.db) == before


# ---- cancel ----

def test_cancel_running_job_tells_its_builder(farm):
    db = farm.db
    clear_queue(db)
    token = token_in(kilnctl(db, "builder", "add", "b-cancel").stdout)
    with ws(farm.backend) as conn:
        hello(conn, token, "b-cancel")
        job = queue_job(db, PROJECT, "1.0", T_X86)
        j = recv(conn)
        assert j["type"] == "job" and j["job"] == job
        conn.send(json.dumps({"type": "progress", "job": job, "phase": "building"}))
        conn.send(json.dumps({"type": "log", "job": job, "seq": 0, "data": "compiling\n"}))
        wait_for(lambda: one(db, "select state from jobs where id = %s", job) == "running")
        st, data = admin(farm, f"/api/v1/admin/jobs/{job}/cancel", {"reason": "bad release"})
        assert st == 200 and data == {"job": job, "state": "cancelled",
                                      "previous_state": "running", "builder": "b-cancel"}
        msg = recv(conn)
        assert msg["type"] == "cancel" and msg["job"] == job and msg["reason"]
        assert sql(db, "select state, failure_reason from jobs where id = %s", job) == \
            [("cancelled", "bad release")]
        build = sql(db, "select state, failure_reason from builds where job_id = %s", job)
        assert build == [("cancelled", "bad release")]
        status, _, text = farm.backend.get(f"/api/v1/builds/{j['build']}/log")
        assert status == 200 and text.startswith(b"compiling\n") and b"cancelled: bad release" in text
        # Its upload lease is dead.
        st, _, _ = farm.backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/x-1.0-py3-none-any.whl",
                                        body=b"x", headers={"Authorization": "Bearer " + j["lease"]})
        assert st in (403, 404, 409)
        # Once ended, a job cannot be cancelled again; an unknown one is 404.
        st, data = admin(farm, f"/api/v1/admin/jobs/{job}/cancel")
        assert st == 409 and "cancelled" in data["error"]["message"]
        assert admin(farm, "/api/v1/admin/jobs/99999999/cancel")[0] == 404
        # The slot is free again: the next job comes to this builder.
        second = queue_job(db, PROJECT, "1.1", T_X86)
        j2 = recv(conn)
        assert j2["type"] == "job" and j2["job"] == second
        # kilnctl cannot reach the socket: it notifies, and the backend tells the builder.
        out = kilnctl(db, "job", "cancel", str(second), "--reason", "operator said so").stdout
        assert f"job {second} cancelled" in out and "b-cancel" in out
        msg = recv(conn)
        assert msg["type"] == "cancel" and msg["job"] == second
    assert one(db, "select failure_reason from jobs where id = %s", second) == "operator said so"
    p = kilnctl(db, "job", "cancel", str(second), check=False)
    assert p.returncode == 1 and "only queued" in p.stderr
    p = kilnctl(db, "job", "cancel", "99999999", check=False)
    assert p.returncode == 1 and "no job 99999999" in p.stderr


def test_cancel_queued_job(farm):
    clear_queue(farm.db)
    job = queue_job(farm.db, PROJECT, "1.0", T_ARM)
    st, data = admin(farm, f"/api/v1/admin/jobs/{job}/cancel")
    assert st == 200 and data["previous_state"] == "queued" and data["builder"] is None
    assert sql(farm.db, "select state, failure_reason from jobs where id = %s", job) == \
        [("cancelled", "cancelled by an administrator")]


def test_cancel_reaches_a_builder_on_another_replica(farm, backend_factory):
    db = farm.db
    clear_queue(db)
    other = backend_factory(db)
    token = token_in(kilnctl(db, "builder", "add", "b-replica").stdout)
    with ws(other) as conn:
        hello(conn, token, "b-replica")
        job = queue_job(db, PROJECT, "2.0rc1", T_X86)
        assert recv(conn)["job"] == job
        st, data = admin(farm, f"/api/v1/admin/jobs/{job}/cancel")  # on the first backend
        assert st == 200 and data["builder"] == "b-replica"
        msg = recv(conn)
        assert msg["type"] == "cancel" and msg["job"] == job


# ---- rebuild ----

def test_rebuild_queues_only_where_no_job_is_live(farm):
    db = farm.db
    clear_queue(db)
    live = queue_job(db, PROJECT, "1.0", T_X86)
    st, data = admin(farm, "/api/v1/admin/projects/Adm_Demo/rebuild")  # any spelling
    assert st == 200, data
    # 3 releases with a source x 2 enabled targets, less the one already live.
    assert data["project"] == "Adm_Demo" and len(data["jobs"]) == 5
    assert data["live"] == 1 and data["no_source"] == 1 and data["releases"] == 4
    assert data["targets"] == 2 and data["priority"] == 10
    rows = live_jobs(db)
    assert len(rows) == 6 and {r[2] for r in rows} == {T_X86, T_ARM}
    assert all(v != "3.0" for _, v, _, _ in rows)
    assert {r[3] for r in rows if (r[1], r[2]) != ("1.0", T_X86)} == {10}
    assert one(db, "select state from jobs where id = %s", live) == "queued"
    # The job already queued was moved ahead, not doubled (issue 16).
    assert data["moved"] == [live]
    assert one(db, "select (priority, fair_seq) from jobs where id = %s", live) == ("10", "0")
    # Again: everything is live now.
    st, data = admin(farm, f"/api/v1/admin/projects/{PROJECT}/rebuild", {})
    assert st == 200 and data["jobs"] == [] and data["live"] == 6
    # One release on one target, the version in any PEP 440 spelling.
    clear_queue(db)
    st, data = admin(farm, f"/api/v1/admin/projects/{PROJECT}/rebuild",
                     {"version": "2.0RC1", "target": T_ARM})
    assert st == 200 and len(data["jobs"]) == 1 and data["releases"] == 1
    assert live_jobs(db) == [(PROJECT, "2.0rc1", T_ARM, 10)]
    before = snapshot(db)
    for body, status, needle in [({"version": "9.9"}, 404, "no release '9.9'"),
                                 ({"target": "nope"}, 404, "no target named 'nope'"),
                                 ({"target": T_OFF}, 409, "disabled")]:
        st, data = admin(farm, f"/api/v1/admin/projects/{PROJECT}/rebuild", body)
        assert st == status and needle in data["error"]["message"], (body, data)
    st, data = admin(farm, "/api/v1/admin/projects/no-such-project/rebuild")
    assert st == 404
    assert snapshot(db) == before


def test_kilnctl_rebuild(farm):
    db = farm.db
    clear_queue(db)
    out = kilnctl(db, "rebuild", "ADM.demo", "1.1", "--target", T_X86).stdout
    assert "queued 1 job for Adm_Demo at priority 10" in out
    assert live_jobs(db) == [(PROJECT, "1.1", T_X86, 10)]
    out = kilnctl(db, "rebuild", PROJECT).stdout
    assert "queued 5 jobs" in out and "1 already queued or running" in out and "without" in out
    out = kilnctl(db, "rebuild", PROJECT).stdout
    assert "queued 0 jobs" in out
    for args, needle in [(("nope",), "no project named 'nope'"),
                         ((PROJECT, "9.9"), "no release '9.9'"),
                         ((PROJECT, "--target", "nope"), "no target named 'nope'"),
                         ((PROJECT, "--target", T_OFF), "is disabled")]:
        p = kilnctl(db, "rebuild", *args, check=False)
        assert p.returncode == 1 and needle in p.stderr, (args, p.stderr)
    assert kilnctl(db, "rebuild", check=False).returncode == 2


# ---- requeue-failed ----

def failed_setup(db):
    """Failed latest jobs: 1.0 and 1.1 on x86, 1.0 on arm; 2.0rc1 on x86 failed but then
    succeeded (not latest); 1.0 on the disabled target; adm-other 0.1 on x86."""
    clear_queue(db)
    sql(db, "delete from jobs")
    for version, target in (("1.0", T_X86), ("1.1", T_X86), ("1.0", T_ARM), ("2.0rc1", T_X86),
                            ("1.0", T_OFF)):
        queue_job(db, PROJECT, version, target, state="failed")
    queue_job(db, PROJECT, "2.0rc1", T_X86, state="succeeded")
    queue_job(db, "adm-other", "0.1", T_X86, state="failed")


def test_requeue_failed(farm):
    db = farm.db
    failed_setup(db)
    st, data = admin(farm, "/api/v1/admin/jobs/requeue-failed", {"project": "ADM_demo"})
    assert st == 200 and data == {"failed": 3, "requeued": 3, "disabled_targets": 1,
                                  "priority": 10}
    assert live_jobs(db) == [(PROJECT, "1.0", T_ARM, 10), (PROJECT, "1.0", T_X86, 10),
                             (PROJECT, "1.1", T_X86, 10)]
    # Those are live now, so their latest job is no longer a failed one.
    st, data = admin(farm, "/api/v1/admin/jobs/requeue-failed", {"project": PROJECT})
    assert st == 200 and data["failed"] == 0 and data["requeued"] == 0
    st, data = admin(farm, "/api/v1/admin/jobs/requeue-failed", {"target": T_X86})
    assert st == 200 and data["requeued"] == 1  # adm-other 0.1
    before = snapshot(db)
    for body in ({"project": "nope"}, {"target": "nope"}):
        st, data = admin(farm, "/api/v1/admin/jobs/requeue-failed", body)
        assert st == 404 and "nope" in data["error"]["message"]
    assert snapshot(db) == before


def test_kilnctl_requeue_failed(farm):
    db = farm.db
    failed_setup(db)
    out = kilnctl(db, "requeue-failed", "--target", T_ARM).stdout
    assert "requeued 1 of 1 failed job(s) at priority 10" in out
    out = kilnctl(db, "requeue-failed").stdout
    assert "requeued 3 of 3" in out and "1 failed job(s) on disabled targets" in out
    assert len(live_jobs(db)) == 4
    p = kilnctl(db, "requeue-failed", "--project", "nope", check=False)
    assert p.returncode == 1 and "no project named 'nope'" in p.stderr
    assert kilnctl(db, "requeue-failed", "extra", check=False).returncode == 2


# ---- pause / resume ----

def builder_state(farm, name):
    st, data = api(farm, "GET", "/api/v1/builders")
    return next(b["state"] for b in data["builders"] if b["name"] == name)


@pytest.mark.parametrize("via", ["api", "kilnctl"])
def test_paused_builder_gets_no_job_until_resumed(farm, via):
    db = farm.db
    clear_queue(db)
    name = f"b-pause-{via}"
    token = token_in(kilnctl(db, "builder", "add", name).stdout)

    def pause(on):
        if via == "api":
            st, data = admin(farm, f"/api/v1/admin/builders/{name}/{'pause' if on else 'resume'}")
            assert st == 200 and data == {"name": name, "state": "paused" if on else "enabled"}
        else:
            out = kilnctl(db, "builder", "pause" if on else "resume", name).stdout
            assert ("paused" if on else "resumed") in out

    with ws(farm.backend) as conn:
        hello(conn, token, name)  # one free slot, nothing queued
        pause(True)
        assert builder_state(farm, name) == "paused"
        time.sleep(0.5)  # the notification reaches the backend
        job = queue_job(db, PROJECT, "1.0", T_X86)
        no_message(conn, 2.5)  # the dispatcher ran (NOTIFY kiln_jobs) and skipped it
        assert one(db, "select state from jobs where id = %s", job) == "queued"
        pause(False)
        j = recv(conn)
        assert j["type"] == "job" and j["job"] == job
        assert builder_state(farm, name) == "enabled"
        admin(farm, f"/api/v1/admin/jobs/{job}/cancel")
        assert recv(conn)["type"] == "cancel"
    if via == "api":
        assert admin(farm, "/api/v1/admin/builders/nobody/pause")[0] == 404
    else:
        p = kilnctl(db, "builder", "pause", "nobody", check=False)
        assert p.returncode == 1 and "no builder named 'nobody'" in p.stderr


# ---- the queue page ----

def test_queue_lists_in_claim_order_and_filters(farm):
    db = farm.db
    clear_queue(db)
    token = token_in(kilnctl(db, "builder", "add", "b-queue").stdout)
    with ws(farm.backend) as conn:
        hello(conn, token, "b-queue", targets=(T_X86,))
        running = queue_job(db, "adm-other", "0.1", T_X86)
        j = recv(conn)
        assert j["job"] == running
        conn.send(json.dumps({"type": "progress", "job": running, "phase": "building"}))
        wait_for(lambda: one(db, "select state from jobs where id = %s", running) == "running")
        low = queue_job(db, PROJECT, "1.0", T_ARM, priority=0)
        high = queue_job(db, PROJECT, "1.1", T_ARM, priority=10)
        mid = queue_job(db, PROJECT, "2.0rc1", T_ARM, priority=5)
        st, data = api(farm, "GET", "/api/v1/queue")
        assert st == 200 and data["next_cursor"] is None
        assert [x["id"] for x in data["jobs"]] == [running, high, mid, low]
        first = data["jobs"][0]
        assert first["state"] == "running" and first["builder"] == "b-queue"
        assert first["build_id"] == j["build"] and first["phase"] == "building"
        assert first["project"] == {"name": "Adm_Other", "normalized": "adm-other"}
        assert first["started_at"] and first["assigned_at"]
        q = data["jobs"][1]
        assert q["builder"] is None and q["build_id"] is None and q["priority"] == 10
        assert q["version"] == "1.1" and q["target"] == T_ARM and q["attempts"] == 0

        def ids(query):
            st, d = api(farm, "GET", "/api/v1/queue?" + query)
            assert st == 200, d
            return [x["id"] for x in d["jobs"]]

        assert ids("state=queued") == [high, mid, low]
        assert ids("state=running") == [running]
        assert ids(f"target={T_X86}") == [running]
        assert ids("project=ADM_Demo") == [high, mid, low]
        assert ids("project=adm-demo&state=running") == []
        # Keyset pages cover the queue once, in order.
        seen, cursor = [], None
        while True:
            st, d = api(farm, "GET", "/api/v1/queue?limit=1" + (f"&cursor={quote(cursor)}" if cursor else ""))
            seen += [x["id"] for x in d["jobs"]]
            cursor = d["next_cursor"]
            if cursor is None:
                break
        assert seen == [running, high, mid, low]
        for bad in ("state=failed", "limit=0", "cursor=nonsense", "cursor=1:2:3", "project=%21%21"):
            assert api(farm, "GET", "/api/v1/queue?" + bad)[0] == 400, bad
        # kilnctl shows the same table.
        out = kilnctl(db, "queue").stdout.splitlines()
        assert out[0].split()[:3] == ["JOB", "STATE", "PRIO"]
        assert [int(line.split()[0]) for line in out[1:]] == [running, high, mid, low]
        assert "b-queue (building)" in out[1]
        out = kilnctl(db, "queue", "--state", "queued", "--limit", "2").stdout.splitlines()
        assert [int(line.split()[0]) for line in out[1:3]] == [high, mid] and "more" in out[3]
        out = kilnctl(db, "queue", "--project", "Adm_Other").stdout.splitlines()
        assert len(out) == 2 and out[1].startswith(str(running))
        assert kilnctl(db, "queue", "--state", "nope", check=False).returncode == 2
        admin(farm, f"/api/v1/admin/jobs/{running}/cancel")
        assert recv(conn)["type"] == "cancel"


# ---- last: every response received fits docs/openapi.yaml ----

def openapi_operation(doc, method, path):
    """The documented operation for a request (the most literal path template)."""
    segs = path.split("?")[0].split("/")
    best = None
    for templ, ops in doc["paths"].items():
        t = templ.split("/")
        if method.lower() in ops and len(t) == len(segs) and all(
                a == b or (a.startswith("{") and a.endswith("}") and b) for a, b in zip(t, segs)):
            if best is None or templ.count("{") < best[0].count("{"):
                best = (templ, ops[method.lower()])
    return best[1] if best else None


def test_responses_match_openapi(farm):
    import yaml
    from jsonschema import Draft202012Validator
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    checked = set()
    for method, path, status, h, body in list(RESPONSES):
        op = openapi_operation(doc, method, path)
        assert op, f"{method} {path} is not documented"
        if path.startswith("/api/v1/admin/"):
            assert op.get("security") == [{"adminToken": []}], path
        assert str(status) in op["responses"], f"{method} {path}: status {status} is not documented"
        resp = op["responses"][str(status)]
        if "$ref" in resp:
            resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        ctype = h.get("content-type", "")
        media = resp["content"].get(ctype) or resp["content"].get(ctype.split(";")[0])
        assert media, f"{path}: {ctype} is not documented for {status}"
        root = dict(doc, allOf=[media["schema"]])
        errors = [e.message for e in Draft202012Validator(root).iter_errors(json.loads(body))]
        assert not errors, (method, path, status, errors[:3])
        checked.add((method, path.split("?")[0].rsplit("/", 1)[-1], status))
    assert len(checked) > 20


def test_post_without_content_length_is_answered(farm):
    """A POST with no body and no Content-Length (curl -X POST) gets its answer at once."""
    import socket
    host, port = farm.backend.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /api/v1/admin/jobs/requeue-failed HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + farm.admin.encode() + b"\r\n\r\n")
        head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
