"""`just up` / `just down` / `just logs`: scripts/up.sh runs the whole farm.

The farm runs in a data dir of its own (KILN_DATA_DIR under /tmp) on free ports
of its own, with pip's index pointed at a closed port so that up.sh falls back to
its local upstream of fixture sdists (tests/integration/sdists.py). The tests
run in order against that one farm: the first `up` builds a wheel in Docker,
which pip installs from Kiln in a fresh venv and imports; `up` again changes
nothing; `down` stops everything and a later `up` still serves the same wheel
without building it again. Timing goals are not checked here.
"""
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from conftest import BUILD, ROOT, free_port, run
from ports import pick_s3_port

UP = ROOT / "scripts" / "up.sh"

PG_PORT, HTTP_PORT, S3_PORT = free_port(), free_port(), pick_s3_port()
INDEX = f"http://127.0.0.1:{HTTP_PORT}/simple/"
DB_URL = f"postgresql://kiln@127.0.0.1:{PG_PORT}/kiln"


@pytest.fixture(scope="module")
def farm():
    """The environment of an isolated farm; `down` and removal at the end."""
    # Short: Postgres' unix socket path must fit in 107 bytes.
    data = Path(tempfile.mkdtemp(prefix="kiln-up-", dir="/tmp"))
    # SeaweedFS' binary from this checkout's S3, if there is one, saves a download.
    weed = ROOT / ".kiln" / "venv-s3" / "bin" / "weed"
    if weed.exists():
        (data / "seaweedfs" / "bin").mkdir(parents=True)
        (data / "seaweedfs" / "bin" / "weed").symlink_to(weed)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KILN_", "PIP_", "UV_"))}
    env.update({
        "KILN_BUILD_DIR": str(BUILD),  # the binaries under test (KILN_TEST_BUILD)
        "KILN_DATA_DIR": str(data),
        "KILN_PG_PORT": str(PG_PORT),
        "KILN_S3_PORT": str(S3_PORT),
        "KILN_HTTP_LISTEN": f"127.0.0.1:{HTTP_PORT}",
        "KILN_UP_WAIT": "300",
        "KILN_UP_TARGETS": "default",  # no background image builds (test_images.py has its own)
        # Nothing listens on port 1: up.sh must say so and serve a local upstream.
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple/",
    })
    yield env, data
    subprocess.run([str(UP), "down"], env=env, capture_output=True, timeout=180)
    shutil.rmtree(data, ignore_errors=True)


