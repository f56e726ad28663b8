"""The target matrix in the web UI and the queue: a column per Python x
architecture, each cell the state of one release on one target, the install line
that says which Pythons and platforms have wheels, and queued jobs of an
architecture no connected builder serves saying "waiting for an aarch64 builder"
(the queue page, a build page, `kilnctl queue`) instead of looking stuck.

No image is built here: the targets, builders (their last hello and last sign
of life), jobs, builds and wheels are rows put into a real database, read by a
real backend and shown in Debian's chromium. Screenshots go to
tests/artifacts/ui/ (matrix-*.png).
"""
import json
import re

import psycopg
import pytest
import yaml

from conftest import KILNCTL, ROOT, run

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "artifacts" / "ui"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# The default set of builder/targets.txt: name, suite, Python, arch, glibc.
TARGETS = [
    ("bookworm-py311-x86_64", "bookworm", "3.11", "x86_64", "2.36"),
    ("trixie-py313-x86_64", "trixie", "3.13", "x86_64", "2.41"),
    ("forky-py314-x86_64", "forky", "3.14", "x86_64", "2.43"),
    ("bookworm-py311-aarch64", "bookworm", "3.11", "aarch64", "2.36"),
    ("trixie-py313-aarch64", "trixie", "3.13", "aarch64", "2.41"),
    ("forky-py314-aarch64", "forky", "3.14", "aarch64", "2.43"),
]
X311, X313, X314, A311, A313, A314 = (t[0] for t in TARGETS)
# The lease sets the online window: 2 x 600 / 3 + 5 s, so "seen 1 minute ago" is online.
ENV = {"KILN_LEASE_SECONDS": "600"}


class Data:
    pass


