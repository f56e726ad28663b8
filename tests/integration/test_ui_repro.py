"""Reproducibility checks in the web UI: the build page's "Reproducibility"
section (reproducible, differs with the members, check failed, check queued,
and an admin's button that queues one), the banner atop a check's own build
page, the project grid's marks, the builds list's and the queue's check badges.

The database is seeded as in test_repro_api.py (each check ended by an UPDATE
of its job's state, so the real trigger decides its result), read by a real
backend and shown in Debian's chromium. Screenshots go to tests/artifacts/ui/
(repro-*.png).
"""
import re

import pytest

from conftest import ROOT
from test_repro_api import DIFFERS, PROJECT, X311, X313, seed  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "artifacts" / "ui"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def data(migrated):
    return seed(migrated)


@pytest.fixture(scope="module")
def backend(migrated, data, backend_factory):
    return backend_factory(migrated)


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

    def open_(path, viewport=DESKTOP, scheme="light", token=None):
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
        contexts.append(ctx)
        if token:
            ctx.add_init_script(f"localStorage.setItem('kiln.adminToken', {token!r})")
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


def test_a_reproducible_build(page, data):
    pg = page(f"/builds/{data.b1}")
    assert pg.locator("#repro-result").inner_text() == (
        f"reproducible — rebuilt byte for byte by builder box-b (check build #{data.cb1})")
    assert pg.locator("#repro-result a").get_attribute("href") == f"/builds/{data.cb1}"
    assert pg.locator("#check-banner").count() == 0
    pg.screenshot(path=str(SHOTS / "repro-build-reproducible-desktop-light.png"), full_page=True)
    assert not pg.errors


def test_a_build_that_differs_names_the_members(page, data):
    pg = page(f"/builds/{data.b2}")
    assert pg.locator("#repro-result").inner_text() == (
        f"differs — rebuilt by builder box-b (check build #{data.cb2}), other bytes:")
    (line,) = pg.locator(".repro-wheels li").all_inner_texts()
    assert line == (f"wheel {data.w2}: members repro_demo/_speedups.cpython-313-x86_64-linux-gnu.so,"
                    " repro_demo-1.0.dist-info/RECORD (content), repro_demo/__init__.py (metadata: date),"
                    " repro_demo/_version.py (metadata: date, mode)")
    pg.screenshot(path=str(SHOTS / "repro-build-differs-desktop-light.png"), full_page=True)
    dark = page(f"/builds/{data.b2}", scheme="dark")
    dark.screenshot(path=str(SHOTS / "repro-build-differs-desktop-dark.png"), full_page=True)
    phone = page(f"/builds/{data.b2}", viewport=PHONE)
    phone.screenshot(path=str(SHOTS / "repro-build-differs-phone-light.png"), full_page=True)
    assert not pg.errors + dark.errors + phone.errors


def test_a_failed_check_and_a_check_build(page, data):
    pg = page(f"/builds/{data.b3}")
    assert pg.locator("#repro-result").inner_text() == (
        f"check failed — the check's build failed (check build #{data.cb3})")
    chk = page(f"/builds/{data.cb1}")
    assert chk.locator("#check-banner").inner_text() == (
        f"This is a reproducibility check of build #{data.b1}; its wheels are compared, not published.")
    assert chk.locator("#check-banner a").get_attribute("href") == f"/builds/{data.b1}"
    assert chk.locator("section.repro").count() == 0
    chk.screenshot(path=str(SHOTS / "repro-check-build-desktop-light.png"), full_page=True)
    assert not pg.errors + chk.errors


def test_an_admin_queues_a_check_and_it_shows_queued(page, data):
    anon = page(f"/builds/{data.b4}")
    assert anon.locator("#repro-result").inner_text().startswith("Not checked")
    assert anon.locator("#repro-check").count() == 0
    pg = page(f"/builds/{data.b4}", token=data.admin)
    pg.locator("#repro-check").click()
    pg.locator("#repro-pending").wait_for()
    assert pg.locator("#repro-pending").inner_text() == "check queued"
    assert pg.locator("#repro-check").count() == 0
    pg.screenshot(path=str(SHOTS / "repro-build-queued-desktop-light.png"), full_page=True)
    q = page("/queue")
    row = q.locator("tbody tr", has=q.locator(".badge.check"))
    assert row.count() == 1 and "queued" in row.inner_text()
    assert not anon.errors + pg.errors + q.errors


def test_project_grid_marks_each_cell(page, data):
    pg = page(f"/projects/{PROJECT}")
    marks = pg.locator(".grid .repro-mark")
    assert marks.count() == 3
    got = {(m.inner_text(), m.get_attribute("class"), m.get_attribute("href")) for m in marks.all()}
    assert got == {("✓", "repro-mark reproducible", f"/builds/{data.b1}"),
                   ("≠", "repro-mark differs", f"/builds/{data.b2}"),
                   ("✗", "repro-mark failed", f"/builds/{data.b3}")}
    assert pg.locator(".grid .repro-mark.reproducible").get_attribute("title").startswith("reproducible:")
    assert pg.locator(".grid .repro-mark.differs").get_attribute("title").startswith("not reproducible:")
    # A check is never the cell's build: the cells link the builds.
    row = pg.locator(".grid tbody tr", has=pg.locator("td:first-child", has_text=re.compile(r"^1\.0$")))
    assert [t.strip() for t in row.locator("td.cell").all_inner_texts()] == ["built✓", "built≠"]
    pg.screenshot(path=str(SHOTS / "repro-project-desktop-light.png"), full_page=True)
    dark = page(f"/projects/{PROJECT}", scheme="dark")
    dark.screenshot(path=str(SHOTS / "repro-project-desktop-dark.png"), full_page=True)
    assert not pg.errors + dark.errors


def test_builds_list_marks_checks(page, data):
    pg = page("/builds")
    checks = pg.locator("tbody tr", has=pg.locator(".badge.check"))
    assert checks.count() == 3
    ids = sorted(int(re.match(r"#(\d+)", t).group(1)) for t in checks.locator("td:first-child").all_inner_texts())
    assert ids == sorted([data.cb1, data.cb2, data.cb3])
    pg.screenshot(path=str(SHOTS / "repro-builds-desktop-light.png"), full_page=True)
    assert not pg.errors
