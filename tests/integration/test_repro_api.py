"""Reproducibility results on the read side (docs/builds.md, "Reproducibility
checks"): GET /api/v1/builds/{id} (kind, check_of, reproducibility,
reproducibility_pending), the builds list's kind, the project page's cells
(a mark per release x target; a check never becomes a cell's job), the admin
route that queues a check (202/409/404), /metrics, and `kilnctl repro
check|list`.

No builder runs here: targets, builders, jobs, builds and published wheels are
rows put into a real database, and each check ends the way the backend ends
one, by an UPDATE of its job's state, so the real trigger of
migrations/0016_repro.sql decides the result; a real backend reads them.
"""
import json
import re

import psycopg
import pytest
import yaml

from conftest import KILNCTL, ROOT, run

X311, X313 = "bookworm-py311-x86_64", "trixie-py313-x86_64"
PROJECT = "repro-demo"
# Four members differ in the differing wheel: `kilnctl repro list` names three.
DIFFERS = [
    {"member": "repro_demo/_speedups.cpython-313-x86_64-linux-gnu.so", "what": "content"},
    {"member": "repro_demo-1.0.dist-info/RECORD", "what": "content"},
    {"member": "repro_demo/__init__.py", "what": "metadata", "fields": ["date"]},
    {"member": "repro_demo/_version.py", "what": "metadata", "fields": ["date", "mode"]},
]


class Seed:
    pass


def sha(text):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


def wheel_name(version, py):
    return f"repro_demo-{version}-cp{py}-cp{py}-manylinux_2_36_x86_64.whl"


