"""`kiln-builder build-local`: sandboxed wheel builds in the builder image.

Each test writes a tiny sdist (or source tree) here, with tarfile, and builds it
through the real binary against the real Docker daemon: a C extension and a
Cython one that build and import, and the sandbox's refusals (network, clock,
memory, log size, what leaves the output directory). After every test no
container or volume of Kiln's is left behind. The builds carry an owner label of
this run's own (build-local --owner), so other farms and test runs on the same
Docker daemon neither disturb the count nor get reaped.
"""
import hashlib
import http.client
import http.server
import io
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import zipfile

import secrets

import pytest

from conftest import BUILD, ROOT, run

BUILDER = BUILD / "builder" / "kiln-builder"
OWNER = "build-local-" + secrets.token_hex(4)
DEMO_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args)
{
    long a, b;
    (void)self;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "%(name)s", "", -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&mod); }
"""
# What auditwheel repair (the build driver's) makes of a plain C extension's
# linux_x86_64 wheel in the image: no versioned symbol past glibc 2.5.
REPAIRED = "manylinux1_x86_64.manylinux_2_5_x86_64"

# The image's own setuptools and wheel: nothing to fetch (the tests run with --no-prefetch).
PYPROJECT_IMAGE = """[build-system]
requires = ["setuptools", "wheel"]
build-backend = "setuptools.build_meta"
"""


def _docker_works():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _docker_works(), reason="needs a working Docker daemon")


@pytest.fixture(scope="module")
def image():
    """The builder image (built by scripts/image.sh if its recipe changed)."""
    run([ROOT / "scripts" / "image.sh", "build"], timeout=3600)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


def kiln_objects():
    """Containers and volumes of this run's builds (its owner label)."""
    label = f"label=org.kiln.builder={OWNER}"
    cs = run(["docker", "ps", "-aq", "--filter", label]).stdout.split()
    vs = run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split()
    return set(cs), set(vs)


@pytest.fixture(autouse=True)
def no_leftovers():
    """(h): every build removes its containers and its volume, whatever happened."""
    before_c, before_v = kiln_objects()
    yield
    after_c, after_v = kiln_objects()
    assert after_c <= before_c, f"containers left behind: {after_c - before_c}"
    assert after_v <= before_v, f"volumes left behind: {after_v - before_v}"


def write_tree(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def make_sdist(where, name, version, files):
    """NAME-VERSION.tar.gz in where, holding files (relative path -> text) and PKG-INFO."""
    top = f"{name}-{version}"
    files = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", **files}
    path = where / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            t.addfile(info, io.BytesIO(data))
    return path


def setup_py(name, body="", ext=True):
    """A setup.py that runs body first (at build time, in the sandbox)."""
    ext_arg = f'ext_modules=[Extension("{name}", ["{name}.c"])],' if ext else ""
    return (f"import os, sys, time\n{body}\n"
            "from setuptools import Extension, setup\n"
            f'setup(name="{name}", version="1.0", {ext_arg})\n')


def c_sdist(where, name, body=""):
    return make_sdist(where, name, "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": setup_py(name, body),
        f"{name}.c": DEMO_C % {"name": name},
    })


def build(image, out, *args, timeout=600):
    """Run build-local; returns the CompletedProcess (never raises on failure)."""
    p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image, "--out", out, *args],
            check=False, timeout=timeout)
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    return p


def result_line(p):
    lines = [l for l in p.stdout.splitlines() if l.startswith("result: ")]
    assert lines, f"no result line\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return lines[-1]


def run_in_image(image, out, code):
    """Install the wheels of out in the image, offline, and run code."""
    script = ("python3 -m pip install -q --no-index --target /tmp/t /out/*.whl && "
              f"PYTHONPATH=/tmp/t python3 -c '{code}'")
    return run(["docker", "run", "--rm", "--network", "none", "--user", "1000:1000",
                "-v", f"{out}:/out:ro", image, "sh", "-c", script]).stdout


# --- builds that work ---------------------------------------------------------

