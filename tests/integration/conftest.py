"""Fixtures for Kiln's integration tests.

They start real services through the project's own scripts (the private
Postgres cluster of `just db`, SeaweedFS of `just s3`) and drive the real release
binaries in build/release. Each test module gets a database of its own, created
fresh in the private cluster and dropped afterwards.
"""
import os
import re
import secrets
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest

from ports import free_port  # noqa: F401  (tests import it from here)

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("KILN_TEST_BUILD", ROOT / "build" / "release"))
KILNCTL = BUILD / "kilnctl" / "kilnctl"


def run(cmd, env=None, check=True, timeout=600, **kw):
    """Run a command, capture its output as text, and fail with both streams shown."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([str(c) for c in cmd], env=full_env, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def image_wheel(image, prefix):
    """(filename, bytes) of the wheel in the image's /opt/kiln/wheels whose name
    starts with prefix ("setuptools-"): the image's own, for a test's index to
    serve as the real one."""
    listing = run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "ls", image,
                   "/opt/kiln/wheels"]).stdout.split()
    name = next(n for n in listing if n.startswith(prefix) and n.endswith(".whl"))
    data = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "cat", image,
                           f"/opt/kiln/wheels/{name}"], capture_output=True, check=True).stdout
    return name, data


@pytest.fixture(scope="session")
def pg_url():
    """URL of the `kiln` database in the private cluster (started if needed)."""
    run([ROOT / "scripts" / "db.sh", "start"])
    return run([ROOT / "scripts" / "db.sh", "url"]).stdout.strip()


def _db_url(base: str, name: str) -> str:
    """The same server and role as base, database name replaced."""
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def database(pg_url, request):
    """A fresh, empty database for this test module; yields its URL."""
    mod = request.module.__name__.rsplit(".", 1)[-1].lower()
    name = "kt_" + re.sub(r"[^a-z0-9]+", "_", mod)[:40] + "_" + secrets.token_hex(3)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    url = _db_url(pg_url, name)
    yield url
    drop_database(pg_url, name)


def drop_database(pg_url, name):
    """Drop a test database. FORCE cannot end an autovacuum worker that happens to
    be in it (that needs pg_signal_backend, which the test role lacks): retry."""
    import time
    for attempt in range(20):
        try:
            with psycopg.connect(pg_url, autocommit=True) as c:
                c.execute(f'drop database if exists "{name}" with (force)')
            return
        except psycopg.errors.InsufficientPrivilege:
            time.sleep(0.5)
    raise AssertionError(f"could not drop test database {name}")


@pytest.fixture(scope="module")
def migrated(database):
    """A fresh database with Kiln's schema applied by `kilnctl migrate`."""
    run([KILNCTL, "migrate"], env={"KILN_DATABASE_URL": database})
    return database


@pytest.fixture(scope="session")
def s3():
    """SeaweedFS's S3 gateway, started by `scripts/s3.sh start` if it is not running
    (and left running, like the database). Yields the KILN_S3_* variables that
    `scripts/s3.sh env` prints, as a dict to pass as env=."""
    script = ROOT / "scripts" / "s3.sh"
    run([script, "start"], timeout=300)
    env = {}
    for line in run([script, "env"]).stdout.splitlines():
        m = re.fullmatch(r"export (KILN_S3_[A-Z0-9_]+)=(.*)", line.strip())
        if m:
            words = shlex.split(m[2])
            env[m[1]] = words[0] if words else ""
    assert "KILN_S3_ENDPOINT" in env and "KILN_S3_BUCKET" in env, env
    yield env


def unique_prefix(label: str) -> str:
    """A storage key prefix that no other test, and no earlier run, uses:
    `it/<label>-<random>/` with label reduced to key-safe characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:60] or "t"
    return f"it/{safe}-{secrets.token_hex(4)}/"


@pytest.fixture
def kilnctl():
    """Call kilnctl against a database: kilnctl(url, 'builder', 'list', check=False)."""
    def call(url, *args, check=True):
        return run([KILNCTL, *args], env={"KILN_DATABASE_URL": url}, check=check)
    return call


BACKEND = BUILD / "backend" / "kiln-backend"
# A command to run the backend under, e.g. valgrind (`just valgrind`); its
# findings fail the test at stop, as sanitizer reports do.
WRAP = shlex.split(os.environ.get("KILN_TEST_WRAP", ""))
WRAP_ERROR_EXIT = 99  # the wrapper's exit code for "found errors" (valgrind --error-exitcode)


class Backend:
    """A running kiln-backend: its base URL, HTTP helpers, and its log."""

    def __init__(self, proc, url, log_path, env):
        self.proc, self.url, self.log_path, self.env = proc, url, log_path, env

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers as a dict with lowercase names, body bytes); never follows redirects."""
        import http.client
        import ssl
        host, port = self.url.split("//", 1)[1].split(":")
        if self.url.startswith("https:"):
            c = http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                            context=ssl._create_unverified_context())
        else:
            c = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=30):
        """SIGTERM and wait; fails the test if a sanitizer reported anything."""
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"kiln-backend did not stop on SIGTERM\n{self.log()}")
        log = self.log()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in log, f"sanitizer report in kiln-backend's log:\n{log}"
        if WRAP:
            assert self.proc.returncode != WRAP_ERROR_EXIT, \
                f"{WRAP[0]} found errors in kiln-backend:\n{log}"
        return self.proc.returncode


@pytest.fixture(scope="module")
def backend_factory(tmp_path_factory):
    """start(database_url, storage="fs"|"s3", env={...}) -> Backend, stopped at module end.

    Each backend gets its own data dir, fs storage dir and loopback port; for
    storage="s3" pass the s3 fixture's variables (and a bucket) in env.
    """
    import time
    import urllib.request
    started = []

    def start(database_url, storage="fs", env=None):
        home = tmp_path_factory.mktemp("backend")
        port = free_port()
        full = {
            "KILN_DATABASE_URL": database_url,
            "KILN_HTTP_LISTEN": f"127.0.0.1:{port}",
            "KILN_FRONTEND_DIR": str(ROOT / "frontend"),
            "KILN_DATA_DIR": str(home),
            "KILN_STORAGE": storage,
            "KILN_STORAGE_DIR": str(home / "artifacts"),
            "KILN_LOG": "info",
            # No sampled reproducibility checks unless a test asks (test_repro_farm):
            # a check is a job of its own that other tests' queue counts would see.
            "KILN_REPRO": "off",
        }
        full.update(env or {})
        # A caller may pin the address (a restart on the same port).
        port = int(full["KILN_HTTP_LISTEN"].rsplit(":", 1)[1])
        log_path = home / "backend.log"
        proc = subprocess.Popen([*WRAP, str(BACKEND)], env={**os.environ, **full},
                                stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
        scheme = "https" if full.get("KILN_TLS_CERT") else "http"
        b = Backend(proc, f"{scheme}://127.0.0.1:{port}", log_path, full)
        started.append(b)
        deadline = time.time() + (120 if WRAP else 30)
        while True:
            try:
                import ssl
                with urllib.request.urlopen(b.url + "/readyz", timeout=2,
                                            context=ssl._create_unverified_context()) as r:
                    if r.status == 200:
                        return b
            except Exception:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"kiln-backend did not become ready\n{b.log()}")
            time.sleep(0.1)

    yield start
    for b in started:
        b.stop()