def seed(url):
    """The farm's rows: two targets, two builders, three releases of repro-demo with
    built wheels; checks that came out reproducible, differing and failed."""
    d = Seed()
    with psycopg.connect(url, autocommit=True) as c:
        def one(q, *a):
            return c.execute(q, a).fetchone()[0]

        d.t = {}
        for name, suite, py, glibc in ((X311, "bookworm", "3.11", "2.36"),
                                       (X313, "trixie", "3.13", "2.41")):
            d.t[name] = one("insert into targets (name, image, python_tag, python_version, platform,"
                            " arch, suite, glibc) values (%s, %s, %s, %s, 'linux_x86_64', 'x86_64',"
                            " %s, %s) returning id", name, f"kiln/{name}:test",
                            "cp" + py.replace(".", ""), py, suite, glibc)
        d.b = {name: one("insert into builders (name, token_hash, capabilities, last_seen_at)"
                         " values (%s, md5(%s) || md5('x'), %s, now()) returning id",
                         name, name, json.dumps({"arch": "x86_64", "slots": 1}))
               for name in ("box-a", "box-b")}
        d.pid = one("insert into projects (name, normalized) values ('Repro-Demo', %s) returning id",
                    PROJECT)
        d.r = {}
        for v, days in (("1.0", 1), ("0.9", 30), ("0.8", 90)):
            d.r[v] = one("insert into releases (project_id, version, version_normalized, uploaded_at)"
                         " values (%s, %s, %s, now() - %s * interval '1 day') returning id",
                         d.pid, v, v, days)
        # 0.9 has an sdist, so `kilnctl rebuild` can queue it.
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                  " values (%s, 'repro-demo-0.9.tar.gz', 'sdist', 'http://127.0.0.1:9/x.tar.gz',"
                  " %s, 10)", (d.r["0.9"], "a" * 64))

        def job(version, target, state, builder, kind="build", check_of=None):
            live = state in ("assigned", "running")
            return one("insert into jobs (release_id, target_id, state, attempts, builder_id, kind,"
                       " check_of, priority, lease_token_hash, lease_expires_at, started_at,"
                       " finished_at, failure_reason) values (%s, %s, %s, 1, %s, %s, %s, %s,"
                       " case when %s then md5(%s::text) || md5('l') end,"
                       " case when %s then now() + interval '1 hour' end,"
                       " now() - interval '20 minutes',"
                       " case when not %s then now() - interval '10 minutes' end,"
                       " case when %s = 'failed' then 'error: the build failed' end) returning id",
                       d.r[version], d.t[target], state, d.b[builder], kind, check_of,
                       -10 if kind == "check" else 0, live, version + target + kind, live, live,
                       state)

        def build(jid, builder, state):
            return one("insert into builds (job_id, attempt, builder_id, state, phase, started_at,"
                       " finished_at, duration_ms, failure_reason, failure_class) values"
                       " (%s, 1, %s, %s, %s, now() - interval '20 minutes',"
                       " case when %s <> 'running' then now() - interval '10 minutes' end,"
                       " case when %s <> 'running' then 600000 end,"
                       " case when %s = 'failed' then 'error: the build failed' end,"
                       " case when %s = 'failed' then 'compile' end) returning id",
                       jid, d.b[builder], state, "building" if state == "running" else "done",
                       state, state, state, state)

        def built(version, target, builder="box-a"):
            """A build that published one wheel of its own: (job, build, filename)."""
            jid = job(version, target, "succeeded", builder)
            bid = build(jid, builder, "succeeded")
            py = "311" if target == X311 else "313"
            f = wheel_name(version, py)
            c.execute("insert into artifacts (project_id, release_id, job_id, build_id, filename,"
                      " sha256, size, python_tags, abi_tags, platform_tags, metadata,"
                      " metadata_sha256, storage_key, published_at) values (%s, %s, %s, %s, %s, %s,"
                      " 81234, %s, %s, %s, 'Metadata-Version: 2.1', %s, %s, now())",
                      (d.pid, d.r[version], jid, bid, f, sha(f), [f"cp{py}"], [f"cp{py}"],
                       ["manylinux_2_36_x86_64"], sha(f + "m"), "wheels/" + f))
            return jid, bid, f

        def check(of, version, target, builder, wheels, state="succeeded"):
            """A check of job `of` that uploads wheels [(filename, sha256, differs)] and
            ends in state, as the backend ends it: the trigger decides the result."""
            cj = job(version, target, "running", builder, kind="check", check_of=of)
            cb = build(cj, builder, "running")
            for f, digest, diff in wheels:
                c.execute("insert into repro_wheels (build_id, filename, sha256, size, storage_key,"
                          " differs) values (%s, %s, %s, 81234, %s, %s)",
                          (cb, f, digest, None if diff is None else "repro/" + digest,
                           None if diff is None else json.dumps(diff)))
            c.execute("update builds set state = %s, phase = 'done', finished_at = now(),"
                      " duration_ms = 1000 where id = %s", (state, cb))
            c.execute("update jobs set state = %s, finished_at = now(), lease_token_hash = null,"
                      " lease_expires_at = null where id = %s", (state, cj))
            return cj, cb

        # 1.0 on 3.11: rebuilt byte for byte by box-b.
        d.j1, d.b1, d.w1 = built("1.0", X311)
        d.c1, d.cb1 = check(d.j1, "1.0", X311, "box-b", [(d.w1, sha(d.w1), None)])
        # 1.0 on 3.13: the check's wheel differs in four members.
        d.j2, d.b2, d.w2 = built("1.0", X313)
        d.c2, d.cb2 = check(d.j2, "1.0", X313, "box-b", [(d.w2, sha("other bytes"), DIFFERS)])
        # 0.9 on 3.11: the check's build failed.
        d.j3, d.b3, d.w3 = built("0.9", X311)
        d.c3, d.cb3 = check(d.j3, "0.9", X311, "box-b", [], state="failed")
        # 0.9 on 3.13: built, never checked (the admin route queues one).
        d.j4, d.b4, d.w4 = built("0.9", X313)
        # 0.8 on 3.11: the build failed, published nothing: nothing to check.
        d.j5 = job("0.8", X311, "failed", "box-a")
        d.b5 = build(d.j5, "box-a", "failed")
    d.admin = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                        run([KILNCTL, "admin-token", "add", "repro-ops"],
                            env={"KILN_DATABASE_URL": url}).stdout).group(0)
    return d


@pytest.fixture(scope="module")
def data(migrated):
    return seed(migrated)


@pytest.fixture(scope="module")
def backend(migrated, data, backend_factory):
    return backend_factory(migrated)


DOC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


