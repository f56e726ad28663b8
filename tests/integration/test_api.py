"""REST API v1, read side: what the web UI reads, checked as the UI would use it.

One backend on a fresh migrated database, filled with psycopg: projects
(searchable by prefix and substring, paginated), releases whose creation order
is not their PEP 440 order, three targets, three builders, jobs in every
state, builds (with retries), published and unpublished artifacts, planner
decisions, download counts and agents. Every response is recorded, so the last
test can check that no secret (token hash, lease hash, storage or log key)
ever appeared in any of them.
"""
import csv
import io
import json
import secrets
from urllib.parse import quote

import psycopg
import pytest

RESPONSES = []  # every (path, status, headers, body) this module received

T_A, T_B, T_C = "cp311-linux_x86_64", "cp311-linux_aarch64", "cp312-linux_x86_64"
# Created in this order (oldest first); PEP 440 order is different.
DJANGO_VERSIONS = ["1.9", "1.10", "2.0rc1", "2.0", "2.0.1", "2.1.dev0", "1.10.1"]
DJANGO_PEP440_DESC = ["2.1.dev0", "2.0.1", "2.0", "2.0rc1", "1.10.1", "1.10", "1.9"]
SEARCHABLE = ["Django", "django-filter", "Django_REST_framework", "my.django.app", "pytest-django",
              "restview", "requests"]
PKGS = [f"pkg-{i:03d}" for i in range(120)]


def h64():
    return secrets.token_hex(32)


class Data:
    """The rows made for this module, and the secrets that must never be served."""
    secrets: list
    ids: dict