def up(env, cmd="up", check=True):
    p = subprocess.run([str(UP), cmd], env=env, capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"up.sh {cmd} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout + p.stderr


def q(sql):
    with psycopg.connect(DB_URL) as c:
        return c.execute(sql).fetchall()


def pids(data):
    return {f.stem: f.read_text().strip() for f in (data / "run").glob("*.pid")}


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def pip_install(tmp_path, name):
    """Install name from Kiln into a fresh venv; pip's output."""
    v = tmp_path / "venv"
    run([sys.executable, "-m", "venv", v])
    p = run([v / "bin" / "python", "-m", "pip", "install", "--no-cache-dir",
             "--disable-pip-version-check", "--index-url", INDEX, name],
            env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_INDEX_URL": INDEX})
    return v, p.stdout + p.stderr


def test_up_builds_a_wheel_that_pip_installs(farm, tmp_path):
    env, data = farm
    out = up(env)
    assert "does not answer; serving a local one" in out
    assert "first wheel published" in out
    assert f"pip install --index-url {INDEX} kiln-local-demo" in out
    assert "just down" in out and str(data / "logs") in out
    # The wheel came out of a build job on the farm's own builder.
    builder = (data / "tokens" / "builder").read_text().split()[0]
    assert builder.startswith("local-")  # a name of this farm's own
    rows = q("select a.filename, j.state, b.name from artifacts a join jobs j on j.id = a.job_id"
             " join builders b on b.id = j.builder_id where a.published_at is not null")
    assert rows == [("kiln_local_demo-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl", "succeeded", builder)]

    v, log = pip_install(tmp_path, "kiln-local-demo")
    # Kiln's wheel, downloaded from Kiln, not the sdist built by pip.
    assert f"127.0.0.1:{HTTP_PORT}/files/kiln-local-demo/kiln_local_demo-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl" in log
    assert ".tar.gz" not in log and "Building wheel" not in log
    assert "Successfully installed kiln-local-demo-1.0" in log
    r = run([v / "bin" / "python", "-c", "import kiln_local_demo as m; print(m.add(2, 3), m.__file__)"])
    value, path = r.stdout.split()
    assert value == "5" and path.endswith(".cpython-311-x86_64-linux-gnu.so")


def test_tokens_are_kept_private(farm):
    env, data = farm
    for name in ("builder", "admin"):
        f = data / "tokens" / name
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert "kiln_" in f.read_text()
    assert stat.S_IMODE((data / "tokens").stat().st_mode) == 0o700


def test_logs_follows_the_logs(farm):
    env, data = farm
    p = subprocess.Popen([str(UP), "logs"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 15)
        out, _ = p.communicate()
    assert "backend.log" in out and "builder.log" in out
    assert "prog=kiln-builder" in out and "prog=kiln-sync" in out


def test_up_again_is_harmless(farm):
    env, data = farm
    before = pids(data)
    counts = q("select (select count(*) from builders), (select count(*) from api_tokens),"
               " (select count(*) from jobs), (select count(*) from artifacts)")
    tokens = (data / "tokens" / "builder").read_text()
    out = up(env)
    for name in ("backend", "sync", "builder", "upstream"):
        assert f"{name} already running" in out
    assert pids(data) == before
    assert (data / "tokens" / "builder").read_text() == tokens
    assert q("select (select count(*) from builders), (select count(*) from api_tokens),"
             " (select count(*) from jobs), (select count(*) from artifacts)") == counts


def test_data_survives_down_and_up(farm, tmp_path):
    env, data = farm
    jobs = q("select id, state from jobs order by id")
    out = up(env, "down")
    assert "stopping builder" in out and "stopping backend" in out
    assert not listening(HTTP_PORT) and not listening(PG_PORT) and not listening(S3_PORT)
    assert not list((data / "run").glob("*.pid"))
    status = up(env, "status", check=False)
    assert "backend: stopped" in status and "builder: stopped" in status

    out = up(env)
    assert "registered builder" not in out and "created admin token" not in out
    assert "already published" in out
    assert q("select id, state from jobs order by id") == jobs  # nothing built twice
    v, log = pip_install(tmp_path, "kiln-local-demo")
    assert "Successfully installed kiln-local-demo-1.0" in log
    run([v / "bin" / "python", "-c", "import kiln_local_demo as m; assert m.add(40, 2) == 42"])


def test_upstream_choice(farm, tmp_path):
    """KILN_UPSTREAM_URL wins; then pip's index (PIP_INDEX_URL, then pip.conf)
    when it answers; else the local upstream."""
    env, data = farm
    served = f"http://127.0.0.1:{HTTP_PORT}/simple/"  # the farm's own index answers
    assert up({**env, "KILN_UPSTREAM_URL": "http://example.invalid/simple/"}, "upstream").startswith(
        "http://example.invalid/simple/ (KILN_UPSTREAM_URL)")
    assert up({**env, "PIP_INDEX_URL": served}, "upstream").startswith(f"{served} (the index pip uses (PIP_INDEX_URL)")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {served}\n")
    no_pip_env = {k: v for k, v in env.items() if k != "PIP_INDEX_URL"}
    assert up({**no_pip_env, "PIP_CONFIG_FILE": str(conf)}, "upstream").startswith(
        f"{served} (the index pip uses (pip.conf)")
    assert up(env, "upstream").startswith("local (")


def test_feed_choice():
    """KILN_SYNC_FEED_URL wins (empty: none); else the upstream's
    /rss/updates.xml beside its /simple/ when that is an RSS feed; else none."""
    from fakeindex import Upstream
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PIP_", "UV_"))}
    upstream = Upstream()
    try:
        out = up({**env, "KILN_UPSTREAM_URL": upstream.url + "/simple/"}, "upstream")
        assert f"feed: {upstream.url}/rss/updates.xml (the upstream offers one)" in out
        out = up({**env, "KILN_UPSTREAM_URL": upstream.url + "/simple/", "KILN_SYNC_FEED_URL": ""},
                 "upstream")
        assert "feed: none (KILN_SYNC_FEED_URL)" in out
    finally:
        upstream.close()
    # Nothing listens on port 1.
    out = up({**env, "KILN_UPSTREAM_URL": "http://127.0.0.1:1/simple/"}, "upstream")
    assert "feed: none (http://127.0.0.1:1/rss/updates.xml is not an RSS feed)" in out
    out = up({**env, "KILN_UPSTREAM_URL": "http://127.0.0.1:1/pypi/"}, "upstream")
    assert "feed: none (the upstream URL does not end in /simple/)" in out