def insert_all(url):
    d = Data()
    with psycopg.connect(url, autocommit=True) as c:
        def one(sql, *a):
            return c.execute(sql, a).fetchone()[0]

        d.t = {name: one("insert into targets (name, image, python_tag, python_version, platform,"
                         " arch, suite, glibc) values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
                         name, f"kiln/{name}:test", "cp" + py.replace(".", ""), py, f"linux_{arch}",
                         arch, suite, glibc)
               for name, suite, py, arch, glibc in TARGETS}
        # One x86_64 builder online; aarch64 ones that cannot take jobs: paused,
        # or not seen for an hour.
        d.b = {}
        for name, caps, paused, seen in [
                ("box-x86", {"arch": "x86_64", "slots": 2}, False, "1 minute"),
                ("pi5-paused", {"arch": "aarch64", "slots": 1}, True, "1 second"),
                ("pi4-asleep", {"arch": "aarch64", "slots": 1}, False, "1 hour")]:
            d.b[name] = one("insert into builders (name, token_hash, paused, capabilities, last_seen_at)"
                            " values (%s, md5(%s) || md5(%s), %s, %s, now() - %s::interval) returning id",
                            name, name, name + "x", paused, json.dumps(caps), seen)

        def project(name):
            return one("insert into projects (name, normalized) values (%s, %s) returning id", name, name)

        def release(pid, version, days):
            return one("insert into releases (project_id, version, version_normalized, uploaded_at)"
                       " values (%s, %s, %s, now() - %s * interval '1 day') returning id",
                       pid, version, version, days)

        def job(rid, target, state, builder=None, reason=None, cls=None, attempts=1):
            live = state in ("assigned", "running")
            done = state in ("succeeded", "failed", "cancelled")
            return one("insert into jobs (release_id, target_id, state, attempts, builder_id, lease_token_hash,"
                       " lease_expires_at, failure_reason, failure_class, started_at, finished_at)"
                       " values (%s, %s, %s, %s, %s, case when %s then md5(%s::text) || md5('l') end,"
                       " case when %s then now() + interval '1 hour' end, %s, %s,"
                       " case when %s then now() - interval '20 minutes' end,"
                       " case when %s then now() - interval '10 minutes' end) returning id",
                       rid, d.t[target], state, attempts if state != "queued" else attempts,
                       d.b.get(builder), live, rid, live, reason, cls, live or done, done)

        def build(jid, builder, state, attempt=1, reason=None, cls=None):
            return one("insert into builds (job_id, attempt, builder_id, state, phase, failure_reason,"
                       " failure_class, started_at, finished_at, duration_ms) values (%s, %s, %s, %s, %s, %s,"
                       " %s, now() - interval '20 minutes', case when %s <> 'running' then now() - interval"
                       " '10 minutes' end, case when %s <> 'running' then 600000 end) returning id",
                       jid, attempt, d.b[builder], state, "building" if state == "running" else "done",
                       reason, cls, state, state)

        def wheel(pid, rid, jid, bid, filename):
            py, abi, plat = filename[:-4].split("-")[-3:]
            return one("insert into artifacts (project_id, release_id, job_id, build_id, filename, sha256,"
                       " size, python_tags, abi_tags, platform_tags, metadata, metadata_sha256, storage_key,"
                       " published_at) values (%s, %s, %s, %s, %s, md5(%s) || md5(%s), 81234, %s, %s, %s,"
                       " 'Metadata-Version: 2.1', md5(%s) || md5('m'), %s, now()) returning id",
                       pid, rid, jid, bid, filename, filename, filename + "s", py.split("."),
                       abi.split("."), plat.split("."), filename, "wheels/" + filename)

        def built(pid, rid, target, filename):
            jid = job(rid, target, "succeeded", "box-x86")
            bid = build(jid, "box-x86", "succeeded")
            wheel(pid, rid, jid, bid, filename)
            return jid, bid

        def skip(rid, target, reason):
            c.execute("insert into release_plans (release_id, target_id, decision, reason)"
                      " values (%s, %s, 'skipped', %s)", (rid, d.t[target], reason))

        # A C extension: the newest release built on three of six targets, two
        # of them waiting for an aarch64 builder; older releases in other states.
        pid = project("matrix-demo")
        r21, r20, r19 = release(pid, "2.1", 2), release(pid, "2.0", 40), release(pid, "1.9", 400)
        d.r21 = r21
        mk = "matrix_demo-{v}-cp{p}-cp{p}-manylinux_2_{g}_{a}.whl"
        built(pid, r21, X311, mk.format(v="2.1", p="311", g="36", a="x86_64"))
        built(pid, r21, X313, mk.format(v="2.1", p="313", g="41", a="x86_64"))
        d.running = job(r21, X314, "running", "box-x86")
        build(d.running, "box-x86", "running")
        built(pid, r21, A311, mk.format(v="2.1", p="311", g="36", a="aarch64"))
        d.waiting = job(r21, A313, "queued")
        # Its first attempt was lost with a builder; queued again, it waits.
        d.waiting_retry = job(r21, A314, "queued", attempts=1)
        d.lost_build = build(d.waiting_retry, "pi4-asleep", "lost", reason="builder pi4-asleep stopped responding")
        for t, p, g in [(X311, "311", "36"), (X313, "313", "41"), (X314, "314", "43"), (A311, "311", "36")]:
            built(pid, r20, t, mk.format(v="2.0", p=p, g=g, a=t.rsplit("-", 1)[1]))
        j = job(r20, A313, "failed", "box-x86", reason="error: 'PyLongObject' has no member named 'ob_digit'",
                cls="compile")
        build(j, "box-x86", "failed", reason="error: 'PyLongObject' has no member named 'ob_digit'", cls="compile")
        skip(r20, A314, "covered by upstream wheel")
        for t in TARGETS:
            skip(r19, t[0], "outside version policy")

        # A pure-Python project: one wheel, built once, covers every target.
        pp = project("matrix-pure")
        rp = release(pp, "1.0", 5)
        d.pure_build = built(pp, rp, X311, "matrix_pure-1.0-py3-none-any.whl")[1]
        for t in TARGETS[1:]:
            skip(rp, t[0], "covered by kiln wheel matrix_pure-1.0-py3-none-any.whl")

        # abi3 wheels cover the later Pythons of their platform where glibc is new enough.
        pa = project("matrix-abi3")
        ra = release(pa, "3.0", 3)
        x86, arm = ("matrix_abi3-3.0-cp311-abi3-manylinux_2_17_x86_64.whl",
                    "matrix_abi3-3.0-cp311-abi3-manylinux_2_41_aarch64.whl")
        built(pa, ra, X311, x86)
        built(pa, ra, A313, arm)
        # As the queue records it (backend/covered.c): the siblings' queued jobs
        # were dropped, naming the wheel that covers them.
        for t, w in ((X313, x86), (X314, x86), (A314, arm)):
            c.execute("update jobs set covered_by = %s, failure_reason = %s where id = %s",
                      (w, "covered by kiln wheel " + w, job(ra, t, "cancelled")))

        # Another project's x86_64 job: queued behind nothing it lacks.
        po = project("matrix-other")
        d.x86_queued = job(release(po, "0.5", 1), X314, "queued")
    return d


