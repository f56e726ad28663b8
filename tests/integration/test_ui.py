"""The web UI in real headless Chromium (Debian's, driven by Playwright) against a
real farm: backend, one builder, real Docker builds of sdists served on loopback.

What a person would check: search finds the project; its page shows the built
wheel and an install line that really installs it; a running build's log grows
on screen while the build runs (and stops following when scrolled up); admin
actions taken in the UI (pause, rebuild, cancel, resume) change the farm, and
their errors show plainly; every page works with the keyboard alone, back and
forward work, unknown pages show a 404 view, and no page logs an error.
Screenshots of every page, desktop and phone, light and dark, go to
tests/artifacts/ui/.
"""
import os
import re
import shlex
import sys
import time

import psycopg
import pytest

from conftest import KILNCTL, ROOT, run
from sdists import FileServer, make_sdist, wait_for
from test_builds import FARM_ENV, TARGET, Farm

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "artifacts" / "ui"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DEMO = "kiln-ui-demo"
# Prints a line a second each time setuptools runs setup.py, so the build's log
# grows for a while on screen.
SLOW_SETUP = "import time\nfor i in range(6):\n    print(f'kiln-ui tick {i}', flush=True)\n    time.sleep(1)\n"


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, s3, tmp_path_factory):
    run([ROOT / "scripts" / "image.sh", "build"], timeout=1800)
    image = run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    backend = backend_factory(migrated, storage="s3", env={**s3, **FARM_ENV, "KILN_DOWNLOADS_FLUSH_SECONDS": "1"})
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("ui-farm"), backend_factory, s3)
    f.files = FileServer()
    f.start_builder("builder-ui")
    out = run([KILNCTL, "admin-token", "add", "ui-admin"], env=f.env()).stdout
    f.admin = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
    # A real wheel to browse: built by the builder from a real sdist.
    fn, data = make_sdist(DEMO, "1.0")
    url, sha = f.files.add(fn, data)
    f.demo_job = f.queue(DEMO, "1.0", url, sha, fn)
    state, _, reason, _ = f.wait_done(f.demo_job)
    assert state == "succeeded", reason
    with psycopg.connect(f.db, autocommit=True) as c:
        f.demo_build = c.execute("select id from builds where job_id = %s", (f.demo_job,)).fetchone()[0]
        # A release the planner skipped, to show why on the project page.
        rid = c.execute("insert into releases (project_id, version, version_normalized)"
                        " select id, '0.9', '0.9' from projects where normalized = %s returning id",
                        (DEMO,)).fetchone()[0]
        c.execute("insert into release_plans (release_id, target_id, decision, reason)"
                  " select %s, id, 'skipped', 'covered by upstream wheel' from targets", (rid,))
    yield f
    f.stop_all()
    f.files.close()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Tab:
    """A page in its own browser context that records console and page errors."""

    def __init__(self, browser, base, viewport=DESKTOP, scheme="light", **kw):
        self.base = base
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme, **kw)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def goto(self, path):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser, farm):
    tabs = []

    def make(**kw):
        t = Tab(browser, farm.backend.url, **kw)
        tabs.append(t)
        return t
    yield make
    for t in tabs:
        t.close()


def job_rows(farm, sql, *args):
    with psycopg.connect(farm.db) as c:
        return c.execute(sql, args).fetchall()


def test_search_finds_the_project(farm, tab):
    t = tab()
    page = t.goto("/")
    page.keyboard.press("/")  # the shortcut focuses the search box
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("ui-dem")
    page.wait_for_url(re.compile(r"/search\?q=ui-dem$"))
    result = page.locator("ul.results a", has_text=DEMO)
    result.wait_for()
    assert page.evaluate("document.activeElement.id") == "q", "typing must not lose the search box"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{DEMO}")
    page.locator("h1", has_text=DEMO).wait_for()
    # A term nothing matches says so.
    page = t.goto("/search?q=zzz-nothing-like-it")
    page.get_by_text("No project matches").wait_for()
    assert not t.errors, t.errors