def insert_all(url):
    d = Data()
    d.secrets, d.ids = [], {}
    with psycopg.connect(url, autocommit=True) as c:
        def one(sql, *args):
            return c.execute(sql, args).fetchone()[0]

        def project(name, deleted=False):
            norm = name.lower().replace("_", "-").replace(".", "-")
            return one("insert into projects (name, normalized, deleted_at) values (%s, %s, %s)"
                       " returning id", name, norm, "now" if deleted else None)

        def release(pid, version, age_days, yanked=False):
            return one("insert into releases (project_id, version, version_normalized, yanked,"
                       " yanked_reason, created_at) values (%s, %s, %s, %s, %s,"
                       " now() - make_interval(days => %s)) returning id",
                       pid, version, version, yanked, "broken" if yanked else None, age_days)

        targets = {}
        for name, tag, pyv, plat in [(T_A, "cp311", "3.11", "linux_x86_64"),
                                     (T_B, "cp311", "3.11", "linux_aarch64"),
                                     (T_C, "cp312", "3.12", "linux_x86_64")]:
            targets[name] = one("insert into targets (name, image, python_tag, python_version,"
                                " platform) values (%s, %s, %s, %s, %s) returning id",
                                name, f"kiln/{name}:1", tag, pyv, plat)
        builders = {}
        for name, enabled, paused, seen in [("alpha", True, False, "1 second"),
                                            ("beta", True, True, "1 hour"),
                                            ("gamma", False, False, None)]:
            tok = h64()
            d.secrets.append(tok)
            builders[name] = one(
                "insert into builders (name, token_hash, enabled, paused, capabilities, version,"
                " last_seen_at) values (%s, %s, %s, %s, %s, '0.1.0', now() - %s::interval)"
                " returning id", name, tok, enabled, paused,
                json.dumps({"slots": 2, "arch": ["x86_64"]}), seen)
        api_tok = h64()
        d.secrets.append(api_tok)
        c.execute("insert into api_tokens (name, role, token_hash) values ('ui', 'admin', %s)",
                  (api_tok,))

        pids = {name: project(name) for name in SEARCHABLE}
        for name in PKGS:
            release(project(name), "1.0", 30)
        for name in SEARCHABLE:
            if name != "Django":
                release(pids[name], "0.1", 100)
        project("ghost")                                   # no releases: not listed
        release(project("gone-away", deleted=True), "1.0", 10)  # deleted: not listed

        dj = pids["Django"]
        rel = {}
        for age, v in zip([400, 300, 60, 50, 20, 10, 5], DJANGO_VERSIONS):
            rel[v] = release(dj, v, age, yanked=(v == "2.0.1"))
        req_rel = one("insert into releases (project_id, version, version_normalized) values"
                      " (%s, '2.31.0', '2.31.0') returning id", pids["requests"])

        def job(rid, target, state, builder=None, reason=None, attempts=1):
            live = state in ("assigned", "running")
            done = state in ("succeeded", "failed", "cancelled")
            lease = h64() if live else None
            if lease:
                d.secrets.append(lease)
            return one("insert into jobs (release_id, target_id, state, attempts, builder_id,"
                       " lease_token_hash, lease_expires_at, failure_reason, assigned_at,"
                       " started_at, finished_at) values (%s, %s, %s, %s, %s, %s,"
                       " case when %s then now() + interval '1 hour' end, %s,"
                       " now() - interval '3 hours', now() - interval '3 hours',"
                       " case when %s then now() - interval '1 hour' end) returning id",
                       rid, targets[target], state, attempts, builders.get(builder), lease, live,
                       reason, done)

        def build(jid, attempt, builder, state, finished_ago=None, reason=None, exit_code=None,
                  log=True):
            key = f"logs/secret-{secrets.token_hex(8)}.log.zst" if log and finished_ago else None
            if key:
                d.secrets.append(key)
            return one("insert into builds (job_id, attempt, builder_id, state, phase, exit_code,"
                       " failure_reason, started_at, finished_at, duration_ms, log_key, log_size)"
                       " values (%s, %s, %s, %s, %s, %s, %s, now() - interval '4 hours',"
                       " now() - %s::interval, %s, %s, %s) returning id",
                       jid, attempt, builders[builder], state,
                       "building" if state == "running" else "done", exit_code, reason,
                       finished_ago, 60000 if finished_ago else None, key,
                       1234 if key else None)

        def artifact(rid, pid, jid, bid, filename, published=True, py="cp311",
                     plat="linux_x86_64"):
            key = f"wheels/ab/{secrets.token_hex(32)}/{filename}"
            d.secrets.append(key)
            return one("insert into artifacts (project_id, release_id, job_id, build_id, filename,"
                       " sha256, size, python_tags, abi_tags, platform_tags, requires_python,"
                       " metadata, metadata_sha256, storage_key, published_at) values"
                       " (%s, %s, %s, %s, %s, %s, 4096, %s, %s, %s, '>=3.8', 'Metadata-Version: 2.1',"
                       " %s, %s, %s) returning id",
                       pid, rid, jid, bid, filename, "a" * 64, [py], [py], [plat], "b" * 64, key,
                       "now" if published else None)

        ids = d.ids
        # 2.0: built on A, running on B, queued on C.
        j = job(rel["2.0"], T_A, "succeeded", "alpha")
        ids["b_2.0_A"] = build(j, 1, "alpha", "succeeded", "1 hour")
        ids["a_2.0_A"] = artifact(rel["2.0"], dj, j, ids["b_2.0_A"],
                                  "django-2.0-cp311-cp311-linux_x86_64.whl")
        ids["j_2.0_A"] = j
        j = job(rel["2.0"], T_B, "running", "alpha")
        ids["b_2.0_B"] = build(j, 1, "alpha", "running")
        job(rel["2.0"], T_C, "queued")
        # 1.10: failed on A (second attempt; the first was lost), skipped on B, failed on C
        # with the reason only on the build.
        j = job(rel["1.10"], T_A, "failed", "alpha", reason="compiler error", attempts=2)
        ids["j_1.10_A"] = j
        ids["b_1.10_A_1"] = build(j, 1, "beta", "lost", "3 hours", reason="builder vanished")
        ids["b_1.10_A_2"] = build(j, 2, "alpha", "failed", "2 hours", reason="compiler error",
                                  exit_code=1)
        c.execute("insert into release_plans (release_id, target_id, decision, reason) values"
                  " (%s, %s, 'skipped', 'covered by upstream wheel'),"
                  " (%s, %s, 'planned', 'new release')",
                  (rel["1.10"], targets[T_B], rel["1.10"], targets[T_A]))
        j = job(rel["1.10"], T_C, "failed", "beta")
        ids["b_1.10_C"] = build(j, 1, "beta", "failed", "30 hours", reason="oom", exit_code=137)
        # 1.9: assigned on A, built on B (long ago).
        job(rel["1.9"], T_A, "assigned", "beta")
        j = job(rel["1.9"], T_B, "succeeded", "beta")
        ids["b_1.9_B"] = build(j, 1, "beta", "succeeded", "3 days")
        ids["a_1.9_B"] = artifact(rel["1.9"], dj, j, ids["b_1.9_B"],
                                  "django-1.9-cp311-cp311-linux_aarch64.whl", plat="linux_aarch64")
        # 2.0rc1: running on A with a wheel uploaded but not yet published.
        j = job(rel["2.0rc1"], T_A, "running", "alpha")
        ids["b_2.0rc1_A"] = build(j, 1, "alpha", "running")
        c.execute("insert into build_log_chunks (build_id, seq, data) values (%s, 0, 'hello\n'),"
                  " (%s, 1, 'world\n')", (ids["b_2.0rc1_A"], ids["b_2.0rc1_A"]))
        ids["a_2.0rc1_A"] = artifact(rel["2.0rc1"], dj, j, ids["b_2.0rc1_A"],
                                     "django-2.0rc1-cp311-cp311-linux_x86_64.whl", published=False)
        # requests: built on A by a builder disabled since.
        j = job(req_rel, T_A, "succeeded", "gamma")
        ids["b_req"] = build(j, 1, "gamma", "succeeded", "2 hours")
        ids["a_req"] = artifact(req_rel, pids["requests"], j, ids["b_req"],
                                "requests-2.31.0-py3-none-any.whl", py="py3", plat="any")

        today = "(now() at time zone 'UTC')::date"
        for aid, ago, n in [(ids["a_2.0_A"], 0, 10), (ids["a_2.0_A"], 1, 5),
                            (ids["a_2.0_A"], 5, 2), (ids["a_1.9_B"], 0, 3),
                            (ids["a_1.9_B"], 40, 100), (ids["a_req"], 0, 1000)]:
            c.execute(f"insert into download_counts (artifact_id, day, count) values"
                      f" (%s, {today} - %s, %s)", (aid, ago, n))
        for ago, inst, iv, py, n in [(0, "pip", "23.0", "3.11", 7), (0, "uv", "0.4", "3.12", 4),
                                     (1, "pip", "23.1", "3.12", 2), (2, "unknown", "", "", 1),
                                     (45, "pip", "9.0", "2.7", 50)]:
            c.execute(f"insert into download_agents (day, project_id, installer,"
                      f" installer_version, python_version, count) values"
                      f" ({today} - %s, %s, %s, %s, %s, %s)", (ago, dj, inst, iv, py, n))
        d.today = one(f"select to_char({today}, 'YYYY-MM-DD')")
    return d


