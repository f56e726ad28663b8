"""What the web UI needs from the backend beyond the read API: the static files
it is made of (types, revalidation, deep links that fall back to index.html
but never under /api, /simple or /files) and the home chart's hourly history."""
import json
import datetime as dt

import psycopg
import pytest
import yaml

from conftest import ROOT


@pytest.fixture(scope="module")
def backend(migrated, backend_factory):
    return backend_factory(migrated)


def test_ui_files_have_their_types_and_revalidate(backend):
    index = (ROOT / "frontend" / "index.html").read_bytes()
    for path, ctype in [("/", "text/html"), ("/app.css", "text/css"), ("/js/app.js", "text/javascript"),
                        ("/js/pages/project.js", "text/javascript"), ("/favicon.svg", "image/svg+xml")]:
        st, h, body = backend.get(path)
        assert st == 200, path
        assert h["content-type"].startswith(ctype), (path, h["content-type"])
        assert h["cache-control"] == "no-cache" and h["x-content-type-options"] == "nosniff"
        st2, _, body2 = backend.get(path, headers={"If-None-Match": h["etag"]})
        assert st2 == 304 and body2 == b"", path
    assert backend.get("/")[2] == index


def test_deep_links_get_the_ui(backend):
    index = (ROOT / "frontend" / "index.html").read_bytes()
    for path in ("/projects/numpy", "/builds/12", "/queue", "/search?q=x", "/no/such/page", "/simplex",
                 "/filesystem/a"):
        st, h, body = backend.get(path)
        assert st == 200 and body == index, path
        assert h["content-type"].startswith("text/html")


def test_server_paths_never_fall_back_to_the_ui(backend):
    # pip reading an HTML page for a mistyped index URL would be a confusing failure.
    for path in ("/api/v1/nothing", "/simple/a/b", "/files/x", "/files", "/files/a/b/c", "/js/missing.js",
                 "/missing.css", "/api"):
        st, h, body = backend.get(path)
        assert st == 404, (path, st)
        assert h["content-type"].startswith("application/json"), path
        assert json.loads(body)["error"]["code"] == "not_found", path


def test_hourly_history_counts_builds_and_the_waiting_queue(migrated, backend):
    with psycopg.connect(migrated, autocommit=True) as c:
        one = lambda sql, *a: c.execute(sql, a).fetchone()[0]  # noqa: E731
        now = one("select now()")
        pid = one("insert into projects (name, normalized) values ('hist', 'hist') returning id")
        tid = one("insert into targets (name, image, python_tag, python_version, platform)"
                  " values ('t-hist', 'img', 'cp311', '3.11', 'linux_x86_64') returning id")
        jobs = []

        def job(version, created_h, build_h=None, end_h=None, state="queued", build_state=None):
            """A job created created_h hours ago; its build ran from build_h to end_h hours ago."""
            rid = one("insert into releases (project_id, version, version_normalized) values (%s, %s, %s)"
                      " returning id", pid, version, version)
            ago = lambda h: None if h is None else now - dt.timedelta(hours=h)  # noqa: E731
            jid = one("insert into jobs (release_id, target_id, state, created_at, started_at, finished_at)"
                      " values (%s, %s, %s, %s, %s, %s) returning id", rid, tid, state, ago(created_h),
                      ago(build_h), ago(end_h) if state != "queued" else None)
            if build_h is not None:
                c.execute("insert into builds (job_id, attempt, state, started_at, finished_at, duration_ms)"
                          " values (%s, 1, %s, %s, %s, 1000)", (jid, build_state, ago(build_h), ago(end_h)))
            jobs.append((ago(created_h), ago(build_h) or ago(end_h) if state != "queued" else None))
            return jid

        job("1", 5, 4.5, 4, "succeeded", "succeeded")
        job("2", 3, 2, 1.5, "failed", "failed")
        job("3", 2.2)                                   # still waiting
        job("4", 0.5)                                   # still waiting, queued this hour
        job("5", 30, 29.5, 29, "succeeded", "succeeded")  # a day ago: outside the window
        job("6", 10, 9, 8.9, "failed", "failed")

    st, h, body = backend.get("/api/v1/stats/history")
    assert st == 200 and h["cache-control"] == "no-store"
    hours = json.loads(body)["hours"]
    assert len(hours) == 24

    top = now.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    starts = [top - dt.timedelta(hours=23 - i) for i in range(24)]
    assert [x["hour"] for x in hours] == [s.strftime("%Y-%m-%dT%H:00:00Z") for s in starts]

    def bucket(hours_ago):
        t = now - dt.timedelta(hours=hours_ago)
        return 23 - int((top - t.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0))
                        .total_seconds() // 3600)

    ok = [0] * 24
    bad = [0] * 24
    ok[bucket(4)] += 1
    bad[bucket(1.5)] += 1
    bad[bucket(8.9)] += 1
    assert [x["succeeded"] for x in hours] == ok
    assert [x["failed"] for x in hours] == bad
    # The queue's length at each hour's end: jobs created by then that had not started.
    queued = []
    for s in starts:
        end = min(s + dt.timedelta(hours=1), now)
        queued.append(sum(1 for created, left in jobs if created <= end and (left is None or left > end)))
    assert [x["queued"] for x in hours] == queued
    assert hours[-1]["queued"] == 2 and max(queued) >= 2