def test_project_page_shows_the_wheel_and_an_install_line_that_works(farm, tab, tmp_path):
    t = tab(permissions=["clipboard-read", "clipboard-write"])
    page = t.goto(f"/projects/{DEMO}")
    wheel = "kiln_ui_demo-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl"
    row = page.locator("tr", has=page.locator(f"a:text-is('{wheel}')"))
    row.wait_for()
    size = job_rows(farm, "select size, sha256 from artifacts where filename = %s", wheel)[0]
    assert size[1][:12] in row.inner_text()
    assert re.search(r"\d+(\.\d)? KiB", row.inner_text())
    # The grid: 1.0 built (linking to its build), 0.9 skipped with the planner's reason.
    built = page.locator("a.badge.built")
    assert built.get_attribute("href") == f"/builds/{farm.demo_build}"
    page.get_by_text("covered by upstream wheel").wait_for()
    line = page.locator("#install-line").inner_text()
    assert line == f"pip install --index-url {farm.backend.url}/simple/ {DEMO}==1.0"
    page.locator(".install button", has_text="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == line
    # What the page says to run installs Kiln's wheel.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    args = shlex.split(line)
    assert args[:2] == ["pip", "install"]
    out = run([venv / "bin" / "python", "-m", *args, "--no-cache-dir", "--only-binary", ":all:"],
              env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}).stdout
    assert wheel in out
    got = run([venv / "bin" / "python", "-c", "import kiln_ui_demo; print(kiln_ui_demo.add(40, 2))"]).stdout
    assert got.strip() == "42"
    # The download shows on the page once counted (the backend flushes every second here),
    # per wheel and per day by installer and Python version.
    wait_for(lambda: job_rows(farm, "select coalesce(sum(count), 0) from download_agents")[0][0] >= 1,
             30, "the download to be counted")
    page = t.goto(f"/projects/{DEMO}")
    assert row.locator("td").nth(6).inner_text() == "1"  # the Downloads column
    page.focus("#dl-split")
    page.select_option("#dl-split", "installer")
    page.locator(".legend span", has_text="pip").wait_for()
    assert page.evaluate("document.activeElement.id") == "dl-split"
    assert "split=installer" in page.url
    page.select_option("#dl-split", "python")
    page.locator(".legend span", has_text="3.11").wait_for()
    assert page.locator(".day-chart svg rect.s0").count() == 1  # one day, one version
    csv_href = page.get_by_role("link", name="Export CSV").get_attribute("href")
    csv = farm.backend.get(csv_href)[2].decode().splitlines()
    assert "installer,pip,1" in csv and any(r.startswith("day-python,") and r.endswith(" 3.11,1") for r in csv)
    page.screenshot(path=str(SHOTS / "project-downloads-desktop-light.png"), full_page=True)
    assert not t.errors, t.errors