@pytest.fixture(scope="module")
def data(migrated):
    return insert_all(migrated)


@pytest.fixture(scope="module")
def api(migrated, data, backend_factory):
    """get(path, status=200) -> parsed JSON (or the raw response for non-JSON bodies)."""
    b = backend_factory(migrated)

    def get(path, status=200, method="GET"):
        st, h, body = b.request(method, path)
        RESPONSES.append((path, st, h, body))
        assert st == status, (path, st, body)
        assert h.get("cache-control") == "no-store", (path, h)
        if h.get("content-type") == "application/json":
            return json.loads(body)
        return st, h, body
    get.backend = b
    return get


def error(api, path, status):
    body = api(path, status)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]


def listed(api, path, key, limit):
    """Every item of a paginated list, following next_cursor; checks page sizes."""
    items, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = api(url)
        assert set(page) == {key, "next_cursor"}
        items += page[key]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(page[key]) == limit
        assert pages < 1000


# ---- projects ----

def test_project_list_shape_and_counts(api, data):
    page = api("/api/v1/projects?q=django")
    first = page["projects"][0]
    assert first == {"name": "Django", "normalized": "django", "releases": 7, "artifacts": 2,
                     "latest_version": "2.0", "updated_at": first["updated_at"]}
    assert first["updated_at"].endswith("Z")
    req = api("/api/v1/projects?q=requests")["projects"][0]
    assert (req["releases"], req["artifacts"], req["latest_version"]) == (2, 1, "2.31.0")


