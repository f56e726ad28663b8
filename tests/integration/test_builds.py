"""Builds end to end: backend, two real builders, real Docker, real sdists.

Sdists with C extensions are generated here and served on loopback as the
upstream's files would be; jobs are queued for them; the builders fetch them,
build them in the sandboxed image, upload the wheels; then pip installs the
wheel from Kiln's index, imports it and calls it. Then the unpleasant cases: a
builder killed with -9 mid-build, and the backend restarted mid-build.
"""
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from conftest import BUILD, KILNCTL, ROOT, run
from sdists import FileServer, make_sdist, wait_for

BUILDER = BUILD / "builder" / "kiln-builder"
TARGET = "bookworm-py311-x86_64"
# Short leases so a vanished builder is noticed fast; a short build timeout for the
# build that never ends (the slow test builds sleep 12 s at most).
FARM_ENV = {"KILN_LEASE_SECONDS": "6", "KILN_JOB_TIMEOUT": "45", "KILN_JOB_MEMORY_MIB": "512"}


@pytest.fixture(scope="module")
def image():
    run([ROOT / "scripts" / "image.sh", "build"], timeout=1800)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


@pytest.fixture(scope="module")
def files():
    f = FileServer()
    yield f
    f.close()


class Farm:
    def __init__(self, db, backend, image, tmp, factory, s3):
        self.db, self.backend, self.image, self.tmp = db, backend, image, tmp
        self.factory, self.s3 = factory, s3
        self.builders = {}

    def env(self):
        return {"KILN_DATABASE_URL": self.db}

    def start_builder(self, name, token=None, extra_env=None):
        if token is None:
            out = run([KILNCTL, "builder", "add", name], env=self.env()).stdout
            token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
        home = self.tmp / f"builder-{name}"
        home.mkdir(exist_ok=True)
        log = open(home / "builder.log", "a")
        env = {**os.environ, "KILN_BACKEND_URL": self.backend.url.replace("http", "ws"),
               "KILN_BUILDER_TOKEN": token, "KILN_BUILDER_NAME": name, "KILN_BUILDER_SLOTS": "1",
               "KILN_BUILDER_TARGETS": TARGET, "KILN_DATA_DIR": str(home), "KILN_LOG": "debug",
               **(extra_env or {})}
        proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL, stderr=log)
        self.builders[name] = (proc, token, home)
        return proc

    def builder_log(self, name):
        return (self.builders[name][2] / "builder.log").read_text(errors="replace")

    def stop_all(self):
        for proc, _, _ in self.builders.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _, _ in self.builders.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def queue(self, name, version, url, sha, filename, target=TARGET):
        with psycopg.connect(self.db, autocommit=True) as c:
            c.execute("insert into projects (name, normalized) values (%s, %s) on conflict (normalized) do nothing",
                      (name, name))
            r = c.execute("insert into releases (project_id, version, version_normalized) "
                          "select id, %s, %s from projects where normalized = %s returning id",
                          (version, version, name)).fetchone()[0]
            c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size) "
                      "values (%s, %s, 'sdist', %s, %s, 1)", (r, filename, url, sha))
            return c.execute("insert into jobs (release_id, target_id) select %s, id from targets "
                             "where name = %s returning id", (r, target)).fetchone()[0]

    def job(self, job_id):
        with psycopg.connect(self.db) as c:
            return c.execute("select state, attempts, failure_reason, builder_id from jobs where id = %s",
                             (job_id,)).fetchone()

    def wait_done(self, job_id, timeout=300):
        return wait_for(lambda: self.job(job_id)[0] in ("succeeded", "failed", "cancelled") and self.job(job_id),
                        timeout, f"job {job_id} to finish")


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, s3, tmp_path_factory):
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    backend = backend_factory(migrated, storage="s3", env={**s3, **FARM_ENV})
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("farm"), backend_factory, s3)
    # Names of this run's own: the leftover checks below go by the builder's
    # Docker label, and other farms may share the daemon.
    run_id = secrets.token_hex(3)
    f.start_builder(f"builder-a-{run_id}")
    f.start_builder(f"builder-b-{run_id}")
    yield f
    f.stop_all()
    for name in f.builders:
        leftover = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=org.kiln.builder={name}"],
                                  capture_output=True, text=True).stdout.split()
        assert not leftover, f"containers of {name} left behind: {leftover}"