@pytest.fixture(scope="module")
def data(migrated):
    return insert_all(migrated)


@pytest.fixture(scope="module")
def backend(migrated, data, backend_factory):
    return backend_factory(migrated, env=ENV)


def api(backend, path):
    st, h, body = backend.get(path)
    assert st == 200, (path, st, body[:300])
    return json.loads(body)


def schema_errors(doc, name, value):
    from jsonschema import Draft202012Validator
    root = dict(doc, allOf=[{"$ref": f"#/components/schemas/{name}"}])
    return [e.message for e in Draft202012Validator(root).iter_errors(value)]


def cells(release):
    return {c["target"]: c for c in release["cells"]}


def test_targets_and_cells_carry_the_matrix(backend, data):
    p = api(backend, "/api/v1/projects/matrix-demo")
    t = {x["name"]: x for x in p["targets"]}
    assert t[A313] == {"name": A313, "python_tag": "cp313", "python_version": "3.13",
                       "platform": "linux_aarch64", "enabled": True, "arch": "aarch64",
                       "suite": "trixie", "glibc": "2.41", "builders": 0}
    # The x86_64 builder counts; the paused and the long-silent aarch64 ones do not.
    assert {n: x["builders"] for n, x in t.items()} == {X311: 1, X313: 1, X314: 1, A311: 0, A313: 0, A314: 0}
    rel = {r["version"]: r for r in p["releases"]}
    c = cells(rel["2.1"])
    assert {n: x["status"] for n, x in c.items()} == {
        X311: "built", X313: "built", X314: "running", A311: "built", A313: "queued", A314: "queued"}
    assert c[A313]["waiting_for"] == "aarch64 builder" and c[A314]["waiting_for"] == "aarch64 builder"
    assert all(c[n]["waiting_for"] is None for n in (X311, X313, X314, A311))
    c = cells(rel["2.0"])
    assert c[A313]["status"] == "failed" and c[A313]["failure_class"] == "compile"
    assert c[A314]["status"] == "skipped" and c[A314]["reason"] == "covered by upstream wheel"
    assert {x["reason"] for x in rel["1.9"]["cells"]} == {"outside version policy"}


def test_one_wheel_covers_the_targets_it_installs_on(backend, data):
    (r,) = api(backend, "/api/v1/projects/matrix-pure")["releases"]
    c = cells(r)
    assert c[X311]["status"] == "built" and c[X311]["covered_by"] is None
    for name, *_ in TARGETS[1:]:
        assert c[name]["status"] == "covered" and c[name]["reason"] == "covered by kiln wheel", name
        assert c[name]["covered_by"] == {"filename": "matrix_pure-1.0-py3-none-any.whl", "target": X311,
                                         "build_id": data.pure_build}
    # abi3 from 3.11: every later CPython of the same arch, never the other arch; the
    # aarch64 wheel needs glibc 2.41: forky's 2.43 takes it, bookworm's 2.36 does not.
    (r,) = api(backend, "/api/v1/projects/matrix-abi3")["releases"]
    assert {n: x["status"] for n, x in cells(r).items()} == {
        X311: "built", X313: "covered", X314: "covered", A311: "none", A313: "built", A314: "covered"}
    assert cells(r)[A314]["covered_by"]["filename"].endswith("manylinux_2_41_aarch64.whl")
    assert cells(r)[X313]["covered_by"]["target"] == X311