def schema_errors(name, value):
    from jsonschema import Draft202012Validator
    root = dict(DOC, allOf=[{"$ref": f"#/components/schemas/{name}"}])
    return [e.message for e in Draft202012Validator(root).iter_errors(value)]


def api(backend, path, schema=None):
    st, h, body = backend.get(path)
    assert st == 200, (path, st, body[:300])
    v = json.loads(body)
    if schema:
        assert not schema_errors(schema, v), (path, schema_errors(schema, v)[:3])
    return v


def post(backend, path, token):
    h = {"Authorization": "Bearer " + token} if token else {}
    st, rh, body = backend.request("POST", path, headers=h)
    return st, json.loads(body)


def cells(project, version):
    (r,) = [r for r in project["releases"] if r["version"] == version]
    return {c["target"]: c for c in r["cells"]}


def sql(url, q, *a):
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute(q, a).fetchall()


def kilnctl(url, *args, check=True):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": url}, check=check)


def test_a_reproducible_build(backend, data):
    b = api(backend, f"/api/v1/builds/{data.b1}", "BuildDetail")
    assert b["kind"] == "build" and b["check_of"] is None
    assert b["reproducibility_pending"] is False
    r = b["reproducibility"]
    assert r.pop("decided_at").endswith("Z")
    assert r == {"result": "reproducible", "check_job": data.c1, "check_build": data.cb1,
                 "builder": "box-b", "original_builder": "box-a",
                 "wheels": [{"filename": data.w1, "result": "same", "sha256": sha(data.w1),
                             "expected": sha(data.w1), "members": []}]}


def test_a_check_build_says_what_it_checks(backend, data):
    b = api(backend, f"/api/v1/builds/{data.cb1}", "BuildDetail")
    assert b["kind"] == "check"
    assert b["check_of"] == {"build": data.b1, "job": data.j1}
    assert b["reproducibility"] is None and b["reproducibility_pending"] is False
    assert b["job"]["priority"] == -10


def test_a_build_that_differs_lists_the_members(backend, data):
    r = api(backend, f"/api/v1/builds/{data.b2}", "BuildDetail")["reproducibility"]
    assert r["result"] == "differs" and r["check_build"] == data.cb2
    (w,) = r["wheels"]
    assert w["filename"] == data.w2 and w["result"] == "differs"
    assert w["sha256"] == sha("other bytes") and w["expected"] == sha(data.w2)
    assert w["members"] == DIFFERS


def test_a_failed_check(backend, data):
    r = api(backend, f"/api/v1/builds/{data.b3}", "BuildDetail")["reproducibility"]
    assert r["result"] == "failed" and r["wheels"] == [] and r["check_job"] == data.c3
    b = api(backend, f"/api/v1/builds/{data.b4}", "BuildDetail")
    assert b["reproducibility"] is None and b["reproducibility_pending"] is False


def test_cells_carry_the_mark_and_never_a_check(backend, data):
    p = api(backend, f"/api/v1/projects/{PROJECT}", "ProjectDetail")
    c = cells(p, "1.0")
    # The checks are newer jobs of the same release x target: the cells keep the builds.
    assert (c[X311]["status"], c[X311]["job_id"], c[X311]["build_id"]) == ("built", data.j1, data.b1)
    assert (c[X313]["job_id"], c[X313]["build_id"]) == (data.j2, data.b2)
    assert {n: x["reproducibility"] for n, x in c.items()} == {X311: "reproducible", X313: "differs"}
    c = cells(p, "0.9")
    assert (c[X311]["job_id"], c[X311]["job_state"]) == (data.j3, "succeeded")
    assert {n: x["reproducibility"] for n, x in c.items()} == {X311: "failed", X313: None}
    c = cells(p, "0.8")
    assert c[X311]["status"] == "failed" and c[X311]["reproducibility"] is None
    # The release page lists its checks among its jobs, marked.
    rel = api(backend, f"/api/v1/projects/{PROJECT}/releases/1.0", "ReleaseDetail")
    jobs = {j["id"]: j for j in rel["jobs"]}
    assert (jobs[data.c1]["kind"], jobs[data.c1]["check_of"]) == ("check", data.j1)
    assert (jobs[data.j1]["kind"], jobs[data.j1]["check_of"]) == ("build", None)
    assert {x["target"]: x["reproducibility"] for x in rel["cells"]} == {
        X311: "reproducible", X313: "differs"}