def test_c_extension_builds_and_installs_from_kiln(farm, files, tmp_path):
    fn, data = make_sdist("kdemo-ext", "1.0")
    url, sha = files.add(fn, data)
    job = farm.queue("kdemo-ext", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job)
    assert state == "succeeded", reason
    # The wheel is on the index; pip installs Kiln's wheel (not an sdist) and it runs.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    out = run([venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--only-binary", ":all:",
               "--index-url", farm.backend.url + "/simple/", "kdemo-ext==1.0"],
              env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}).stdout
    # auditwheel repair in the sandbox tagged it manylinux; pip takes it on this host.
    assert "kdemo_ext-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl" in out
    got = run([venv / "bin" / "python", "-c", "import kdemo_ext; print(kdemo_ext.add(2, 40))"]).stdout
    assert got.strip() == "42"
    # The build's log was kept and says what ran.
    with psycopg.connect(farm.db) as c:
        build = c.execute("select id from builds where job_id = %s and state = 'succeeded'", (job,)).fetchone()[0]
    log = wait_for(lambda: (lambda r: r[0] == 200 and r[2])(farm.backend.get(f"/api/v1/builds/{build}/log")),
                   20, "the build log")
    assert b"kdemo_ext" in log and b"uploaded kdemo_ext-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl" in log


def test_two_builders_share_the_queue(farm, files):
    jobs = []
    for v in ("2.0", "2.1", "2.2"):
        fn, data = make_sdist("kshare", v)
        url, sha = files.add(fn, data)
        jobs.append(farm.queue("kshare", v, url, sha, fn))
    results = [farm.wait_done(j) for j in jobs]
    assert all(r[0] == "succeeded" for r in results), results
    with psycopg.connect(farm.db) as c:
        builders = {r[0] for r in c.execute("select distinct builder_id from builds where job_id = any(%s)", (jobs,))}
        arts = c.execute("select count(*) from artifacts where job_id = any(%s) and published_at is not null",
                         (jobs,)).fetchone()[0]
    assert len(builders) == 2, "both builders should have taken jobs"
    assert arts == 3


def start_slow_build(farm, files, name, seconds):
    """Queue an sdist whose build sleeps for seconds; wait until it runs.
    Returns (job id, name of the builder running it)."""
    fn, data = make_sdist(name, "1.0", setup_extra=f"import time; time.sleep({seconds})")
    url, sha = files.add(fn, data)
    job = farm.queue(name, "1.0", url, sha, fn)
    wait_for(lambda: farm.job(job)[0] == "running", 120, f"the build of {name} to start")
    with psycopg.connect(farm.db) as c:
        builder = c.execute("select b.name from jobs j join builders b on b.id = j.builder_id"
                            " where j.id = %s", (job,)).fetchone()[0]
    return job, builder


def test_builder_killed_mid_build_is_replaced(farm, files):
    job, victim = start_slow_build(farm, files, "kslow", 12)
    proc, token, _ = farm.builders[victim]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state, attempts, reason, _ = farm.wait_done(job, timeout=300)
    assert state == "succeeded" and attempts == 2, (state, attempts, reason)
    with psycopg.connect(farm.db) as c:
        builds = c.execute("select attempt, state, failure_reason from builds where job_id = %s order by attempt",
                           (job,)).fetchall()
        arts = c.execute("select count(*) from artifacts where job_id = %s", (job,)).fetchone()[0]
    assert [b[1] for b in builds] == ["lost", "succeeded"], builds
    assert victim in builds[0][2]
    assert arts == 1
    lost_log = farm.backend.get(f"/api/v1/builds/{farm_build_id(farm, job, 1)}/log")[2]
    assert b"stopped responding" in lost_log
    # The killed builder's container is cleaned up when it comes back.
    farm.start_builder(victim, token=token)
    wait_for(lambda: not subprocess.run(["docker", "ps", "-aq", "--filter", f"label=org.kiln.builder={victim}"],
                                        capture_output=True, text=True).stdout.strip(),
             60, "the orphaned container to be removed")


def farm_build_id(farm, job, attempt):
    with psycopg.connect(farm.db) as c:
        return c.execute("select id from builds where job_id = %s and attempt = %s", (job, attempt)).fetchone()[0]


