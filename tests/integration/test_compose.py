"""The farm as docker-compose.yml runs it: the images built from this checkout
(scripts/deploy.sh images), two backend replicas behind HAProxy, Postgres,
SeaweedFS, kiln-sync and two builders on the host's Docker.

kiln-sync mirrors a small local upstream (a static PEP 503 index served on the
farm's network, tests/integration/compose/upstream.yml) holding four releases of
a C-extension sdist; the builders build them through the load balancer, and the
test checks what a user would: both replicas handed out jobs (their /metrics),
pip installs Kiln's wheel through the load balancer (the download is a presigned
S3 URL that the balancer passes to SeaweedFS) and imports it, a backup lands in
the object store and, restored into a recreated empty database, gives back the
same index pages, a replica stopped in the middle of a build loses nothing (its
builder moves to the other one and reports the build), and `docker-compose
down` leaves nothing running.

Heavy (a few minutes): `just compose-test` runs it alone, in full. In `just test`
the replica-stop test is left out (a minute more; the chaos run kills replicas
too); KILN_COMPOSE_FULL=1 puts it back.
"""
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time

import pytest

from conftest import ROOT, free_port, run
from sdists import make_sdist, wait_for

COMPOSE = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"),
           "-f", str(ROOT / "tests" / "integration" / "compose" / "upstream.yml")]
PROJECT = "kcompose"
VERSIONS = ("1.0", "1.1", "1.2", "1.3")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def write_upstream(root, versions=VERSIONS, slow=()):
    """A static PEP 503 index of PROJECT's sdists under root (simple/ and files/).
    A build sleeps 3 s (long enough that jobs spread over both builders, hence
    both replicas), 25 s for the versions in slow."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    (root / "simple" / PROJECT).mkdir(parents=True, exist_ok=True)
    links = []
    for v in versions:
        fn, data = make_sdist(PROJECT, v, setup_extra=f"import time; time.sleep({25 if v in slow else 3})")
        (root / "files" / fn).write_bytes(data)
        links.append(f'<a href="../../files/{fn}#sha256={hashlib.sha256(data).hexdigest()}">{fn}</a><br/>')
    (root / "simple" / "index.html").write_text(
        f'<!DOCTYPE html><html><body><a href="{PROJECT}/">{PROJECT}</a></body></html>\n')
    (root / "simple" / PROJECT / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


class Stack:
    def __init__(self, name, env, port, upstream):
        self.name, self.env, self.port, self.upstream = name, env, port, upstream
        self.url = f"http://127.0.0.1:{port}"

    def compose(self, *args, check=True, timeout=600):
        return run([*COMPOSE, "-p", self.name, *args], env=self.env, check=check, timeout=timeout)

    def get(self, path, accept=None):
        import urllib.request
        req = urllib.request.Request(self.url + path, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def metric(self, service, name):
        out = self.compose("exec", "-T", service, "curl", "-fsS", "http://127.0.0.1:8080/metrics").stdout
        m = re.search(rf"^{name} (\d+)", out, re.M)
        return int(m.group(1)) if m else 0

    def leftovers(self):
        """Containers, volumes and networks of this stack, and build containers of its builders."""
        found = []
        for kind in ("ps -aq", "volume ls -q", "network ls -q"):
            out = subprocess.run(["docker", *kind.split(), "--filter",
                                  f"label=com.docker.compose.project={self.name}"],
                                 capture_output=True, text=True, check=True).stdout.split()
            found += [f"{kind.split()[0]} {x}" for x in out]
        for b in ("builder-1", "builder-2"):
            out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=org.kiln.builder={self.name}-{b}"],
                                 capture_output=True, text=True, check=True).stdout.split()
            found += [f"build container {x}" for x in out]
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run([ROOT / "scripts" / "deploy.sh", "images"], timeout=1800)
    upstream = tmp_path_factory.mktemp("upstream")
    # Nothing to build until both builders are online (the first test publishes):
    # else on a busy machine one builder can build everything before the other
    # connects, and the test could not see both replicas hand out jobs.
    write_upstream(upstream, versions=())
    upstream.chmod(0o755)
    name = "kilnct" + secrets.token_hex(3)
    port = free_port()
    env = {"KILN_PORT": str(port), "KILN_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "KILN_UPSTREAM_URL": "http://upstream:8000/simple/", "KILN_SYNC_INTERVAL": "5",
           "KILN_TEST_UPSTREAM_DIR": str(upstream), "BUILDER_PREFIX": name + "-",
           "POSTGRES_PASSWORD": secrets.token_hex(8), "KILN_S3_SECRET_KEY": secrets.token_hex(12)}
    s = Stack(name, env, port, upstream)
    try:
        s.compose("up", "-d", timeout=600)
        yield s
    except Exception:
        print(s.compose("logs", "--no-color", "--tail", "80", check=False).stdout)
        raise
    finally:
        s.compose("down", "-v", "--remove-orphans", "--timeout", "120", check=False, timeout=600)


def test_compose_farm_builds_and_serves_through_the_balancer(stack, tmp_path):
    # leastconn puts one builder's WebSocket on each replica, once both are ready.
    def one_each():
        return all(stack.metric(b, "kiln_builders_connected") == 1 for b in ("backend-1", "backend-2"))
    wait_for(one_each, 300, "a builder connected to each replica", interval=1)
    write_upstream(stack.upstream)
    # kiln-sync mirrors the upstream and plans a job per release; the builders
    # build them; the project page through the balancer lists the four wheels.
    def wheels():
        try:
            page = json.loads(stack.get(f"/simple/{PROJECT}/", JSON_TYPE))
        except Exception:
            return None
        names = [f["filename"] for f in page["files"] if f["filename"].endswith(".whl")]
        return len(names) == len(VERSIONS) and names
    try:
        names = wait_for(wheels, 300, "four wheels on the project page", interval=2)
    except AssertionError:
        print(stack.compose("logs", "--no-color", "--tail", "60", check=False).stdout)
        raise
    assert all(n.endswith("-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl") for n in names), names

    # Both replicas handed out jobs: each holds one builder's WebSocket.
    dispatched = {b: stack.metric(b, "kiln_jobs_dispatched_total") for b in ("backend-1", "backend-2")}
    assert all(n >= 1 for n in dispatched.values()), dispatched
    assert sum(dispatched.values()) == len(VERSIONS), dispatched

    # pip installs Kiln's wheel (not the sdist) through the balancer, and it imports.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    out = run([venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--only-binary", ":all:",
               "--index-url", stack.url + "/simple/", f"{PROJECT}==1.3"],
              env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}).stdout
    assert f"{PROJECT}-1.3-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl" in out, out
    got = run([venv / "bin" / "python", "-c", f"import {PROJECT}; print({PROJECT}.add(20, 22))"]).stdout
    assert got.strip() == "42"

    # A backup from inside the farm lands in its object store.
    key = stack.compose("exec", "-T", "backend-1", "kiln-backup", "backup").stdout.strip()
    assert re.fullmatch(r"backups/kiln-\d{8}T\d{6}Z\.dump", key), key
    listed = stack.compose("exec", "-T", "backend-1", "kiln-backup", "list").stdout
    assert key in listed

    # Restore as docs/deploy.md says: stop Kiln, recreate the database empty,
    # restore the newest backup, start again; the balancer serves the same pages.
    before = {p: stack.get(p, a) for p in ("/simple/", f"/simple/{PROJECT}/") for a in ("text/html", JSON_TYPE)}
    stack.compose("stop", "sync", "builder-1", "builder-2", "backend-1", "backend-2")
    stack.compose("exec", "-T", "postgres", "psql", "-X", "-q", "-h", "/tmp", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
                  "-c", "DROP DATABASE kiln WITH (FORCE)", "-c", "CREATE DATABASE kiln OWNER kiln")
    restored = stack.compose("run", "--rm", "-T", "setup", "kiln-backup", "restore").stdout.strip()
    assert restored == key
    stack.compose("up", "-d")

    def same_pages():
        try:
            return {p: stack.get(p, a) for p in ("/simple/", f"/simple/{PROJECT}/")
                    for a in ("text/html", JSON_TYPE)} == before
        except Exception:
            return False
    wait_for(same_pages, 120, "the restored farm to serve the same pages", interval=1)


def holder(stack, builder):
    """The replica a builder's WebSocket is on now: the one that logged its latest connection."""
    latest = {}
    for b in ("backend-1", "backend-2"):
        log = stack.compose("logs", "--no-color", b).stdout
        stamps = re.findall(rf'ts=(\S+) .*msg="builder connected" builder={re.escape(builder)} ', log)
        if stamps:
            latest[b] = max(stamps)
    assert latest, f"no replica logged a connection of {builder}"
    return max(latest, key=latest.get)