def test_search_prefix_first_then_substring(api):
    names = [p["normalized"] for p in api("/api/v1/projects?q=django")["projects"]]
    assert names == ["django", "django-filter", "django-rest-framework",
                     "my-django-app", "pytest-django"]
    names = [p["normalized"] for p in api("/api/v1/projects?q=rest")["projects"]]
    assert names == ["restview", "django-rest-framework"]
    # Typed as the user spells it: case, '_', '.' and spaces normalize like names do.
    for q in ["Django_REST", "django.rest", "DJANGO-rest", "%20django%20rest%20"]:
        names = [p["normalized"] for p in api(f"/api/v1/projects?q={q}")["projects"]]
        assert names == ["django-rest-framework"], q
    assert api("/api/v1/projects?q=pkg-11")["projects"][0]["normalized"] == "pkg-110"
    assert len(api("/api/v1/projects?q=pkg-1")["projects"]) == 20
    # Bytes no name can hold match nothing (and reach no LIKE pattern).
    for q in ["%25", "dj%25", "_%25_", "a%2Fb", "%27"]:
        assert api(f"/api/v1/projects?q={q}") == {"projects": [], "next_cursor": None}


def test_search_pages_cross_from_prefix_to_substring(api):
    items, pages = listed(api, "/api/v1/projects?q=django", "projects", 2)
    assert [p["normalized"] for p in items] == ["django", "django-filter", "django-rest-framework",
                                                "my-django-app", "pytest-django"]
    assert pages == 3


def test_pagination_covers_every_project_exactly_once(api):
    want = sorted([n.lower().replace("_", "-").replace(".", "-") for n in SEARCHABLE] + PKGS)
    for limit in (1, 7, 50, 200):
        items, pages = listed(api, "/api/v1/projects", "projects", limit)
        names = [p["normalized"] for p in items]
        assert names == want, limit     # sorted, no duplicates, no ghost, nothing deleted
    assert len(api("/api/v1/projects")["projects"]) == 50     # the default page size


def test_project_detail_orders_releases_by_pep440(api):
    p = api("/api/v1/projects/django?limit=200")
    assert [r["version"] for r in p["releases"]] == DJANGO_PEP440_DESC
    assert p["name"] == "Django" and p["normalized"] == "django"
    assert p["releases_total"] == 7 and p["artifacts"] == 2
    assert p["latest_version"] == "2.0"       # not the dev release, not the yanked one
    assert p["releases_truncated"] is False and p["next_cursor"] is None
    assert [t["name"] for t in p["targets"]] == sorted([T_A, T_B, T_C])
    yanked = next(r for r in p["releases"] if r["version"] == "2.0.1")
    assert yanked["yanked"] is True and yanked["yanked_reason"] == "broken"


def test_project_detail_pages_releases(api):
    cursor, seen = None, []
    while True:
        url = "/api/v1/projects/django?limit=3" + (f"&cursor={quote(cursor)}" if cursor else "")
        p = api(url)
        seen += [r["version"] for r in p["releases"]]
        cursor = p["next_cursor"]
        if not cursor:
            break
    assert seen == DJANGO_PEP440_DESC


def cells(release):
    return {c["target"]: c for c in release["cells"]}


def test_cell_statuses(api, data):
    p = api("/api/v1/projects/django?limit=200")
    rel = {r["version"]: r for r in p["releases"]}
    status = {v: {t: c["status"] for t, c in cells(r).items()} for v, r in rel.items()}
    assert status["2.0"] == {T_A: "built", T_B: "running", T_C: "queued"}
    assert status["1.10"] == {T_A: "failed", T_B: "skipped", T_C: "failed"}
    assert status["1.9"] == {T_A: "running", T_B: "built", T_C: "none"}
    # An uploaded wheel is not "built" until its job succeeded and published it.
    assert status["2.0rc1"] == {T_A: "running", T_B: "none", T_C: "none"}
    assert status["1.10.1"] == {T_A: "none", T_B: "none", T_C: "none"}
    c = cells(rel["1.10"])
    assert c[T_A]["reason"] == "compiler error" and c[T_A]["job_state"] == "failed"
    assert c[T_A]["build_id"] == data.ids["b_1.10_A_2"]      # the last attempt
    assert c[T_B]["reason"] == "covered by upstream wheel" and c[T_B]["plan"] == "skipped"
    assert c[T_C]["reason"] == "oom"                         # from the build
    c = cells(rel["2.0"])
    assert c[T_A]["reason"] is None and c[T_A]["artifacts"] == 1
    assert c[T_A]["job_id"] == data.ids["j_2.0_A"]