def test_backend_restart_mid_build(farm, files):
    fn, data = make_sdist("krestart", "1.0", setup_extra="import time; time.sleep(8)")
    url, sha = files.add(fn, data)
    job = farm.queue("krestart", "1.0", url, sha, fn)
    wait_for(lambda: farm.job(job)[0] == "running", 120, "the build to start")
    old = farm.backend
    old.stop()
    time.sleep(2)
    # Same port, same database: the builders reconnect with backoff and report.
    new = farm.factory(farm.db, storage="s3", env={**farm.s3, **FARM_ENV,
                                                     "KILN_HTTP_LISTEN": old.env["KILN_HTTP_LISTEN"]})
    farm.backend = new
    state, attempts, reason, _ = farm.wait_done(job, timeout=300)
    assert state == "succeeded" and attempts == 1, (state, attempts, reason)


def test_timeout_is_enforced_with_a_clear_reason(farm, files):
    fn, data = make_sdist("kforever", "1.0", setup_extra="import time; time.sleep(100000)")
    url, sha = files.add(fn, data)
    job = farm.queue("kforever", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=180)
    assert state == "failed" and "timed out" in reason, (state, reason)
    with psycopg.connect(farm.db) as c:
        b = c.execute("select state, failure_reason from builds where job_id = %s", (job,)).fetchone()
    assert b[0] == "failed" and "timed out" in b[1]


def build_log(farm, job):
    with psycopg.connect(farm.db) as c:
        build = c.execute("select id from builds where job_id = %s order by attempt desc limit 1", (job,)).fetchone()[0]
    return wait_for(lambda: (lambda r: r[0] == 200 and r[2])(farm.backend.get(f"/api/v1/builds/{build}/log")),
                    30, "the build log").decode(errors="replace")


def test_a_build_that_tries_the_network_fails(farm, files):
    probe = ("import urllib.request\n"
             "try:\n"
             "    urllib.request.urlopen('http://kiln-network-probe.invalid/', timeout=5)\n"
             "except Exception as e:\n"
             "    raise SystemExit('network unavailable in the sandbox: %r' % (e,))\n")
    fn, data = make_sdist("knet", "1.0", setup_extra=probe)
    url, sha = files.add(fn, data)
    job = farm.queue("knet", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=180)
    assert state == "failed" and "exit code" in reason, (state, reason)
    assert "network unavailable in the sandbox" in build_log(farm, job)


def test_a_build_that_eats_memory_is_killed(farm, files):
    hog = "hog = [b'x' * (64 << 20) for _ in range(64)]\n"
    fn, data = make_sdist("khog", "1.0", setup_extra=hog)
    url, sha = files.add(fn, data)
    job = farm.queue("khog", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=180)
    assert state == "failed" and "out of memory" in reason, (state, reason)
    assert "512 MiB" in reason


