"""Security rules checked route by route and token by token (issue 9).

The route list is parsed from backend/route.c (as test_openapi.py does), so a
route added later is checked too, or this test fails until it is classified:
  - admin routes (/api/v1/admin/...) refuse a missing, malformed, unknown,
    builder's or lease token with 401/403 and a JSON error, and change nothing;
  - the builder route (artifact upload) refuses anything but the job's own lease;
  - every other route is a read-only GET/HEAD.
A builder cannot touch another builder's job: not with its lease token, not on
the channel. Tokens are stored only as SHA-256 hashes (the whole database is
searched for them), never logged (the backend's log is searched), and the test
suite's database role is not a superuser.
"""
import hashlib
import json
import re
import time

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import KILNCTL, run
from test_openapi import route_table
from wheels import make_wheel

TARGET = "sec-py311-x86_64"
PROJECT = "sec-demo"
NOBODY = "kiln_" + "Q" * 43  # well formed, held by no one


def sql(db, query, *args):
    with psycopg.connect(db, autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else None


def token_in(text):
    return re.search(r"kiln_[A-Za-z0-9_-]{43}", text).group(0)


def kilnctl(db, *args):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": db}).stdout


def ws(backend):
    return connect(backend.url.replace("http", "ws") + "/api/v1/builders/ws",
                   subprotocols=["kiln-builder.v1"], open_timeout=10, max_size=None)


def recv(conn, timeout=15):
    return json.loads(conn.recv(timeout=timeout))


def hello(conn, token, name):
    conn.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": name,
                          "version": "test", "arch": "x86_64", "targets": [TARGET], "slots": 1}))
    msg = recv(conn)
    assert msg["type"] == "welcome", msg


def job_state(db, job):
    return sql(db, "select j.state, b.name from jobs j left join builders b on b.id = j.builder_id"
               " where j.id = %s", job)[0]


class Farm:
    pass


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    """Two builders each holding one job (real dispatch), an admin token, a backend."""
    f = Farm()
    f.db = migrated
    sql(f.db, "insert into targets (name, image, python_tag, python_version, platform)"
        " values (%s, 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64')", TARGET)
    pid = sql(f.db, "insert into projects (name, normalized) values (%s, %s) returning id",
              PROJECT, PROJECT)[0][0]
    for v in ("1.0", "2.0", "3.0"):
        rid = sql(f.db, "insert into releases (project_id, version, version_normalized)"
                  " values (%s, %s, %s) returning id", pid, v, v)[0][0]
        sql(f.db, "insert into upstream_files (release_id, filename, kind, url, sha256, size)"
            " values (%s, %s, 'sdist', %s, %s, 10)", rid, f"sec_demo-{v}.tar.gz",
            f"http://127.0.0.1:9/sec_demo-{v}.tar.gz", "a" * 64)
    f.admin = token_in(kilnctl(f.db, "admin-token", "add", "sec-ops"))
    f.tokens = {n: token_in(kilnctl(f.db, "builder", "add", n)) for n in ("b-sec-a", "b-sec-b")}
    f.backend = backend_factory(f.db)
    f.conns, f.jobs = {}, {}
    for name, version in (("b-sec-a", "1.0"), ("b-sec-b", "2.0")):
        job = sql(f.db, "insert into jobs (release_id, target_id) select r.id, t.id from releases r,"
                  " targets t where r.version = %s returning id", version)[0][0]
        conn = ws(f.backend)
        hello(conn, f.tokens[name], name)
        msg = recv(conn)
        assert msg["type"] == "job" and msg["job"] == job, msg
        f.conns[name], f.jobs[name] = conn, msg
    yield f
    for c in f.conns.values():
        c.close()


def concrete(path, farm):
    """A route pattern with real values for its '*' segments, chosen by the segment before."""
    values = {"jobs": str(farm.jobs["b-sec-a"]["job"]), "projects": PROJECT,
              "builders": "b-sec-b", "artifacts": "x", "builds": "1", "releases": "1.0",
              "native-packages": "libsec-dev"}
    parts = path.split("/")
    for i, p in enumerate(parts):
        if p == "*":
            assert parts[i - 1] in values, f"no test value for '*' after '{parts[i - 1]}' in {path}"
            parts[i] = values[parts[i - 1]]
    return "/".join(parts)


def snapshot(db):
    return (sql(db, "select id, state, priority, builder_id, failure_reason from jobs order by id"),
            sql(db, "select name, paused, enabled from builders order by name"),
            sql(db, "select filename from artifacts order by filename"),
            sql(db, "select project_id, package from project_native_packages order by 1, 2"))


def is_admin(pattern):
    return pattern.startswith("/api/v1/admin/")


def is_builder(name):
    return name == "upload"


ADMIN_ROUTES = [r for r in route_table() if is_admin(r[1])]


def test_every_route_is_classified():
    """A route that writes must be an admin or a builder route; the rest only read."""
    assert len(ADMIN_ROUTES) >= 5
    for methods, pattern, name in route_table():
        if is_admin(pattern):
            # Writes, or an admin's read of what only admins see (who added a package).
            assert methods <= {"post", "delete", "get", "head"} and methods & {"post", "delete", "get"}, \
                (name, methods)
        elif is_builder(name):
            assert methods == {"put"}, (name, methods)
        else:
            assert methods <= {"get", "head"}, f"route {name} writes but is neither admin nor builder"