def test_release_artifacts_in_project_detail(api, data):
    p = api("/api/v1/projects/django?limit=200")
    rel = {r["version"]: r for r in p["releases"]}
    (a,) = rel["2.0"]["artifacts"]
    assert a == {"id": data.ids["a_2.0_A"], "filename": "django-2.0-cp311-cp311-linux_x86_64.whl",
                 "url": "/files/django/django-2.0-cp311-cp311-linux_x86_64.whl", "size": 4096,
                 "sha256": "a" * 64, "requires_python": ">=3.8", "yanked": False,
                 "uploaded_at": a["uploaded_at"], "downloads": 17,
                 "build_id": data.ids["b_2.0_A"], "job_id": data.ids["j_2.0_A"], "target": T_A,
                 "policy": None, "runtime_packages": []}
    assert rel["1.9"]["artifacts"][0]["downloads"] == 103
    assert rel["2.0rc1"]["artifacts"] == []                  # not published yet


def test_unnormalized_names_redirect(api):
    for path, loc in [("/api/v1/projects/Django", "/api/v1/projects/django"),
                      ("/api/v1/projects/Django_REST.framework?limit=5",
                       "/api/v1/projects/django-rest-framework?limit=5"),
                      ("/api/v1/projects/DJANGO/releases/2.0", "/api/v1/projects/django/releases/2.0"),
                      ("/api/v1/projects/Django/downloads?days=7&format=csv",
                       "/api/v1/projects/django/downloads?days=7&format=csv")]:
        st, h, body = api(path, 301)
        assert h["location"] == loc and body == b""


def test_release_detail(api, data):
    r = api("/api/v1/projects/django/releases/1.10")
    assert r["project"] == {"name": "Django", "normalized": "django"}
    assert r["version"] == "1.10" and r["yanked"] is False
    assert {t: c["status"] for t, c in cells(r).items()} == {T_A: "failed", T_B: "skipped",
                                                              T_C: "failed"}
    assert r["artifacts"] == []
    jobs = {j["target"]: j for j in r["jobs"]}
    assert set(jobs) == {T_A, T_C}
    ja = jobs[T_A]
    assert ja["id"] == data.ids["j_1.10_A"] and ja["state"] == "failed" and ja["attempts"] == 2
    assert ja["failure_reason"] == "compiler error"
    assert [(b["attempt"], b["state"], b["builder"]) for b in ja["builds"]] == [
        (2, "failed", "alpha"), (1, "lost", "beta")]
    assert ja["builds"][0]["exit_code"] == 1 and ja["builds"][0]["duration_ms"] == 60000
    # A version is matched by its normalized form.
    assert api("/api/v1/projects/django/releases/2.0RC1")["version"] == "2.0rc1"
    built = api("/api/v1/projects/django/releases/2.0")
    assert [a["id"] for a in built["artifacts"]] == [data.ids["a_2.0_A"]]


def test_project_not_found(api):
    assert error(api, "/api/v1/projects/no-such-thing", 404)["code"] == "not_found"
    # Known but without releases: still shown, for links from history.
    assert api("/api/v1/projects/ghost")["releases"] == []
    # Deleted upstream: gone, as from the index (test_upstream_truth.py).
    assert error(api, "/api/v1/projects/gone-away", 404)["code"] == "not_found"
    error(api, "/api/v1/projects/no-such-thing/releases/1.0", 404)
    error(api, "/api/v1/projects/no-such-thing/downloads", 404)
    error(api, "/api/v1/projects/django/releases/9.9", 404)
    error(api, "/api/v1/projects/-bad-/releases/1.0", 404)


# ---- artifacts, builds ----

def test_artifact_detail(api, data):
    a = api(f"/api/v1/artifacts/{data.ids['a_2.0_A']}")
    assert a["filename"] == "django-2.0-cp311-cp311-linux_x86_64.whl"
    assert a["project"] == {"name": "Django", "normalized": "django"}
    assert a["release"] == {"version": "2.0", "version_normalized": "2.0"}
    assert a["tags"] == ["cp311-cp311-linux_x86_64"]
    assert (a["python_tags"], a["abi_tags"], a["platform_tags"]) == (["cp311"], ["cp311"],
                                                                     ["linux_x86_64"])
    assert a["requires_python"] == ">=3.8" and a["downloads"] == 17 and a["target"] == T_A
    assert a["url"] == "/files/django/" + a["filename"]
    assert a["metadata_url"] == a["url"] + ".metadata"
    assert a["build_id"] == data.ids["b_2.0_A"] and a["published_at"].endswith("Z")
    assert "storage_key" not in a
    assert api(f"/api/v1/artifacts/{data.ids['a_2.0rc1_A']}")["published_at"] is None
    error(api, "/api/v1/artifacts/999999999", 404)