def test_queue_says_what_a_job_waits_for(backend, data, migrated):
    jobs = {j["id"]: j for j in api(backend, "/api/v1/queue?limit=200")["jobs"]}
    assert jobs[data.waiting]["waiting_for"] == "aarch64 builder"
    assert jobs[data.waiting_retry]["waiting_for"] == "aarch64 builder"
    assert jobs[data.x86_queued]["waiting_for"] is None       # an x86_64 builder is online
    assert jobs[data.running]["waiting_for"] is None
    b = api(backend, f"/api/v1/builds/{data.lost_build}")
    assert b["job"]["state"] == "queued" and b["job"]["waiting_for"] == "aarch64 builder"
    assert (b["target"]["arch"], b["target"]["suite"], b["target"]["glibc"]) == ("aarch64", "forky", "2.43")
    out = run([KILNCTL, "queue"], env={"KILN_DATABASE_URL": migrated, **ENV}).stdout
    line = next(x for x in out.splitlines() if x.startswith(f"{data.waiting} "))
    assert line.endswith("(waiting for an aarch64 builder)") and A313 in line, out
    line = next(x for x in out.splitlines() if x.startswith(f"{data.x86_queued} "))
    assert "waiting" not in line, out


def test_a_builder_that_emulates_the_arch_ends_the_wait(backend, data, migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        bid = c.execute("insert into builders (name, token_hash, capabilities, last_seen_at) values"
                        " ('x86-emu', md5('e') || md5('f'), %s, now()) returning id",
                        (json.dumps({"arch": "x86_64", "emulates": ["aarch64"]}),)).fetchone()[0]
    try:
        jobs = {j["id"]: j for j in api(backend, "/api/v1/queue?limit=200")["jobs"]}
        assert jobs[data.waiting]["waiting_for"] is None
        t = {x["name"]: x["builders"] for x in api(backend, "/api/v1/projects/matrix-demo")["targets"]}
        assert t[A313] == 1 and t[X311] == 2
        # Paused, it serves nothing again.
        with psycopg.connect(migrated, autocommit=True) as c:
            c.execute("update builders set paused = true where id = %s", (bid,))
        jobs = {j["id"]: j for j in api(backend, "/api/v1/queue?limit=200")["jobs"]}
        assert jobs[data.waiting]["waiting_for"] == "aarch64 builder"
    finally:
        with psycopg.connect(migrated, autocommit=True) as c:
            c.execute("delete from builders where id = %s", (bid,))


def test_new_fields_are_documented(backend, data):
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    p = api(backend, "/api/v1/projects/matrix-demo")
    assert not schema_errors(doc, "ProjectDetail", p)
    assert not schema_errors(doc, "ReleaseDetail", api(backend, "/api/v1/projects/matrix-pure/releases/1.0"))
    assert not schema_errors(doc, "QueueList", api(backend, "/api/v1/queue"))
    assert not schema_errors(doc, "BuildDetail", api(backend, f"/api/v1/builds/{data.lost_build}"))
    props = doc["components"]["schemas"]
    assert {"arch", "suite", "glibc", "builders"} <= set(props["TargetRef"]["required"])
    assert {"waiting_for", "covered_by"} <= set(props["Cell"]["required"])
    assert "waiting_for" in props["QueueJob"]["required"]


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, backend):
    contexts = []

    def open_(path, viewport=DESKTOP, scheme="light"):
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.errors = []
        pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(backend.url + path)
        pg.wait_for_load_state("networkidle")
        return pg
    yield open_
    for ctx in contexts:
        ctx.close()