@pytest.mark.skipif(not os.environ.get("KILN_COMPOSE_FULL"),
                    reason="full compose run only (just compose-test)")
def test_a_replica_stopped_mid_build_loses_nothing(stack):
    """Stop the replica a running build came from: its builder reconnects through
    the balancer to the other replica, reports the build, and the wheel is
    published; the build's first attempt is the one that succeeds."""
    write_upstream(stack.upstream, versions=(*VERSIONS, "2.0"), slow=("2.0",))

    def running():
        try:
            builds = json.loads(stack.get(f"/api/v1/builds?project={PROJECT}"))["builds"]
        except Exception:
            return None
        return next((b for b in builds if b["version"] == "2.0" and b["state"] == "running"), None)
    build = wait_for(running, 120, "the 2.0 build to run", interval=1)
    victim = holder(stack, build["builder"])
    other = {"backend-1": "backend-2", "backend-2": "backend-1"}[victim]
    stack.compose("stop", victim)
    try:
        def published():
            try:
                page = json.loads(stack.get(f"/simple/{PROJECT}/", JSON_TYPE))
            except Exception:
                return False
            return any(f["filename"].startswith(f"{PROJECT}-2.0-") and f["filename"].endswith(".whl")
                       for f in page["files"])
        wait_for(published, 180, "the 2.0 wheel to be published", interval=2)
        builds = json.loads(stack.get(f"/api/v1/builds?project={PROJECT}"))["builds"]
        mine = [b for b in builds if b["version"] == "2.0"]
        assert [(b["attempt"], b["state"]) for b in mine] == [(1, "succeeded")], mine
        assert holder(stack, build["builder"]) == other
        assert re.search(rf'msg="builder connected" builder={re.escape(build["builder"])} .*resumed=1',
                         stack.compose("logs", "--no-color", other).stdout)
    finally:
        stack.compose("start", victim)


def test_compose_down_leaves_nothing_running(stack):
    assert stack.leftovers() != [], "the stack should be up before it is brought down"
    stack.compose("down", "-v", "--remove-orphans", "--timeout", "120")
    assert stack.leftovers() == []