def test_build_list_newest_first_with_filters(api, data):
    all_builds, _ = listed(api, "/api/v1/builds", "builds", 3)
    ids = [b["id"] for b in all_builds]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 8
    b = next(x for x in all_builds if x["id"] == data.ids["b_1.10_A_2"])
    assert b["project"] == {"name": "Django", "normalized": "django"}
    assert (b["version"], b["target"], b["builder"], b["state"], b["attempt"]) == (
        "1.10", T_A, "alpha", "failed", 2)

    def ids_of(q):
        return [x["id"] for x in api("/api/v1/builds?" + q)["builds"]]
    assert ids_of("state=failed") == [data.ids["b_1.10_C"], data.ids["b_1.10_A_2"]]
    assert ids_of("state=running") == [data.ids["b_2.0rc1_A"], data.ids["b_2.0_B"]]
    assert ids_of("project=requests") == [data.ids["b_req"]]
    assert len(ids_of("project=DJANGO")) == 7
    assert ids_of(f"target={T_C}") == [data.ids["b_1.10_C"]]
    assert ids_of("builder=beta") == [data.ids["b_1.9_B"], data.ids["b_1.10_C"],
                                      data.ids["b_1.10_A_1"]]
    assert ids_of("builder=alpha&state=succeeded&project=django") == [data.ids["b_2.0_A"]]
    assert ids_of("builder=nobody") == []
    assert ids_of("state=&project=&target=&builder=&cursor=&limit=&unknown=1") == ids[:50]


def test_build_detail(api, data):
    b = api(f"/api/v1/builds/{data.ids['b_2.0_A']}")
    assert (b["state"], b["attempt"], b["builder"], b["duration_ms"]) == ("succeeded", 1, "alpha",
                                                                          60000)
    assert b["log_size"] == 1234 and b["log_archived"] is True
    assert b["job"]["id"] == data.ids["j_2.0_A"] and b["job"]["state"] == "succeeded"
    assert b["project"] == {"name": "Django", "normalized": "django"}
    assert b["release"]["version"] == "2.0"
    assert b["target"] == {"name": T_A, "python_tag": "cp311", "python_version": "3.11",
                           "platform": "linux_x86_64", "arch": "x86_64", "suite": None, "glibc": None}
    assert [a["id"] for a in b["artifacts"]] == [data.ids["a_2.0_A"]]
    live = api(f"/api/v1/builds/{data.ids['b_2.0rc1_A']}")
    assert live["log_size"] == 12 and live["log_archived"] is False   # the live chunks
    assert live["finished_at"] is None and live["phase"] == "building"
    assert live["artifacts"][0]["published_at"] is None


def test_bad_ids_and_parameters_are_json_errors(api):
    for path in ["/api/v1/builds/abc", "/api/v1/builds/0", "/api/v1/builds/-1",
                 "/api/v1/builds/1.5", "/api/v1/builds/99999999999999999999",
                 "/api/v1/artifacts/x1", "/api/v1/projects?limit=0", "/api/v1/projects?limit=201",
                 "/api/v1/projects?limit=ten", "/api/v1/builds?state=exploded",
                 "/api/v1/builds?cursor=abc", "/api/v1/builds?project=-bad-",
                 "/api/v1/projects/django?limit=1000", "/api/v1/projects/django/downloads?days=0",
                 "/api/v1/projects/django/downloads?days=367",
                 "/api/v1/projects/django/downloads?format=xml"]:
        assert error(api, path, 400)["code"] == "invalid", path
    error(api, "/api/v1/builds/424242", 404)
    for path in ["/api/v1/nothing-here", "/api/v2/projects", "/api/v1/jobs/1/artifacts/x.whl"]:
        assert error(api, path, 404)["code"] == "not_found", path