def test_c_extension_builds_and_imports(image, tmp_path):
    """(a) a C extension becomes a cp311 manylinux wheel (repaired) that imports and runs."""
    sdist = c_sdist(tmp_path, "kdemo")
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert result_line(p) == "result: ok"
    wheels = sorted(f.name for f in out.iterdir())
    assert wheels == [f"kdemo-1.0-cp311-cp311-{REPAIRED}.whl"]
    assert f"wheel: {out}/kdemo-1.0-cp311-cp311-{REPAIRED}.whl" in p.stdout
    with zipfile.ZipFile(out / wheels[0]) as z:
        assert any(n.startswith("kdemo.cpython-311-x86_64-linux-gnu") for n in z.namelist())
    assert run_in_image(image, out, "import kdemo; print(kdemo.add(2, 3))").strip() == "5"


def test_newer_setuptools_and_cython_are_prefetched(image, tmp_path):
    """(b) build requirements the image lacks come from the host's pip, then build offline."""
    sdist = make_sdist(tmp_path, "kcy", "1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=70", "Cython>=3"]\n'
                          'build-backend = "setuptools.build_meta"\n',
        "setup.py": "import setuptools\n"
                    "from setuptools import setup\n"
                    "from Cython.Build import cythonize\n"
                    "print('kiln-test: setuptools', setuptools.__version__, flush=True)\n"
                    "assert int(setuptools.__version__.split('.')[0]) >= 70\n"
                    "setup(name='kcy', version='1.0', ext_modules=cythonize(['kcy.pyx']))\n",
        "kcy.pyx": "def fib(int n):\n    cdef int a = 0, b = 1\n    for _ in range(n):\n"
                   "        a, b = b, a + b\n    return a\n",
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--timeout", "600", timeout=900)
    if p.returncode == 4 and "could not download the build requirements" in p.stderr:
        pytest.skip("the host's pip cannot reach its index: " + p.stderr[-500:])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "downloading build requirements on the host: setuptools>=70, Cython>=3" in p.stderr
    assert re.search(r"kiln-test: setuptools (\d+)", p.stdout + p.stderr)
    wheels = [f.name for f in out.iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("kcy-1.0-cp311-cp311-manylinux")
    assert run_in_image(image, out, "import kcy; print(kcy.fib(30))").strip() == "832040"


def test_source_tree_with_symlink_builds(image, tmp_path):
    """A source directory (as a git checkout gives) goes in whole, symlinks as symlinks."""
    src = tmp_path / "src"
    write_tree(src, {"pyproject.toml": PYPROJECT_IMAGE, "setup.py": setup_py("ktree"),
                     "real.c": DEMO_C % {"name": "ktree"}})
    os.symlink("real.c", src / "ktree.c")
    os.symlink("/etc/shadow", src / "not-followed")
    out = tmp_path / "out"
    p = build(image, out, "--source-dir", src, "--no-prefetch", "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert [f.name for f in out.iterdir()] == [f"ktree-1.0-cp311-cp311-{REPAIRED}.whl"]


def test_docker_errors_are_reported_with_dockers_message(image, tmp_path):
    """A missing image is the builder's error (3), in Docker's words, and nothing is left."""
    sdist = c_sdist(tmp_path, "knoimg")
    p = build("kiln/no-such-image:0", tmp_path / "out", "--sdist", sdist, "--no-prefetch")
    assert p.returncode == 3, p.stdout + p.stderr
    # build-local inspects the image first (its labels say the target's arch);
    # what Docker said comes through, with the step that asked.
    assert re.search(r"docker: (inspect image|create container): .*No such image: kiln/no-such-image:0 \(HTTP 404\)",
                     p.stderr), p.stderr


# --- the sandbox's refusals ---------------------------------------------------

def bridge_gateway():
    """The host's address on Docker's default bridge: reachable from any normal container."""
    info = json.loads(run(["docker", "network", "inspect", "bridge"]).stdout)[0]
    cfg = info["IPAM"]["Config"][0]
    if cfg.get("Gateway"):
        return cfg["Gateway"]
    return str(next(ipaddress.ip_network(cfg["Subnet"]).hosts()))


def test_network_is_unreachable(image, tmp_path):
    """(c) the build cannot reach the host, which a normal container can."""
    gw = bridge_gateway()
    srv = socket.socket()
    srv.bind((gw, 0))
    srv.listen(8)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                c, addr = srv.accept()
                accepted.append(addr)
                c.close()
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        probe = f"import socket; socket.create_connection(('{gw}', {port}), timeout=5); print('ok')"
        control = run(["docker", "run", "--rm", "--network", "bridge", image, "python3", "-c", probe],
                      check=False)
        assert control.returncode == 0 and accepted, (
            f"control: a bridged container should reach {gw}:{port}\n{control.stderr}")
        accepted.clear()
        body = ("import socket\n"
                f"socket.create_connection(('{gw}', {port}), timeout=5)\n"
                "print('kiln-test: connected')\n")
        sdist = c_sdist(tmp_path, "knet", body)
        p = build(image, tmp_path / "out", "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    finally:
        stop.set()
        t.join()
        srv.close()
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert result_line(p) == "result: failed: build failed with exit code 1"
    assert "Network is unreachable" in p.stdout + p.stderr
    assert "kiln-test: connected" not in p.stdout + p.stderr
    assert not accepted
    assert not any((tmp_path / "out").iterdir())


def test_timeout_kills_the_build(image, tmp_path):
    """(d) a build that never ends is killed at the wall-clock limit."""
    sdist = c_sdist(tmp_path, "ksleep", "print('kiln-test: sleeping', flush=True)\ntime.sleep(10**6)")
    t0 = time.monotonic()
    p = build(image, tmp_path / "out", "--sdist", sdist, "--no-prefetch", "--timeout", "10")
    elapsed = time.monotonic() - t0
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert result_line(p) == "result: failed: timed out after 10 s"
    assert "failure class: timeout" in p.stdout.splitlines()
    assert "kiln-test: sleeping" in p.stdout + p.stderr
    assert ", timed out" in p.stdout
    assert elapsed < 60, elapsed


def test_a_compiler_error_is_classed_compile(image, tmp_path):
    """A C extension that does not compile: the project's code is wrong, class compile."""
    sdist = make_sdist(tmp_path, "kbroken", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": setup_py("kbroken", ""),
        "kbroken.c": "#include <Python.h>\nint kiln_broken(void) { return nope; }\n",
    })
    p = build(image, tmp_path / "out", "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "nope" in p.stdout + p.stderr and "undeclared" in p.stdout + p.stderr
    assert "failure class: compile" in p.stdout.splitlines()
    assert not any((tmp_path / "out").iterdir())


def test_memory_limit_kills_with_oom_reason(image, tmp_path):
    """(e) a build that allocates without bound dies at the memory limit, and we say so."""
    body = ("chunks = []\n"
            "while True:\n"
            "    chunks.append(b'k' * (16 << 20))\n")
    sdist = c_sdist(tmp_path, "khog", body)
    p = build(image, tmp_path / "out", "--sdist", sdist, "--no-prefetch", "--timeout", "300",
              "--memory-mib", "256")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert result_line(p) == "result: failed: killed: out of memory (limit 256 MiB)"
    assert "failure class: out-of-memory" in p.stdout.splitlines()
    assert ", oom" in p.stdout


def test_endless_output_is_cut_at_the_log_cap(image, tmp_path):
    """(f) output past the log cap is not passed on, and the build is killed."""
    body = ("line = 'kiln-test: ' + 'x' * 90\n"
            "while True:\n"
            "    print(line, flush=True)\n")
    sdist = c_sdist(tmp_path, "kloud", body)
    cap = 200000
    p = build(image, tmp_path / "out", "--sdist", sdist, "--no-prefetch", "--timeout", "300",
              "--log-cap", str(cap))
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert result_line(p) == f"result: failed: log exceeded {cap} bytes"
    m = re.search(r"log: (\d+) bytes", p.stdout)
    assert m and int(m[1]) == cap
    # What reached us is the cap, plus Kiln's own few lines.
    assert (p.stdout + p.stderr).count("kiln-test: ") < cap // 100 + 5
    assert len(p.stdout) + len(p.stderr) < cap + 20000


def test_only_top_level_wheels_leave_the_sandbox(image, tmp_path):
    """(g) symlinks, hard links, nested files and junk in out/ stay behind."""
    # setup.py runs several times (requirements, metadata, wheel): plant once.
    body = ("out = '/work/out'\n"
            "if not os.path.lexists(out + '/notes.txt'):\n"
            "    os.symlink('/etc/passwd', out + '/evil-1.0-py3-none-any.whl')\n"
            "    os.symlink('../src', out + '/dir-1.0-py3-none-any.whl')\n"
            "    os.makedirs(out + '/nested', exist_ok=True)\n"
            "    open(out + '/nested/inner-1.0-py3-none-any.whl', 'w').write('x')\n"
            "    open(out + '/notes.txt', 'w').write('x')\n"
            "    os.link(out + '/notes.txt', out + '/hard-1.0-py3-none-any.whl')\n"
            "    open('/work/outside-1.0-py3-none-any.whl', 'w').write('x')\n"
            "    print('kiln-test: planted', flush=True)\n")
    sdist = c_sdist(tmp_path, "kevil", body)
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln-test: planted" in p.stdout + p.stderr
    # Of two names for one file, the archive holds the first as a file and the other
    # as a hard link (which is never made on the host); the order is the daemon's.
    # A file named like a wheel is taken: the backend inspects every upload anyway.
    got = sorted(f.name for f in out.iterdir())
    assert got in ([f"kevil-1.0-cp311-cp311-{REPAIRED}.whl"],
                   ["hard-1.0-py3-none-any.whl", f"kevil-1.0-cp311-cp311-{REPAIRED}.whl"]), got
    assert not any(f.is_symlink() or f.stat().st_nlink != 1 for f in out.iterdir())
    notes = p.stderr
    assert "ignored out/evil-1.0-py3-none-any.whl: a symlink" in notes
    assert "ignored out/dir-1.0-py3-none-any.whl: a symlink" in notes
    assert "ignored out/nested/inner-1.0-py3-none-any.whl: not at the top" in notes
    assert re.search(r"ignored out/(hard-1.0-py3-none-any.whl|notes.txt): a hard link", notes)
    assert "ignored out/notes.txt: " in notes
    assert "outside-1.0" not in notes  # /work is not archived, only /work/out


def test_cancel_stops_the_build_and_cleans_up(image, tmp_path):
    """SIGINT while building: the container is killed and removed, the result says so."""
    sdist = c_sdist(tmp_path, "kcancel", "print('kiln-test: waiting', flush=True)\ntime.sleep(10**6)")
    proc = subprocess.Popen([str(BUILDER), "build-local", "--owner", OWNER, "--image", image, "--out",
                             str(tmp_path / "out"), "--sdist", str(sdist), "--no-prefetch",
                             "--timeout", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if run(["docker", "ps", "-q", "--filter", f"label=org.kiln.builder={OWNER}",
                "--filter", "label=org.kiln.role=build"]).stdout.strip():
            break
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "result: failed: cancelled" in out


def test_reap_removes_what_a_killed_builder_left(image, tmp_path):
    """kill -9 in mid-build leaves the containers and the volume; --reap removes them."""
    sdist = c_sdist(tmp_path, "korphan", "time.sleep(10**6)")
    before_c, before_v = kiln_objects()
    proc = subprocess.Popen([str(BUILDER), "build-local", "--owner", OWNER, "--image", image, "--out",
                             str(tmp_path / "out"), "--sdist", str(sdist), "--no-prefetch",
                             "--timeout", "600"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if run(["docker", "ps", "-q", "--filter", f"label=org.kiln.builder={OWNER}",
                    "--filter", "label=org.kiln.role=build"]).stdout.strip():
                break
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
    left_c, left_v = kiln_objects()
    assert len(left_c - before_c) == 2 and len(left_v - before_v) == 1
    p = run([BUILDER, "build-local", "--reap", "--owner", OWNER])
    m = re.search(r"removed (\d+) Docker objects", p.stdout)
    assert m and int(m[1]) >= 3, p.stdout
    after_c, after_v = kiln_objects()
    assert after_c <= before_c and after_v <= before_v


def test_a_lost_work_volume_is_not_the_projects_failure(image, tmp_path):
    """The keeper container holds the build's tmpfs work volume. If it stops before the
    build starts, Docker mounts a fresh, empty tmpfs for the build, pip finds no sdist
    and fails (seen once in a chaos run, reported as the project's failure). The builder
    must see the input gone and report a transient error, not a verdict on the project."""
    # 24 MiB of incompressible padding: the input archive's upload gives the kill time
    # to land before the build starts.
    pad = os.urandom(24 << 20).hex()[: 24 << 20]
    sdist = make_sdist(tmp_path, "klost", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE, "setup.py": setup_py("klost", ext=False), "pad.txt": pad})
    # Subscribed to Docker's events before the build starts (the API answers the
    # subscription at once), so the keeper's start cannot be missed.
    filters = json.dumps({"type": ["container"], "event": ["start"],
                          "label": [f"org.kiln.builder={OWNER}", "org.kiln.role=keeper"]})
    events = DockerAPI()
    events.request("GET", "/events?filters=" + urllib.parse.quote(filters))
    stream = events.getresponse()
    assert stream.status == 200
    killed = []

    def kill_keeper():
        line = stream.readline()
        if line:
            cid = json.loads(line)["id"]
            k = DockerAPI()
            k.request("POST", f"/containers/{cid}/kill")
            k.getresponse().read()
            k.close()
            killed.append(cid)

    t = threading.Thread(target=kill_keeper, daemon=True)
    t.start()
    try:
        p = build(image, tmp_path / "out", "--sdist", str(sdist), "--no-prefetch", "--timeout", "120")
    finally:
        t.join(10)
        events.close()
    assert killed, "the keeper never started"
    assert "result: failed" not in p.stdout, "a lost work volume was reported as the project's failure"
    if p.returncode == 3:
        # The kill landed after the build started: the build had the volume, and
        # lost it (its output with it) when it stopped. A builder error, no verdict,
        # but not the case this test is after (about 1 run in 20 here).
        pytest.skip("the build started before the keeper was killed (the race this test needs was lost)")
    assert p.returncode == 4, f"want a transient error (4), got {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    assert "input (/work/src/klost-1.0.tar.gz) was gone from its work volume" in p.stderr, p.stderr[-2000:]
    assert "the keeper container holding the volume was exited" in p.stderr, p.stderr[-2000:]


# --- sources: HTTP and git ----------------------------------------------------

class DockerAPI(http.client.HTTPConnection):
    """An HTTP connection to the Docker Engine API on its unix socket."""

    def __init__(self, path="/var/run/docker.sock"):
        super().__init__("docker", timeout=120)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):
        if self.path.startswith("/busy/"):
            self.send_response(503)
            self.end_headers()
            return
        data = self.files.get(self.path.rsplit("/", 1)[-1])
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_files():
    """A loopback HTTP server serving _Handler.files by name; yields its base URL."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    _Handler.files = {}


def test_sdist_url_is_fetched_checked_and_built(image, tmp_path, http_files):
    sdist = c_sdist(tmp_path, "kurl")
    data = sdist.read_bytes()
    _Handler.files = {sdist.name: data}
    sha = hashlib.sha256(data).hexdigest()
    out = tmp_path / "out"
    p = build(image, out, "--sdist-url", f"{http_files}/files/{sdist.name}", "--sha256", sha,
              "--no-prefetch", "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert [f.name for f in out.iterdir()] == [f"kurl-1.0-cp311-cp311-{REPAIRED}.whl"]


def test_sdist_url_errors_are_classified(image, tmp_path, http_files):
    sdist = c_sdist(tmp_path, "kbad")
    _Handler.files = {sdist.name: sdist.read_bytes()}
    out = tmp_path / "out"
    url = f"{http_files}/files/{sdist.name}"
    # A hash mismatch is permanent (3), and leaves no file behind.
    p = build(image, out, "--sdist-url", url, "--sha256", "0" * 64)
    assert p.returncode == 3 and "sha256 mismatch for 'kbad-1.0.tar.gz'" in p.stderr, p.stderr
    # So is a 404.
    p = build(image, out, "--sdist-url", f"{http_files}/files/kbad-9.9.tar.gz", "--sha256", "0" * 64)
    assert p.returncode == 3 and "HTTP 404" in p.stderr, p.stderr
    # A 503 or a refused connection is worth a retry (4).
    p = build(image, out, "--sdist-url", f"{http_files}/busy/kbad-1.0.tar.gz", "--sha256", "0" * 64)
    assert p.returncode == 4 and "HTTP 503" in p.stderr, p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    p = build(image, out, "--sdist-url", f"http://127.0.0.1:{closed}/kbad-1.0.tar.gz",
              "--sha256", "0" * 64)
    assert p.returncode == 4, p.stderr
    # A URL whose last part is no sdist name never reaches the network.
    p = build(image, out, "--sdist-url", f"{http_files}/files/..%2Fetc%2Fpasswd", "--sha256", "0" * 64)
    assert p.returncode == 3 and "is not an sdist filename" in p.stderr, p.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(not shutil.which("git"), reason="the test makes its repository with git")
def test_git_commit_is_checked_out_and_built(image, tmp_path):
    repo = tmp_path / "repo"
    write_tree(repo, {"pyproject.toml": PYPROJECT_IMAGE, "setup.py": setup_py("kgit"),
                      "kgit.c": DEMO_C % {"name": "kgit"}})
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    run(["git", "init", "-q", "-b", "main", repo])
    run(["git", "-C", repo, "add", "."])
    # The commit's time is the build's SOURCE_DATE_EPOCH: the wheel's dates.
    run(["git", "-C", repo, "commit", "-qm", "one"],
        env=dict(env, GIT_COMMITTER_DATE="@1600000000 +0200"))
    first = run(["git", "-C", repo, "rev-parse", "HEAD"]).stdout.strip()
    # A later commit that breaks the build: the first must be what gets built.
    (repo / "kgit.c").write_text("#error this is the second commit\n")
    run(["git", "-C", repo, "commit", "-qam", "two"], env=env)
    out = tmp_path / "out"
    p = build(image, out, "--git", f"file://{repo}", "--commit", first, "--no-prefetch",
              "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert [f.name for f in out.iterdir()] == [f"kgit-1.0-cp311-cp311-{REPAIRED}.whl"]
    assert "kiln: SOURCE_DATE_EPOCH=1600000000 (2020-09-13 12:26:40 UTC)" in p.stdout
    with zipfile.ZipFile(next(out.iterdir())) as z:
        assert {i.date_time for i in z.infolist()} == {(2020, 9, 13, 12, 26, 40)}
    p = build(image, out, "--git", f"file://{repo}", "--commit", "1" * 40, "--no-prefetch")
    assert p.returncode == 3 and "is not in" in p.stderr, p.stderr


# --- prefetch refusals (no Docker involved) -----------------------------------

def test_requirements_that_would_be_pip_options_are_refused(image, tmp_path):
    for req, why in [('"--index-url=http://127.0.0.1:9/"', "bad requirement"),
                     ('"evil @ http://127.0.0.1:9/evil.whl"', "direct URL requirements"),
                     ('"setuptools', "pyproject.toml:")]:
        sdist = make_sdist(tmp_path, "kreq", "1.0", {
            "pyproject.toml": f"[build-system]\nrequires = [{req}]\n", "setup.py": ""})
        p = build(image, tmp_path / "out", "--sdist", sdist)
        assert p.returncode == 3 and why in p.stderr, (req, p.stderr)
        sdist.unlink()