def refusal(backend, method, path, header, body=b"{}"):
    if method in ("GET", "DELETE"):
        body = None  # only POST and PUT carry a body
    h = {"Content-Type": "application/json"}
    if header is not None:
        h["Authorization"] = header
    st, rh, raw = backend.request(method, path, body=body, headers=h)
    assert rh.get("content-type") == "application/json", (path, st, raw)
    err = json.loads(raw)["error"]
    assert err["code"] == "unauthorized" and err["message"], err
    return st


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=[r[2] for r in ADMIN_ROUTES])
def test_admin_route_refuses_every_token_but_an_admins(farm, route):
    methods, pattern, _ = route
    path = concrete(pattern, farm)
    before = snapshot(farm.db)
    lease = farm.jobs["b-sec-a"]["lease"]
    for method in sorted(m.upper() for m in methods - {"head"}):
        for header, status in [(None, 401), ("Bearer nonsense", 401), ("Bearer " + NOBODY, 403),
                               ("Bearer " + farm.tokens["b-sec-a"], 403), ("Bearer " + lease, 403)]:
            assert refusal(farm.backend, method, path, header) == status, (method, header)
        assert snapshot(farm.db) == before
        # The same request with the admin token passes the gate (the refusals were about auth).
        st, _, raw = farm.backend.request(method, path,
                                          body=None if method in ("GET", "DELETE") else b'{"reason": "security test"}',
                                          headers={"Authorization": "Bearer " + farm.admin,
                                                   "Content-Type": "application/json"})
        assert st not in (401, 403), raw
    # Undo what it did, so the next route sees the same farm.
    sql(farm.db, "update builders set paused = false")
    for name, j in farm.jobs.items():
        sql(farm.db, "update jobs set state = 'assigned', finished_at = null, failure_reason = null,"
            " builder_id = (select id from builders where name = %s), lease_token_hash = %s,"
            " lease_expires_at = now() + interval '1 hour' where id = %s",
            name, hashlib.sha256(j["lease"].encode()).hexdigest(), j["job"])


def test_upload_needs_the_jobs_own_lease(farm):
    a, b = farm.jobs["b-sec-a"], farm.jobs["b-sec-b"]
    fn, data = make_wheel(PROJECT, "2.0")
    path = f"/api/v1/jobs/{b['job']}/artifacts/{fn}"
    before = snapshot(farm.db)
    for header, status in [(None, 401), ("Bearer nonsense", 401), ("Bearer " + NOBODY, 403),
                           ("Bearer " + a["lease"], 403),              # another job's lease
                           ("Bearer " + farm.tokens["b-sec-b"], 403),  # the builder's own token
                           ("Bearer " + farm.admin, 403)]:
        assert refusal(farm.backend, "PUT", path, header, body=data) == status, header
    assert snapshot(farm.db) == before
    st, _, raw = farm.backend.request("PUT", path, body=data,
                                      headers={"Authorization": "Bearer " + b["lease"]})
    assert st == 201, raw


@pytest.mark.parametrize("msg", [
    {"type": "finish", "status": "failed", "reason": "not mine"},
    {"type": "progress", "phase": "building"},
    {"type": "log", "seq": 0, "data": "spoofed\n"},
])
def test_builder_cannot_touch_another_builders_job(farm, msg):
    """b-sec-a speaks for b-sec-b's job: refused, connection closed, the job untouched."""
    victim = farm.jobs["b-sec-b"]["job"]
    before = job_state(farm.db, victim)
    assert before[1] == "b-sec-b"
    with ws(farm.backend) as conn:
        hello(conn, farm.tokens["b-sec-a"], "b-sec-a")
        # A reconnecting builder gets its own job again or nothing; skip a re-offer.
        conn.send(json.dumps({**msg, "job": victim}))
        deadline = time.time() + 15
        while True:
            m = recv(conn, timeout=max(0.1, deadline - time.time()))
            if m["type"] == "error":
                break
        assert m["code"] == "not_your_job", m
        with pytest.raises(Exception):
            conn.recv(timeout=5)
    assert job_state(farm.db, victim) == before
    assert sql(farm.db, "select count(*) from build_log_chunks c join builds b on b.id = c.build_id"
               " where b.job_id = %s", victim)[0][0] == 0


def all_text(db):
    """Every row of every table in the database, as text."""
    out = []
    for (table,) in sql(db, "select quote_ident(table_schema) || '.' || quote_ident(table_name)"
                        " from information_schema.tables where table_type = 'BASE TABLE'"
                        " and table_schema not in ('pg_catalog', 'information_schema')"):
        out += [r[0] for r in sql(db, f"select t::text from {table} t")]
    return "\n".join(out)


def test_tokens_are_stored_only_as_hashes(farm):
    secrets_ = [farm.admin, *farm.tokens.values(), *(j["lease"] for j in farm.jobs.values())]
    text = all_text(farm.db)
    assert len(text) > 1000
    for s in secrets_:
        assert s not in text
        assert s[5:] not in text  # nor without its prefix
    hashes = {r[0] for r in sql(farm.db, "select token_hash from builders union all"
                                " select token_hash from api_tokens union all"
                                " select lease_token_hash from jobs where lease_token_hash is not null")}
    for s in secrets_:
        assert hashlib.sha256(s.encode()).hexdigest() in hashes


def test_tokens_never_reach_the_log(farm):
    log = farm.backend.log()
    assert "builder connected" in log and "job assigned" in log
    for s in [farm.admin, *farm.tokens.values(), *(j["lease"] for j in farm.jobs.values())]:
        assert s not in log and s[5:] not in log
        assert hashlib.sha256(s.encode()).hexdigest() not in log


def test_suite_role_is_not_a_superuser(farm):
    su, cr, rls, cdb = sql(farm.db, "select rolsuper, rolcreaterole, rolbypassrls, rolcreatedb"
                           " from pg_roles where rolname = current_user")[0]
    assert (su, cr, rls) == (False, False, False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(farm.db, "create role kiln_sec_probe")