def test_unknown_query_parameters_are_ignored(api):
    assert api("/api/v1/projects?q=django&colour=blue") == api("/api/v1/projects?q=django")
    assert api("/api/v1/stats?x=1")["releases"] > 0


def test_head_answers_headers_only(api):
    st, h, body = api.backend.request("HEAD", "/api/v1/stats")
    assert st == 200 and body == b"" and int(h["content-length"]) > 0
    assert h["cache-control"] == "no-store"


# ---- downloads ----

def test_downloads_json(api, data):
    d = api("/api/v1/projects/django/downloads")
    assert d["project"] == {"name": "Django", "normalized": "django"} and d["days"] == 30
    assert len(d["daily"]) == 30 and d["daily"][-1]["day"] == data.today
    days = [x["day"] for x in d["daily"]]
    assert days == sorted(days)
    assert d["daily"][-1]["downloads"] == 13 and d["daily"][-2]["downloads"] == 5
    assert d["daily"][-6]["downloads"] == 2 and d["total"] == 20   # the 40-day-old 100 is out
    assert d["installers"] == [{"installer": "pip", "downloads": 9},
                               {"installer": "uv", "downloads": 4},
                               {"installer": "unknown", "downloads": 1}]
    assert d["python_versions"] == [{"python_version": "3.11", "downloads": 7},
                                    {"python_version": "3.12", "downloads": 6},
                                    {"python_version": "unknown", "downloads": 1}]
    one = api("/api/v1/projects/django/downloads?days=1")
    assert one["daily"] == [{"day": data.today, "downloads": 13}] and one["total"] == 13
    year = api("/api/v1/projects/django/downloads?days=366")
    assert year["total"] == 120 and len(year["daily"]) == 366
    assert {"installer": "pip", "downloads": 59} in year["installers"]
    empty = api("/api/v1/projects/restview/downloads?days=7")
    assert empty["total"] == 0 and len(empty["daily"]) == 7
    assert empty["installers"] == [] and empty["python_versions"] == []


def test_downloads_csv(api, data):
    st, h, body = api("/api/v1/projects/django/downloads?days=7&format=csv")
    assert h["content-type"].startswith("text/csv")
    assert 'filename="django-downloads.csv"' in h["content-disposition"]
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["series", "key", "downloads"]
    day = [r for r in rows[1:] if r[0] == "day"]
    assert len(day) == 7 and day[-1] == ["day", data.today, "13"]
    assert sum(int(r[2]) for r in day) == 20
    assert ["installer", "pip", "9"] in rows and ["python", "unknown", "1"] in rows
    assert {r[0] for r in rows[1:]} == {"day", "installer", "python", "day-installer", "day-python"}


# ---- farm ----

def test_targets(api):
    t = {x["name"]: x for x in api("/api/v1/targets")["targets"]}
    assert list(t) == sorted([T_A, T_B, T_C])
    assert (t[T_A]["queued"], t[T_A]["running"]) == (0, 2)
    assert (t[T_B]["queued"], t[T_B]["running"]) == (0, 1)
    assert (t[T_C]["queued"], t[T_C]["running"]) == (1, 0)
    assert t[T_C]["python_version"] == "3.12" and t[T_C]["enabled"] is True
    assert t[T_A]["image"] == f"kiln/{T_A}:1"


def test_builders_never_show_tokens(api):
    b = {x["name"]: x for x in api("/api/v1/builders")["builders"]}
    assert [b[n]["state"] for n in ("alpha", "beta", "gamma")] == ["enabled", "paused", "disabled"]
    assert [b[n]["online"] for n in ("alpha", "beta", "gamma")] == [True, False, False]
    assert b["alpha"]["capabilities"] == {"slots": 2, "arch": ["x86_64"]}
    assert b["gamma"]["last_seen"] is None and b["alpha"]["last_seen"].endswith("Z")
    assert (b["alpha"]["active_jobs"], b["beta"]["active_jobs"]) == (2, 1)
    for x in b.values():
        assert not any("token" in k or "hash" in k for k in x), x


def test_stats(api):
    s = api("/api/v1/stats")
    assert s == {"projects": len(SEARCHABLE) + len(PKGS), "releases": 7 + 6 + 1 + 120 + 1,
                 "artifacts": 3, "builds_24h": {"succeeded": 2, "failed": 1},
                 "queue": {"queued": 1, "assigned": 1, "running": 2},
                 "builders_online": 1, "downloads": {"last_24h": 1018, "total": 1120}}