def test_project_page_has_a_column_per_python_and_arch(page, data):
    pg = page("/projects/matrix-demo")
    heads = [h.split("\n")[0] for h in pg.locator(".grid thead th.target").all_inner_texts()]
    assert heads == ["3.11 x86_64", "3.13 x86_64", "3.14 x86_64", "3.11 aarch64", "3.13 aarch64", "3.14 aarch64"]
    assert pg.locator("#wheels-for").inner_text() == "2.1: wheels for CPython 3.11, 3.13 on x86_64; 3.11 on aarch64."
    row = pg.locator(".grid tbody tr", has=pg.locator("td:first-child", has_text=re.compile(r"^2\.1$")))
    texts = [t.strip() for t in row.locator("td.cell").all_inner_texts()]
    assert texts[:4] == ["built", "built", "building", "built"]
    assert texts[4:] == ["queued\nwaiting for an aarch64 builder"] * 2, texts
    pg.get_by_text("covered by upstream wheel").wait_for()
    # A release skipped everywhere for one reason says it once.
    assert pg.locator(".grid td.span").inner_text() == "skipped on every target: outside version policy"
    pg.screenshot(path=str(SHOTS / "matrix-project-desktop-light.png"), full_page=True)
    dark = page("/projects/matrix-demo", scheme="dark")
    dark.screenshot(path=str(SHOTS / "matrix-project-desktop-dark.png"), full_page=True)
    phone = page("/projects/matrix-demo", viewport=PHONE)
    phone.screenshot(path=str(SHOTS / "matrix-project-phone-light.png"), full_page=True)
    assert not pg.errors + dark.errors + phone.errors


def test_pure_and_abi3_wheels_cover_the_grid(page):
    pg = page("/projects/matrix-pure")
    assert pg.locator("#wheels-for").inner_text() == "1.0: one pure-Python wheel, for any Python and platform."
    assert pg.locator(".grid .badge.covered").count() == 5
    assert pg.get_by_text("pure-Python wheel", exact=True).count() == 5
    pg.screenshot(path=str(SHOTS / "matrix-project-pure-desktop-light.png"), full_page=True)
    pg = page("/projects/matrix-abi3")
    assert pg.locator("#wheels-for").inner_text() == (
        "3.0: wheels for CPython 3.11, 3.13, 3.14 on x86_64; 3.13, 3.14 on aarch64.")
    pg.get_by_text("abi3 wheel from 3.11 x86_64").first.wait_for()
    assert not pg.errors


def test_queue_and_build_pages_say_waiting_for_an_aarch64_builder(page, data):
    pg = page("/queue")
    row = pg.locator("tbody tr", has=pg.locator("td:first-child", has_text=re.compile(f"^{data.waiting}$")))
    assert "waiting for an aarch64 builder" in row.inner_text()
    row = pg.locator("tbody tr", has=pg.locator("td:first-child", has_text=re.compile(f"^{data.x86_queued}$")))
    assert "waiting" not in row.inner_text()
    note = pg.locator("#waiting-note").inner_text()
    assert note.startswith("2 queued jobs waiting for an aarch64 builder: none is online and unpaused."), note
    pg.screenshot(path=str(SHOTS / "matrix-queue-desktop-light.png"), full_page=True)
    dark = page("/queue", scheme="dark")
    dark.screenshot(path=str(SHOTS / "matrix-queue-desktop-dark.png"), full_page=True)
    b = page(f"/builds/{data.lost_build}")
    assert b.locator("#job-waiting").inner_text() == ", waiting for an aarch64 builder"
    b.screenshot(path=str(SHOTS / "matrix-build-waiting-desktop-light.png"), full_page=True)
    assert not pg.errors + dark.errors + b.errors