def test_running_build_log_grows_on_screen(farm, tab):
    fn, data = make_sdist("kiln-ui-slow", "1.0", setup_extra=SLOW_SETUP)
    url, sha = farm.files.add(fn, data)
    job = farm.queue("kiln-ui-slow", "1.0", url, sha, fn)
    build = wait_for(lambda: (job_rows(farm, "select id from builds where job_id = %s and state = 'running'", job)
                              or [[None]])[0][0], 120, "the slow build to start")
    t = tab(viewport={"width": 1280, "height": 560})
    page = t.goto(f"/builds/{build}")
    log = page.locator("#log")
    page.locator(".badge.running").first.wait_for()
    page.locator(".live", has_text="streaming live").wait_for()

    def text():
        return page.evaluate("document.getElementById('log').textContent")

    def running():
        return job_rows(farm, "select state from builds where id = %s", build)[0][0] == "running"

    # Samples taken while the build still runs: the text on screen keeps growing.
    sizes, ticks = [], set()
    deadline = time.time() + 90
    while running() and time.time() < deadline:
        sizes.append(len(text()))
        ticks |= set(re.findall(r"kiln-ui tick (\d)", text()))
        if len(set(sizes)) >= 4 and len(ticks) >= 3:
            break
        time.sleep(0.4)
    assert len(set(sizes)) >= 4 and sizes == sorted(sizes), sizes
    assert len(ticks) >= 3, ticks
    page.screenshot(path=str(SHOTS / "build-running-desktop-light.png"))
    # Following the end until the reader scrolls up; then the text stays put.
    at_end = page.evaluate("(() => { const p = document.getElementById('log');"
                           " return p.scrollTop + p.clientHeight >= p.scrollHeight - 8; })()")
    assert at_end
    wait_for(lambda: page.evaluate("(() => { const p = document.getElementById('log');"
                                   " return p.scrollHeight > p.clientHeight + 40; })()"),
             60, "the log to outgrow its box")
    assert running(), "the build ended before the log could be scrolled"
    log.evaluate("p => { p.scrollTop = 0; p.dispatchEvent(new Event('scroll')); }")
    before = len(text())
    wait_for(lambda: len(text()) > before, 60, "more log while scrolled up")
    assert log.evaluate("p => p.scrollTop") == 0
    follow = page.get_by_role("button", name="Follow the end")
    assert follow.is_visible()
    follow.click()
    assert page.evaluate("(() => { const p = document.getElementById('log');"
                         " return p.scrollTop + p.clientHeight >= p.scrollHeight - 8; })()")
    # The end: the status says so, the badge turns, and the screen holds the whole stored log.
    page.locator(".muted", has_text="complete (succeeded)").wait_for(timeout=120_000)
    page.locator("h1 .badge.succeeded").wait_for()
    raw = farm.backend.get(f"/api/v1/builds/{build}/log")[2].decode()
    assert text() == raw
    # The last lines too: the builder sends them just before it reports the end.
    assert "kiln: uploaded kiln_ui_slow-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl\nkiln: built 1 wheel(s)" in text()
    assert not t.errors, t.errors
    # Opened afterwards, the finished build's log is fetched whole.
    page = t.goto(f"/builds/{build}")
    page.locator(".muted", has_text="complete").wait_for()
    wait_for(lambda: text() == raw, 10, "the whole log")


def set_token(t, token):
    page = t.goto("/admin")
    page.fill("#admin-token", token)
    page.get_by_role("button", name="Save").click()


def test_admin_actions_from_the_ui_change_the_farm(farm, tab):
    t = tab()
    # Without a token there are no admin buttons.
    page = t.goto(f"/projects/{DEMO}")
    page.locator("#install-line").wait_for()
    assert page.get_by_role("button", name=re.compile("Rebuild")).count() == 0
    # A token of the right shape that is not an admin token: the API's answer shows plainly.
    set_token(t, "kiln_" + "A" * 43)
    page = t.goto(f"/projects/{DEMO}")
    page.get_by_role("button", name=f"Rebuild {DEMO} 1.0").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "403" in alert.inner_text() and "token" in alert.inner_text().lower()
    page.screenshot(path=str(SHOTS / "admin-error-desktop-light.png"))
    jobs_before = job_rows(farm, "select count(*) from jobs")[0][0]
    # The real token. Pause the builder first so the rebuild stays queued to be cancelled.
    set_token(t, farm.admin)
    page = t.goto("/builders")
    page.get_by_role("button", name="Pause builder-ui").click()
    page.get_by_role("button", name="Resume builder-ui").wait_for()
    assert job_rows(farm, "select paused from builders where name = 'builder-ui'") == [(True,)]
    page.screenshot(path=str(SHOTS / "admin-builders-desktop-light.png"))
    page = t.goto(f"/projects/{DEMO}")
    page.get_by_role("button", name=f"Rebuild {DEMO} 1.0").click()
    note = page.get_by_role("status").filter(has_text="Rebuild queued")
    note.wait_for()
    new = job_rows(farm, "select j.id, j.state, j.priority, r.version from jobs j join releases r on r.id = j.release_id"
                         " where j.id > (select max(id) from jobs) - 5 order by j.id desc limit 1")[0]
    assert job_rows(farm, "select count(*) from jobs")[0][0] == jobs_before + 1
    assert new[1:] == ("queued", 10, "1.0")
    assert str(new[0]) in note.inner_text()
    page.locator("td.cell .badge.queued").wait_for()  # the grid shows it without a reload
    page.screenshot(path=str(SHOTS / "admin-project-desktop-light.png"), full_page=True)
    # The queue lists it; cancel it from there.
    page = t.goto(f"/queue?project={DEMO}")
    page.get_by_role("button", name=f"Cancel job {new[0]}").wait_for()
    page.screenshot(path=str(SHOTS / "admin-queue-desktop-light.png"))
    page.get_by_role("button", name=f"Cancel job {new[0]}").click()
    page.get_by_text("The queue is empty.").wait_for()
    assert job_rows(farm, "select state from jobs where id = %s", new[0]) == [("cancelled",)]
    page = t.goto("/builders")
    page.get_by_role("button", name="Resume builder-ui").click()
    page.get_by_role("button", name="Pause builder-ui").wait_for()
    assert job_rows(farm, "select paused from builders where name = 'builder-ui'") == [(False,)]
    # Forgetting the token hides the actions again.
    page = t.goto("/admin")
    page.get_by_role("button", name="Forget").click()
    page = t.goto("/builders")
    page.locator("td", has_text="builder-ui").first.wait_for()
    assert page.get_by_role("button", name=re.compile("Pause|Resume")).count() == 0
    # Only the deliberate 403 was logged.
    assert all("403" in e for e in t.errors), t.errors