def test_builder_over_wss_with_a_ca_file(farm, files, tmp_path):
    """A builder across a network: TLS to the backend, verified against a CA file."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    run([KILNCTL, "target", "add", "tls-target", "--image", farm.image], env=farm.env())
    tls = farm.factory(farm.db, storage="s3", env={**farm.s3, **FARM_ENV, "KILN_TLS_CERT": str(cert),
                                                     "KILN_TLS_KEY": str(key)})
    out = run([KILNCTL, "builder", "add", "b-tls"], env=farm.env()).stdout
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
    home = tmp_path / "b-tls"
    home.mkdir()
    env = {**os.environ, "KILN_BACKEND_URL": tls.url.replace("https://", "wss://"), "KILN_BUILDER_TOKEN": token,
           "KILN_BUILDER_NAME": "b-tls", "KILN_BUILDER_TARGETS": "tls-target", "KILN_CA_FILE": str(cert),
           "KILN_DATA_DIR": str(home)}
    proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(home / "builder.log", "w"))
    try:
        fn, data = make_sdist("ktls", "1.0")
        url, sha = files.add(fn, data)
        with psycopg.connect(farm.db, autocommit=True) as c:
            c.execute("insert into projects (name, normalized) values ('ktls', 'ktls')")
            r = c.execute("insert into releases (project_id, version, version_normalized) "
                          "select id, '1.0', '1.0' from projects where normalized = 'ktls' returning id").fetchone()[0]
            c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size) "
                      "values (%s, %s, 'sdist', %s, %s, 1)", (r, fn, url, sha))
            job = c.execute("insert into jobs (release_id, target_id) select %s, id from targets "
                            "where name = 'tls-target' returning id", (r,)).fetchone()[0]
        state, attempts, reason, _ = farm.wait_done(job, timeout=180)
        assert state == "succeeded", (reason, (home / "builder.log").read_text())
        with psycopg.connect(farm.db) as c:
            assert c.execute("select b.name from builds x join builders b on b.id = x.builder_id "
                             "where x.job_id = %s", (job,)).fetchone()[0] == "b-tls"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    # Without the CA file the same builder refuses the unknown certificate.
    env.pop("KILN_CA_FILE")
    p = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert "could not connect" in err and "connected" not in err.replace("could not connect", "")


def test_sigterm_drains_a_builder(farm, files):
    """SIGTERM: no new jobs, the running one finishes and is reported, then exit 0."""
    job, name = start_slow_build(farm, files, "kdrain", 6)
    proc, token, _ = farm.builders[name]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == 0
    state, attempts, reason, _ = farm.job(job)
    assert state == "succeeded" and attempts == 1, (state, attempts, reason)
    assert "draining" in farm.builder_log(name)
    farm.start_builder(name, token=token)


def test_a_draining_builder_reconnects_to_report(farm, files):
    """SIGTERM, then the backend goes away and comes back while the build runs:
    the draining builder reconnects, reports its job, and only then exits 0."""
    job, name = start_slow_build(farm, files, "kdrainrestart", 10)
    proc, token, _ = farm.builders[name]
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "draining" in farm.builder_log(name), 30, "the builder to drain")
    old = farm.backend
    old.stop()
    time.sleep(2)
    farm.backend = farm.factory(farm.db, storage="s3", env={**farm.s3, **FARM_ENV,
                                                            "KILN_HTTP_LISTEN": old.env["KILN_HTTP_LISTEN"]})
    assert proc.wait(180) == 0
    state, attempts, reason, _ = farm.job(job)
    with psycopg.connect(farm.db) as c:
        build = c.execute("select state, failure_class, finished_at is not null from builds"
                          " where job_id = %s and attempt = 1", (job,)).fetchone()
    # Reported by the builder before it exited, not lost with it: built, or (an
    # engine hiccup such as Docker's "cannot start a stopped process", seen once)
    # handed back as an infrastructure failure it reported itself.
    assert attempts == 1 and build[2], (state, attempts, reason, build)
    assert (state, build[0]) == ("succeeded", "succeeded") or \
        (state == "queued" and build[0] == "failed" and build[1] == "infrastructure"), (state, reason, build)
    farm.start_builder(name, token=token)


def test_builder_fails_over_to_the_other_replica(farm, files, tmp_path):
    """Two replicas, no load balancer: the builder is given both URLs. The replica
    it is connected to dies (kill -9) mid-build: the builder moves to the other,
    uploads there and reports, and the build is not lost (one attempt)."""
    run([KILNCTL, "target", "add", "failover-target", "--image", farm.image], env=farm.env())
    first = farm.factory(farm.db, storage="s3", env={**farm.s3, **FARM_ENV})
    second = farm.factory(farm.db, storage="s3", env={**farm.s3, **FARM_ENV})
    out = run([KILNCTL, "builder", "add", "b-failover"], env=farm.env()).stdout
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
    home = tmp_path / "b-failover"
    home.mkdir()
    urls = ",".join(b.url.replace("http", "ws") for b in (first, second))
    env = {**os.environ, "KILN_BACKEND_URL": urls, "KILN_BUILDER_TOKEN": token, "KILN_BUILDER_NAME": "b-failover",
           "KILN_BUILDER_TARGETS": "failover-target", "KILN_DATA_DIR": str(home), "KILN_LOG": "info"}
    proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(home / "builder.log", "w"))
    try:
        fn, data = make_sdist("kfailover", "1.0", setup_extra="import time; time.sleep(8)")
        url, sha = files.add(fn, data)
        job = farm.queue("kfailover", "1.0", url, sha, fn, target="failover-target")
        wait_for(lambda: farm.job(job)[0] == "running", 120, "the build to start")
        first.proc.kill()
        first.proc.wait()
        state, attempts, reason, _ = farm.wait_done(job, timeout=180)
        log = (home / "builder.log").read_text()
        assert state == "succeeded" and attempts == 1, (state, attempts, reason, log)
        port = second.url.rsplit(":", 1)[1]
        assert f"msg=\"connected\" backend=127.0.0.1:{port}" in log, log
        assert "artifact stored" in second.log()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