# ---- nothing secret was ever served (late: it looks through every response) ----

def test_no_secret_in_any_response(api, data):
    # Visit every endpoint once more, then look through everything received.
    for path in ["/api/v1/projects?limit=200", "/api/v1/projects/django?limit=200",
                 "/api/v1/projects/requests", "/api/v1/builders", "/api/v1/targets",
                 "/api/v1/stats", "/api/v1/builds?limit=200",
                 "/api/v1/projects/django/downloads?days=366&format=csv"]:
        api(path)
    for name in ["2.0", "1.10", "1.9", "2.0rc1"]:
        api(f"/api/v1/projects/django/releases/{name}")
    for key, id_ in data.ids.items():
        kind = {"a": "artifacts", "b": "builds"}.get(key[0])
        if kind:
            api(f"/api/v1/{kind}/{id_}")
    assert len(RESPONSES) > 60
    blob = b"\n".join(body for _, _, _, body in RESPONSES)
    for s in data.secrets:
        assert s.encode() not in blob, s
    for word in [b"storage_key", b"token_hash", b"lease_", b"log_key", b"wheels/ab/",
                 b"logs/secret"]:
        assert word not in blob, word


# ---- every response received so far fits docs/openapi.yaml ----

def openapi_operation(doc, path):
    """The documented GET operation for a request path (the most literal match)."""
    segs = path.split("?")[0].split("/")
    best = None
    for templ, ops in doc["paths"].items():
        t = templ.split("/")
        if "get" in ops and len(t) == len(segs) and all(
                a == b or (a.startswith("{") and a.endswith("}") and b) for a, b in zip(t, segs)):
            if best is None or templ.count("{") < best[0].count("{"):
                best = (templ, ops["get"])
    return best[1] if best else None


def test_responses_match_openapi(api):
    """Every JSON body received so far fits the schema documented for its status."""
    import yaml
    from jsonschema import Draft202012Validator
    from conftest import ROOT
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    checked = 0
    for path, status, h, body in list(RESPONSES):
        op = openapi_operation(doc, path)
        if op is None:  # a path nothing serves: the generic JSON 404
            assert status == 404, path
            op = {"responses": {"404": {"$ref": "#/components/responses/Error"}}}
        assert str(status) in op["responses"], f"{path}: status {status} is not documented"
        resp = op["responses"][str(status)]
        if "$ref" in resp:
            resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        ctype = h.get("content-type", "")
        if status in (301, 304) or not body:
            assert not body and "content" not in resp, path
            continue
        media = resp["content"].get(ctype) or resp["content"].get(ctype.split(";")[0])
        assert media, f"{path}: {ctype} is not documented for {status}"
        if ctype != "application/json":
            continue
        # The whole document is the root, so that its "#/components/..." refs resolve.
        root = dict(doc, allOf=[media["schema"]])
        errors = [e.message for e in Draft202012Validator(root).iter_errors(json.loads(body))]
        assert not errors, (path, status, errors[:3])
        checked += 1
    assert checked > 50


# ---- last: it kills the database connections of this module's other backend too ----

def test_lost_database_connections_answer_503_then_recover(migrated, data, backend_factory):
    """Connections killed under the pool: answers are JSON 503s (or fine), then fine again.
    Last in the module: it kills the other backend's connections too."""
    import time
    b = backend_factory(migrated)
    assert b.get("/api/v1/stats")[0] == 200
    with psycopg.connect(migrated, autocommit=True) as c:
        killed = c.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity"
                           " where datname = current_database() and pid <> pg_backend_pid()"
                           ).fetchone()[0]
    assert killed > 0
    statuses, deadline = [], time.time() + 20
    while time.time() < deadline:
        st, h, body = b.get("/api/v1/projects/django?limit=2")
        statuses.append(st)
        assert st in (200, 503), (st, body)
        assert h["content-type"] == "application/json" and h["cache-control"] == "no-store"
        if st == 503:
            assert json.loads(body)["error"]["code"] == "unavailable"
        elif len(statuses) >= 5:
            break
        time.sleep(0.05)
    assert statuses[-1] == 200, statuses
    assert b.get("/api/v1/stats")[0] == 200
    assert b.stop() == 0    # and no sanitizer report in its log