def test_native_dependency_failure_and_packages_in_the_ui(farm, tab):
    """A build that failed for a missing header shows its class, what shipped the
    file and the command that fixes it; the builds page filters by class; the
    project page shows the apt line of its wheels and lets an admin add and
    remove the project's native packages."""
    with psycopg.connect(farm.db, autocommit=True) as c:
        # The builder gets nothing while this test requeues work.
        c.execute("update builders set paused = true where name = 'builder-ui'")
        rid = c.execute("insert into releases (project_id, version, version_normalized)"
                        " select id, '0.8', '0.8' from projects where normalized = %s returning id",
                        (DEMO,)).fetchone()[0]
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                  " values (%s, 'kiln-ui-demo-0.8.tar.gz', 'sdist', 'http://127.0.0.1:9/x.tar.gz', %s, 10)",
                  (rid, "b" * 64))
        job = c.execute("insert into jobs (release_id, target_id, state, attempts, finished_at,"
                        " failure_reason, failure_class) select %s, id, 'failed', 1, now(),"
                        " 'build failed with exit code 1', 'native-dependency' from targets"
                        " returning id", (rid,)).fetchone()[0]
        build = c.execute(
            "insert into builds (job_id, attempt, state, phase, exit_code, failure_reason, finished_at,"
            " duration_ms, failure_class, missing) values (%s, 1, 'failed', 'done', 1,"
            " 'build failed with exit code 1', now(), 4200, 'native-dependency', %s) returning id",
            (job, '[{"kind": "header", "name": "libpq-fe.h", "package": "libpq-dev"},'
                  ' {"kind": "program", "name": "pg_config", "package": "libpq-dev"}]')).fetchone()[0]
        c.execute("insert into build_log_chunks (build_id, seq, data) values (%s, 0,"
                  " convert_to('src/pq.c:1:10: fatal error: libpq-fe.h: No such file or directory', 'UTF8'))",
                  (build,))
        c.execute("update artifacts set policy = 'manylinux_2_36_x86_64', runtime_packages = '{libpq5}'"
                  " where job_id = %s", (farm.demo_job,))
    try:
        t = tab()
        page = t.goto(f"/builds/{build}")
        item = page.locator(".suggest li.missing").first
        item.wait_for()
        assert item.inner_text() == "missing libpq-fe.h (header), shipped by libpq-dev"
        assert page.locator("#fix-command").inner_text() == f"kilnctl project deps add {DEMO} libpq-dev"
        assert page.locator(".facts .badge.fclass").inner_text() == "native-dependency"
        page.screenshot(path=str(SHOTS / "build-native-failure-desktop-light.png"), full_page=True)
        # Had the automatic retry added the package, the page says so.
        with psycopg.connect(farm.db, autocommit=True) as c:
            c.execute("insert into project_native_packages (project_id, package, source, build_id)"
                      " select id, 'libpq-dev', 'auto', %s from projects where normalized = %s", (build, DEMO))
        page = t.goto(f"/builds/{build}")
        assert page.locator("#auto-added").inner_text() == \
            "Kiln added libpq-dev to the project's native packages and queued the job once more (attempt 2)."
        page.screenshot(path=str(SHOTS / "build-native-auto-added-desktop-light.png"))
        with psycopg.connect(farm.db, autocommit=True) as c:
            c.execute("delete from project_native_packages")
        dark = tab(viewport=PHONE, scheme="dark", is_mobile=True, has_touch=True)
        dpage = dark.goto(f"/builds/{build}")
        dpage.locator("#fix-command").wait_for()
        overflow = dpage.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the build page is {overflow}px wider than a phone"
        dpage.screenshot(path=str(SHOTS / "build-native-failure-phone-dark.png"), full_page=True)
        assert not dark.errors, dark.errors
        # The builds page, filtered by class.
        page = t.goto("/builds")
        page.select_option("#b-class", "native-dependency")
        page.wait_for_url(re.compile(r"class=native-dependency"))
        rows = page.locator("tbody tr")
        wait_for(lambda: rows.count() == 1, 10, "one native-dependency build")
        assert f"#{build}" in rows.first.inner_text() and "native-dependency" in rows.first.inner_text()
        page.screenshot(path=str(SHOTS / "builds-by-class-desktop-light.png"))
        # The project page: the wheels' apt line; an admin adds the package, which requeues 0.8.
        page = t.goto(f"/projects/{DEMO}")
        assert page.locator("#apt-line").inner_text() == "apt install libpq5"
        assert page.locator("td.cell .badge.fclass").inner_text() == "native-dependency"
        page.screenshot(path=str(SHOTS / "project-native-failure-desktop-light.png"), full_page=True)
        assert page.get_by_role("button", name="Add").count() == 0
        set_token(t, farm.admin)
        page = t.goto(f"/projects/{DEMO}")
        page.fill("#native-add", "libpq-dev")
        page.get_by_role("button", name="Add", exact=True).click()
        page.locator("#native-packages .badge.pkg", has_text="libpq-dev").wait_for()
        assert job_rows(farm, "select n.source, n.added_by from project_native_packages n"
                              " join projects p on p.id = n.project_id where p.normalized = %s", DEMO) == \
            [("admin", "ui-admin")]
        assert job_rows(farm, "select state from jobs where release_id = %s order by id", rid) == \
            [("failed",), ("queued",)]
        page.screenshot(path=str(SHOTS / "project-native-desktop-light.png"), full_page=True)
        # A name that is not a Debian package: the API's refusal shows.
        page.fill("#native-add", "libpq-dev;reboot")
        page.get_by_role("button", name="Add", exact=True).click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Debian package" in alert.inner_text()
        # Remove it again.
        page.get_by_role("button", name="Remove libpq-dev").click()
        page.get_by_text("None: the target's image has what the builds need.").wait_for()
        assert job_rows(farm, "select count(*) from project_native_packages")[0][0] == 0
        assert all("400" in e for e in t.errors), t.errors
    finally:
        with psycopg.connect(farm.db, autocommit=True) as c:
            c.execute("update jobs set state = 'cancelled', finished_at = now() where release_id = %s"
                      " and state = 'queued'", (rid,))
            c.execute("update builders set paused = false where name = 'builder-ui'")