def test_the_builds_list_has_kind_and_filters_by_it(backend, data):
    rows = {b["id"]: b for b in api(backend, f"/api/v1/builds?project={PROJECT}", "BuildList")["builds"]}
    assert rows[data.cb1]["kind"] == "check" and rows[data.b1]["kind"] == "build"
    checks = api(backend, "/api/v1/builds?kind=check", "BuildList")["builds"]
    assert sorted(b["id"] for b in checks) == sorted([data.cb1, data.cb2, data.cb3])
    builds = api(backend, "/api/v1/builds?kind=build&limit=200", "BuildList")["builds"]
    assert {b["kind"] for b in builds} == {"build"} and len(builds) == 5
    st, _, body = backend.get("/api/v1/builds?kind=nope")
    assert st == 400, body


def test_admin_queues_a_check(backend, data, migrated):
    path = f"/api/v1/admin/builds/{data.b4}/check"
    st, body = post(backend, path, None)
    assert st == 401, body
    st, body = post(backend, path, data.admin)
    assert st == 202, body
    assert not schema_errors("CheckResult", body)
    data.c4 = body["job"]
    assert body == {"job": data.c4, "check_of": data.j4, "build": data.b4, "priority": -10}
    (row,) = sql(migrated, "select kind, check_of, state, priority, release_id, target_id"
                 " from jobs where id = %s", data.c4)
    assert row == ("check", data.j4, "queued", -10, data.r["0.9"], data.t[X313])
    # One live check per release x target: the second ask names the first.
    st, body = post(backend, path, data.admin)
    assert st == 409 and f"job {data.c4}" in body["error"]["message"], body
    # Nothing published of its own; a check itself; no such build.
    st, body = post(backend, f"/api/v1/admin/builds/{data.b5}/check", data.admin)
    assert st == 409 and "did not publish wheels of its own" in body["error"]["message"], body
    st, body = post(backend, f"/api/v1/admin/builds/{data.cb1}/check", data.admin)
    assert st == 409 and "is a reproducibility check itself" in body["error"]["message"], body
    st, body = post(backend, "/api/v1/admin/builds/987654321/check", data.admin)
    assert st == 404 and body["error"]["message"] == "no build 987654321", body
    st, body = post(backend, "/api/v1/admin/builds/x/check", data.admin)
    assert st == 400, body


def test_a_queued_check_is_pending_and_stays_out_of_the_cell(backend, data):
    b = api(backend, f"/api/v1/builds/{data.b4}", "BuildDetail")
    assert b["reproducibility_pending"] is True and b["reproducibility"] is None
    c = cells(api(backend, f"/api/v1/projects/{PROJECT}", "ProjectDetail"), "0.9")[X313]
    assert (c["status"], c["job_id"], c["job_state"], c["build_id"], c["waiting_for"]) == (
        "built", data.j4, "succeeded", data.b4, None)
    q = {j["id"]: j for j in api(backend, "/api/v1/queue", "QueueList")["jobs"]}
    assert q[data.c4]["kind"] == "check" and q[data.c4]["priority"] == -10


def test_metrics_count_results_and_pending_checks(backend, data):
    st, h, body = backend.get("/metrics")
    assert st == 200
    text = body.decode()
    assert "# TYPE kiln_repro_results gauge" in text
    for line in ('kiln_repro_results{result="reproducible"} 1', 'kiln_repro_results{result="differs"} 1',
                 'kiln_repro_results{result="failed"} 1', "kiln_repro_checks_pending 1"):
        assert line + "\n" in text, text[-800:]