def test_history_is_documented_as_served(backend):
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    schema = spec["paths"]["/api/v1/stats/history"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    item = schema["properties"]["hours"]["items"]
    hours = json.loads(backend.get("/api/v1/stats/history")[2])["hours"]
    assert set(hours[0]) == set(item["required"]) == set(item["properties"])


def test_downloads_per_day_by_installer_and_python(migrated, backend):
    today = "((now() at time zone 'UTC')::date)"
    with psycopg.connect(migrated, autocommit=True) as c:
        pid = c.execute("insert into projects (name, normalized) values ('DL_UI', 'dl-ui') returning id").fetchone()[0]
        c.execute("insert into releases (project_id, version, version_normalized) values (%s, '1', '1')", (pid,))
        for ago, inst, iv, py, n in [(0, "pip", "24.0", "3.11", 5), (0, "pip", "23.0", "3.11", 1),
                                     (0, "uv", "0.4", "3.12", 2), (1, "pip", "24.0", "", 1),
                                     (40, "pip", "24.0", "3.11", 100)]:
            c.execute(f"insert into download_agents (day, project_id, installer, installer_version,"
                      f" python_version, count) values ({today} - %s, %s, %s, %s, %s, %s)",
                      (ago, pid, inst, iv, py, n))
        t0, t1 = c.execute(f"select to_char({today}, 'YYYY-MM-DD'), to_char({today} - 1, 'YYYY-MM-DD')").fetchone()
    d = json.loads(backend.get("/api/v1/projects/dl-ui/downloads?days=7")[2])
    # Oldest day first; within a day the largest first; the day 40 days back is outside.
    assert d["daily_installers"] == [{"day": t1, "installer": "pip", "downloads": 1},
                                     {"day": t0, "installer": "pip", "downloads": 6},
                                     {"day": t0, "installer": "uv", "downloads": 2}]
    assert d["daily_python_versions"] == [{"day": t1, "python_version": "unknown", "downloads": 1},
                                          {"day": t0, "python_version": "3.11", "downloads": 6},
                                          {"day": t0, "python_version": "3.12", "downloads": 2}]
    # The per-day series add up to the period's totals by installer.
    for inst in d["installers"]:
        assert inst["downloads"] == sum(x["downloads"] for x in d["daily_installers"]
                                        if x["installer"] == inst["installer"])
    st, h, body = backend.get("/api/v1/projects/dl-ui/downloads?days=7&format=csv")
    rows = body.decode().splitlines()
    assert f"day-installer,{t0} pip,6" in rows and f"day-python,{t1} unknown,1" in rows
    assert f"day-installer,{t0} uv,2" in rows