def test_build_page_says_how_the_wheel_was_built(farm, tab):
    """The builder's report of how it built (issue 17): the image by id, the
    build-requirement count; no provenance link on a farm that signs nothing."""
    t = tab()
    page = t.goto(f"/builds/{farm.demo_build}")
    image_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", farm.image]).stdout.strip()
    assert page.locator("#built-image").inner_text() == f"Image {image_id[:19]}…"
    assert page.locator("#built-requirements").inner_text() == "0 build requirements"
    assert page.locator("a.provenance").count() == 0
    assert not t.errors, t.errors


def pages(farm):
    return {
        "home": ("/", "h1:text('Build farm')"),
        "search": ("/search?q=kiln", "ul.results a"),
        "project": (f"/projects/{DEMO}", "#install-line"),
        "build": (f"/builds/{farm.demo_build}", "#log:not(:empty)"),
        "builds": ("/builds", "table"),
        "builders": ("/builders", "table"),
        "queue": ("/queue", "h1:text('Queue')"),
        "admin": ("/admin", "#admin-token"),
        "404": ("/no/such/page", "h1:text('No such page')"),
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_renders_without_errors(farm, tab, size, scheme):
    t = tab(viewport=DESKTOP if size == "desktop" else PHONE, scheme=scheme,
            is_mobile=size == "phone", has_touch=size == "phone")
    for name, (path, ready) in pages(farm).items():
        page = t.goto(path)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        # Nothing wider than the screen but the tables and the log, which scroll inside.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {size} is {overflow}px wider than the screen"
        page.screenshot(path=str(SHOTS / f"{name}-{size}-{scheme}.png"), full_page=True)
        assert not t.errors, (name, t.errors)
    assert page.title().startswith("Not found")


def test_each_page_works_with_the_keyboard_alone(farm, tab):
    t = tab()
    for name, (path, ready) in pages(farm).items():
        page = t.goto(path)
        page.locator(ready).first.wait_for()
        # Tab to the first link of the page's own content (else the navigation's first
        # link to another page), check the focus shows, and follow it with Enter.
        want = ("(() => { const a = document.activeElement; if (!a || !a.matches('a[href]')) return null;"
                " const inMain = !!document.querySelector('main a[href]:not([download]):not([target])');"
                " const ok = inMain ? a.closest('main') && !a.hasAttribute('download') && !a.target"
                "   : a.closest('header nav') && a.getAttribute('aria-current') !== 'page';"
                " if (!ok || /^\\/(api|files|simple)\\//.test(new URL(a.href).pathname)) return null;"
                " const s = getComputedStyle(a); return [a.href, s.outlineStyle, s.outlineWidth]; })()")
        got = None
        for _ in range(80):
            page.keyboard.press("Tab")
            got = page.evaluate(want)
            if got:
                break
        assert got, f"no link reachable with Tab on {name}"
        href, outline, width = got
        assert outline != "none" and width != "0px", f"focus is invisible on {name}: {outline} {width}"
        page.keyboard.press("Enter")
        page.wait_for_url(href)
        page.wait_for_load_state("networkidle")
        assert "No such page" not in page.inner_text("main") or href.endswith("/"), (name, href)
    assert not t.errors, t.errors


def test_back_forward_and_unknown_pages(farm, tab):
    t = tab()
    page = t.goto("/")
    page.locator("h1", has_text="Build farm").wait_for()
    page.get_by_role("link", name="Queue", exact=True).click()
    page.locator("h1", has_text="Queue").wait_for()
    page.get_by_role("link", name="Builders", exact=True).click()
    page.locator("h1", has_text="Builders").wait_for()
    page.go_back()
    page.locator("h1", has_text="Queue").wait_for()
    assert page.url.endswith("/queue")
    page.go_back()
    page.locator("h1", has_text="Build farm").wait_for()
    page.go_forward()
    page.locator("h1", has_text="Queue").wait_for()
    # Deep links load their page directly; unknown ones show the 404 view.
    page = t.goto(f"/projects/{DEMO}")
    page.locator("h1", has_text=DEMO).wait_for()
    page = t.goto("/projects/kiln-ui-demo/extra")
    page.locator("h1", has_text="No such page").wait_for()
    page = t.goto("/builds/not-a-number")
    page.locator("h1", has_text="No such page").wait_for()
    assert not t.errors, t.errors
    # A project that does not exist says so plainly (the API's 404 is the one error logged).
    page = t.goto("/projects/no-such-project")
    assert "no project" in page.get_by_role("alert").inner_text().lower()