def test_kilnctl_repro_list(data, migrated):
    out = kilnctl(migrated, "repro", "list").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["PROJECT", "VERSION", "TARGET", "RESULT", "BUILDER", "ORIGINAL",
                                "DECIDED", "CHECK"]
    rows = [x.split() for x in lines[1:] if not x.startswith(" ")]
    # Newest first; the decided time is a date and a time.
    assert [r[:6] + [r[8]] for r in rows] == [
        [PROJECT, "0.9", X311, "failed", "box-b", "box-a", str(data.c3)],
        [PROJECT, "1.0", X313, "differs", "box-b", "box-a", str(data.c2)],
        [PROJECT, "1.0", X311, "reproducible", "box-b", "box-a", str(data.c1)],
    ], out
    detail = [x for x in lines if x.startswith("  ")]
    assert detail == [
        f"  {data.w2}: differs: repro_demo/_speedups.cpython-313-x86_64-linux-gnu.so (content),"
        " repro_demo-1.0.dist-info/RECORD (content), repro_demo/__init__.py (metadata: date)"
        " and 1 more"], out
    out = kilnctl(migrated, "repro", "list", "--project", "Repro_Demo", "--limit", "1").stdout
    assert len(out.splitlines()) == 2 and " failed " in out, out
    assert "no reproducibility results yet" in kilnctl(migrated, "repro", "list", "--project", "other").stdout
    p = kilnctl(migrated, "repro", "list", "--limit", "0", check=False)
    assert p.returncode == 2 and "--limit must be 1 to" in p.stderr, p.stderr


def test_kilnctl_repro_check(data, migrated):
    out = kilnctl(migrated, "repro", "check", PROJECT, "1.0").stdout
    new = [int(x) for x in re.findall(r"check queued, job (\d+)", out)]
    assert len(new) == 2, out
    assert f"Repro-Demo 1.0 on {X311} (build {data.b1}): check queued, job {new[0]}" in out, out
    assert f"Repro-Demo 1.0 on {X313} (build {data.b2}): check queued, job {new[1]}" in out, out
    assert out.endswith(f"queued 2 checks for Repro-Demo at priority -10: [{new[0]}, {new[1]}]\n"), out
    rows = sql(migrated, "select kind, check_of, priority from jobs where id = any(%s) order by id", new)
    assert rows == [("check", data.j1, -10), ("check", data.j2, -10)]
    # Again: already live. The one of 0.9 on 3.13 the admin route queued, too.
    out = kilnctl(migrated, "repro", "check", "repro_demo", "--target", X313).stdout
    assert f"1.0 on {X313} (build {data.b2}): a check is already queued or running, job {new[1]}" in out
    assert f"0.9 on {X313} (build {data.b4}): a check is already queued or running, job {data.c4}" in out
    assert out.endswith("queued 0 checks for Repro-Demo at priority -10: []\n"), out
    # 0.8 published nothing.
    out = kilnctl(migrated, "repro", "check", PROJECT, "0.8").stdout
    assert "nothing to check: no build of Repro-Demo 0.8 published wheels of its own" in out, out
    for args, msg in ((["nope"], "no project named 'nope'"),
                      ([PROJECT, "7.7"], "project 'repro-demo' has no release '7.7'"),
                      ([PROJECT, "--target", "t9"], "no target named 't9'")):
        p = kilnctl(migrated, "repro", "check", *args, check=False)
        assert p.returncode == 1 and msg in p.stderr, (args, p.stderr)
    p = kilnctl(migrated, "repro", "check", check=False)
    assert p.returncode == 2 and "repro check takes PROJECT" in p.stderr, p.stderr
    out = kilnctl(migrated, "queue").stdout
    line = next(x for x in out.splitlines() if x.startswith(f"{new[0]} "))
    assert line.endswith("(reproducibility check)") and "-10" in line, out


def test_checks_are_not_builds_to_the_queue_commands(data, migrated):
    # requeue-failed: the failed check of 0.9 on 3.11 is a result, not work; only
    # 0.8's failed build is queued again.
    out = kilnctl(migrated, "requeue-failed", "--project", PROJECT).stdout
    assert out.startswith("requeued 1 of 1 failed job(s)"), out
    # rebuild beside a live check: a build is queued (checks are of another kind),
    # and the queued check is not moved ahead.
    out = kilnctl(migrated, "rebuild", PROJECT, "0.9", "--target", X313).stdout
    assert out.startswith("queued 1 job for Repro-Demo"), out
    assert "moved" not in out, out
    assert sql(migrated, "select priority, state from jobs where id = %s", data.c4) == [(-10, "queued")]
