"""The target matrix's queue (issue 16), on a real database with real kiln-sync
and kiln-backend, no Docker:

- `kilnctl target add` with arch, suite and glibc, and its errors;
- planning newest first, with the fair share between projects kept, and the
  version policy of scope rules (`kilnctl scope ... --versions`);
- backfill: a target added (or enabled again) later gets the releases already
  mirrored planned, by `kiln-sync --once` and by the daemon, which hears of it;
- priorities: `kilnctl rebuild` of a queued job moves it ahead, `--priority`,
  `kilnctl job priority` and the admin route;
- dispatch by architecture: scripted builders over the WebSocket channel, one
  aarch64, one x86_64, one x86_64 emulating aarch64; GET /api/v1/targets.
"""
import json
import re
import signal
import subprocess
import time

import psycopg
import pytest
from websockets.sync.client import connect

from conftest import KILNCTL, run
from fakeindex import Upstream
from sdists import make_sdist
from test_sync import SYNC

T1 = "bookworm-py311-x86_64"


def sql(db, query, *args):
    with psycopg.connect(db, autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else None


def one(db, query, *args):
    return sql(db, query, *args)[0][0]


def kilnctl(db, *args, check=True):
    return run([KILNCTL, *args], env={"KILN_DATABASE_URL": db}, check=check)


def sync(db, upstream, check=True):
    return run([SYNC, "--once", "--upstream", upstream.url + "/simple/"],
               env={"KILN_DATABASE_URL": db, "KILN_LOG": "info"}, check=check, timeout=120)


def claim_order(db, target):
    """The queued jobs of target in the order a builder claims them."""
    return [(p, v, prio) for p, v, prio in sql(
        db, "select p.normalized, r.version, j.priority from jobs j"
        " join releases r on r.id = j.release_id join projects p on p.id = r.project_id"
        " join targets t on t.id = j.target_id where j.state = 'queued' and t.name = %s"
        " order by j.priority desc, j.fair_seq, j.id", target)]


def plans(db, project, target):
    return dict(sql(db, "select r.version, rp.decision || ': ' || rp.reason from release_plans rp"
                    " join releases r on r.id = rp.release_id join projects p on p.id = r.project_id"
                    " join targets t on t.id = rp.target_id where p.normalized = %s and t.name = %s",
                    project, target))


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    # Published out of version order: "newest" is PEP 440's, 10.0 after 9.0.
    for name, versions in (("alpha", ("1.0", "10.0", "9.0")), ("beta", ("0.1", "0.2", "0.3"))):
        for i, v in enumerate(versions):
            fn, data = make_sdist(name, v)
            up.add_file(name, fn, data, upload_time=f"2026-01-0{i + 1}T00:00:00Z")
    # Version policies: gamma keeps its 2 newest, delta what came since March.
    for v in ("1.0", "2.0", "3.0", "4.0"):
        fn, data = make_sdist("gamma", v)
        up.add_file("gamma", fn, data)
    for v, day in (("1.0", "2026-02-01"), ("2.0", "2026-03-01"), ("3.0", "2026-04-01")):
        fn, data = make_sdist("delta", v)
        up.add_file("delta", fn, data, upload_time=day + "T12:00:00Z")
    # Upstream abi3 wheels: one any glibc >= 2.17 installs, one that needs 2.39.
    for name, plat in (("eps", "manylinux_2_17_x86_64"), ("zeta", "manylinux_2_39_x86_64")):
        fn, data = make_sdist(name, "1.0")
        up.add_file(name, fn, data)
        up.add_file(name, f"{name}-1.0-cp38-abi3-{plat}.whl", b"not read")
    yield up
    up.close()


@pytest.fixture(scope="module")
def db(migrated):
    kilnctl(migrated, "target", "add", T1, "--image", "kiln/img:1", "--python", "3.11",
            "--arch", "x86_64", "--suite", "bookworm", "--glibc", "2.36")
    kilnctl(migrated, "scope", "allow", "gamma", "--versions", "newest:2")
    kilnctl(migrated, "scope", "allow", "delta", "--versions", "since:2026-03-01")
    return migrated


def test_target_add_takes_arch_suite_glibc(db):
    out = kilnctl(db, "target", "add", "forky-py314-aarch64", "--image", "kiln/forky:1",
                  "--python", "3.14", "--arch", "aarch64", "--suite", "forky",
                  "--glibc", "2.43").stdout
    assert "aarch64" in out and "linux_aarch64" in out
    row = sql(db, "select python_tag, platform, arch, suite, glibc, enabled from targets"
              " where name = 'forky-py314-aarch64'")[0]
    assert row == ("cp314", "linux_aarch64", "aarch64", "forky", "2.43", True)
    listing = kilnctl(db, "target", "list").stdout
    line = next(ln for ln in listing.splitlines() if ln.startswith("forky-py314-aarch64"))
    assert line.split()[:6] == ["forky-py314-aarch64", "enabled", "cp314", "aarch64", "forky", "2.43"]
    assert "ARCH" in listing and "SUITE" in listing and "GLIBC" in listing
    kilnctl(db, "target", "disable", "forky-py314-aarch64")


@pytest.mark.parametrize("args, message", [
    (["--arch", "armv7l"], "--arch must be x86_64 or aarch64"),
    (["--glibc", "2.x"], "--glibc must look like 2.36"),
    (["--suite", "Bookworm"], "--suite must be a Debian suite name"),
    (["--python", "three"], "--python must look like 3.13"),
    (["--arch", "aarch64", "--platform", "linux_x86_64"], "is not one of arch aarch64"),
])
def test_target_add_errors_are_clear(db, args, message):
    p = kilnctl(db, "target", "add", "bad-target", "--image", "img", *args, check=False)
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert one(db, "select count(*) from targets where name = 'bad-target'") == 0


def test_scope_versions_is_validated(db):
    for bad in ("newest:0", "newest:x", "since:2026-02-30", "some"):
        p = kilnctl(db, "scope", "allow", "zzz", "--versions", bad, check=False)
        assert p.returncode == 1 and "--versions must be" in p.stderr, (bad, p.stderr)
    listing = kilnctl(db, "scope", "list").stdout
    assert re.search(r"allow\s+newest:2\s+gamma", listing), listing


def test_first_sync_plans_newest_first_with_fair_share(db, upstream):
    sync(db, upstream)
    order = claim_order(db, T1)
    alpha_beta = [o for o in order if o[0] in ("alpha", "beta")]
    # Each project's newest release first (priority 0), then the history (-1),
    # alternating between projects (fair share), newest first within each.
    assert alpha_beta[:2] == [("alpha", "10.0", 0), ("beta", "0.3", 0)] or \
        alpha_beta[:2] == [("beta", "0.3", 0), ("alpha", "10.0", 0)]
    history = alpha_beta[2:]
    assert all(p == -1 for _, _, p in history)
    assert [v for p, v, _ in history if p == "alpha"] == ["9.0", "1.0"]
    assert [v for p, v, _ in history if p == "beta"] == ["0.2", "0.1"]
    projects = [p for p, _, _ in history]
    assert projects[0] != projects[1] and projects[2] != projects[3], history
    # The newest of every project goes before anybody's history.
    newest = {p for p, _, prio in order if prio == 0}
    assert {"alpha", "beta", "gamma", "delta"} <= newest


def test_version_policy_skips_the_others(db, upstream):
    assert plans(db, "gamma", T1) == {
        "4.0": "planned: new release", "3.0": "planned: new release",
        "2.0": "skipped: outside version policy", "1.0": "skipped: outside version policy"}
    assert plans(db, "delta", T1) == {
        "3.0": "planned: new release", "2.0": "planned: new release",
        "1.0": "skipped: outside version policy"}
    assert sorted(v for p, v, _ in claim_order(db, T1) if p == "gamma") == ["3.0", "4.0"]


def test_upstream_coverage_follows_the_targets_glibc(db, upstream):
    assert plans(db, "eps", T1) == {"1.0": "skipped: covered by upstream wheel"}
    # bookworm's glibc 2.36 cannot load a manylinux_2_39 wheel: Kiln builds it.
    assert plans(db, "zeta", T1) == {"1.0": "planned: new release"}


def test_target_added_later_gets_the_history_planned(db, upstream):
    out = kilnctl(db, "target", "add", "trixie-py313-x86_64", "--image", "kiln/trixie:1",
                  "--python", "3.13", "--suite", "trixie", "--glibc", "2.41").stdout
    assert "x86_64" in out  # arch defaults to the platform's
    assert one(db, "select count(*) from plan_backlog") >= 4
    p = sync(db, upstream)
    assert "backfill planned" in p.stderr, p.stderr
    assert one(db, "select count(*) from plan_backlog") == 0
    order = claim_order(db, "trixie-py313-x86_64")
    got = {(pr, v): prio for pr, v, prio in order}
    # The same policy and order as for the first target, one priority lower.
    assert got[("alpha", "10.0")] == -1 and got[("alpha", "9.0")] == -2
    assert got[("beta", "0.3")] == -1
    assert ("gamma", "2.0") not in got and ("delta", "1.0") not in got
    # trixie's glibc 2.41 loads zeta's manylinux_2_39 abi3 wheel: nothing to build.
    assert plans(db, "zeta", "trixie-py313-x86_64") == {"1.0": "skipped: covered by upstream wheel"}
    assert set(got) == {(p, v) for p, v, _ in claim_order(db, T1)} - {("zeta", "1.0")}


def test_new_upstream_release_goes_ahead_of_backfill(db, upstream):
    fn, data = make_sdist("beta", "0.4")
    upstream.add_file("beta", fn, data, upload_time="2026-05-01T00:00:00Z")
    sync(db, upstream)
    order = claim_order(db, "trixie-py313-x86_64")
    assert order[0] == ("beta", "0.4", 0), order[:3]


def test_target_enabled_again_gets_what_it_missed(db, upstream):
    kilnctl(db, "target", "disable", "trixie-py313-x86_64")
    fn, data = make_sdist("alpha", "11.0")
    upstream.add_file("alpha", fn, data, upload_time="2026-06-01T00:00:00Z")
    sync(db, upstream)
    assert "11.0" not in plans(db, "alpha", "trixie-py313-x86_64")
    kilnctl(db, "target", "enable", "trixie-py313-x86_64")
    sync(db, upstream)
    assert plans(db, "alpha", "trixie-py313-x86_64")["11.0"] == "planned: new release"


def test_daemon_hears_of_a_new_target(db, upstream, tmp_path):
    log = tmp_path / "sync.log"
    proc = subprocess.Popen([str(SYNC), "--upstream", upstream.url + "/simple/", "--interval", "3600"],
                            env={"KILN_DATABASE_URL": db, "KILN_LOG": "info", "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        deadline = time.monotonic() + 60
        while "sync finished" not in log.read_text() and "listing unchanged" not in log.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.2)
        time.sleep(1)
        kilnctl(db, "target", "add", "sid-py314-x86_64", "--image", "kiln/sid:1", "--python", "3.14",
                "--glibc", "2.41")
        deadline = time.monotonic() + 20  # the daemon's own poll is 30 s: the notice must wake it
        while not claim_order(db, "sid-py314-x86_64") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ("alpha", "11.0", -1) in claim_order(db, "sid-py314-x86_64"), log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    kilnctl(db, "target", "disable", "sid-py314-x86_64")


def test_rebuild_moves_a_queued_job_ahead(db):
    before = claim_order(db, T1)
    last = before[-1]
    out = kilnctl(db, "rebuild", last[0], last[1], "--target", T1).stdout
    assert "moved 1 queued job ahead" in out, out
    assert claim_order(db, T1)[0] == (last[0], last[1], 10)
    # --priority sets it, up or down; nothing new is queued for a queued pair.
    out = kilnctl(db, "rebuild", last[0], last[1], "--target", T1, "--priority", "-5").stdout
    assert "queued 0 jobs" in out and "at priority -5" in out
    assert claim_order(db, T1)[-1] == (last[0], last[1], -5)
    p = kilnctl(db, "rebuild", last[0], "--priority", "5000", check=False)
    assert p.returncode == 1 and "priority must be an integer from -1000 to 1000" in p.stderr


def test_job_priority_command(db):
    second = claim_order(db, T1)[1]
    job = one(db, "select j.id from jobs j join releases r on r.id = j.release_id"
              " join projects p on p.id = r.project_id join targets t on t.id = j.target_id"
              " where p.normalized = %s and r.version = %s and t.name = %s and j.state = 'queued'",
              second[0], second[1], T1)
    out = kilnctl(db, "job", "priority", str(job), "100").stdout
    assert f"job {job}: priority 100" in out
    assert claim_order(db, T1)[0] == (second[0], second[1], 100)
    sql(db, "update jobs set state = 'cancelled', finished_at = now() where id = %s", job)
    p = kilnctl(db, "job", "priority", str(job), "1", check=False)
    assert p.returncode == 1 and "is cancelled" in p.stderr


# ---- the backend: priority route, dispatch by architecture, GET /api/v1/targets ----

ARM = "arm-py311-aarch64"


@pytest.fixture(scope="module")
def farm(db, backend_factory):
    kilnctl(db, "target", "add", ARM, "--image", "kiln/arm:1", "--python", "3.11",
            "--arch", "aarch64", "--suite", "bookworm", "--glibc", "2.36")
    # Only the two targets under test keep queued jobs.
    sql(db, "update jobs set state = 'cancelled', finished_at = now() where state = 'queued'"
        " and target_id not in (select id from targets where name in (%s, %s))", T1, ARM)
    sql(db, "insert into jobs (release_id, target_id) select r.id, t.id from releases r"
        " join projects p on p.id = r.project_id, targets t where p.normalized = 'beta'"
        " and t.name = %s", ARM)
    f = type("Farm", (), {})()
    f.db = db
    f.admin = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                        kilnctl(db, "admin-token", "add", "ops").stdout).group(0)
    f.tokens = {n: re.search(r"kiln_[A-Za-z0-9_-]{43}", kilnctl(db, "builder", "add", n).stdout).group(0)
                for n in ("b-arm", "b-x86", "b-emu")}
    f.backend = backend_factory(db)
    return f


def hello(farm, name, arch, targets, emulates=None):
    ws = connect(farm.backend.url.replace("http", "ws") + "/api/v1/builders/ws",
                 subprotocols=["kiln-builder.v1"], open_timeout=10)
    m = {"type": "hello", "protocol": 1, "token": farm.tokens[name], "name": name,
         "version": "test", "targets": targets, "slots": 1}
    if arch is not None:
        m["arch"] = arch
    if emulates is not None:
        m["emulates"] = emulates
    ws.send(json.dumps(m))
    assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
    return ws


def next_job(ws, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            return None
        if m["type"] == "job":
            return m
    return None


def targets_api(farm):
    st, _, raw = farm.backend.get("/api/v1/targets")
    assert st == 200
    return {t["name"]: t for t in json.loads(raw)["targets"]}


def test_priority_route(farm):
    job = one(farm.db, "select j.id from jobs j join targets t on t.id = j.target_id"
              " where t.name = %s and j.state = 'queued' order by j.id desc limit 1", ARM)
    h = {"Authorization": "Bearer " + farm.admin, "Content-Type": "application/json"}
    st, _, raw = farm.backend.request("POST", f"/api/v1/admin/jobs/{job}/priority",
                                      body=json.dumps({"priority": 7}).encode(), headers=h)
    assert st == 200, raw
    assert json.loads(raw) == {"job": job, "priority": 7, "previous_priority": 0}
    assert claim_order(farm.db, ARM)[0][2] == 7
    st, _, raw = farm.backend.request("POST", f"/api/v1/admin/jobs/{job}/priority",
                                      body=json.dumps({"priority": 1001}).encode(), headers=h)
    assert st == 400
    st, _, raw = farm.backend.request("POST", "/api/v1/admin/jobs/999999/priority",
                                      body=json.dumps({"priority": 1}).encode(), headers=h)
    assert st == 404


def test_targets_api_has_arch_suite_glibc_builders(farm):
    t = targets_api(farm)
    assert (t[ARM]["arch"], t[ARM]["suite"], t[ARM]["glibc"], t[ARM]["builders"]) == \
        ("aarch64", "bookworm", "2.36", 0)
    assert t[T1]["arch"] == "x86_64" and t[T1]["glibc"] == "2.36"
    assert t["trixie-py313-x86_64"]["suite"] == "trixie"
    assert t[ARM]["queued"] > 0


def test_builder_of_another_arch_gets_no_job(farm):
    arm_jobs = set(r[0] for r in sql(farm.db, "select j.id from jobs j join targets t"
                                     " on t.id = j.target_id where t.name = %s and j.state = 'queued'",
                                     ARM))
    # An aarch64 builder listing both targets: served only the aarch64 one's jobs.
    ws = hello(farm, "b-arm", "aarch64", [T1, ARM])
    try:
        m = next_job(ws, 10)
        assert m is not None and m["target"]["name"] == ARM and m["job"] in arm_jobs
        assert (m["target"]["arch"], m["target"]["suite"], m["target"]["glibc"]) == \
            ("aarch64", "bookworm", "2.36")
        assert targets_api(farm)[ARM]["builders"] == 1
        assert targets_api(farm)[T1]["builders"] == 0
    finally:
        ws.close()
    assert re.search(r"builder lists targets of an architecture it does not serve.*"
                     r"builder=b-arm targets=" + re.escape(T1) + ":x86_64", farm.backend.log())
    # An x86_64 builder (no arch in its hello: x86_64) listing only the aarch64
    # target: accepted, never served.
    ws = hello(farm, "b-x86", None, [ARM])
    try:
        assert next_job(ws, 3) is None
    finally:
        ws.close()
    caps = one(farm.db, "select capabilities from builders where name = 'b-x86'")
    assert caps["arch"] == "x86_64" and caps["emulates"] == []


def test_emulating_builder_gets_the_other_arch(farm):
    ws = hello(farm, "b-emu", "x86_64", [ARM], emulates=["aarch64"])
    try:
        m = next_job(ws, 10)
        assert m is not None and m["target"]["name"] == ARM
        caps = one(farm.db, "select capabilities from builders where name = 'b-emu'")
        assert caps["arch"] == "x86_64" and caps["emulates"] == ["aarch64"]
        assert targets_api(farm)[ARM]["builders"] >= 1
    finally:
        ws.close()
