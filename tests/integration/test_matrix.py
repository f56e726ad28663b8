"""The target matrix end to end (issue 16): one generated C-extension sdist becomes
wheels for three CPythons on x86_64 and one on aarch64 (emulated), through the
real farm: backend, one builder that serves x86_64 natively and aarch64 by
explicit emulation (KILN_BUILDER_EMULATE), real Docker, real S3. Each wheel is
then installed from Kiln's index, with pip, inside a container of its own target
(its Python, its glibc, its architecture), imported and called; a CPython 3.13
environment also installs with uv.

The x86_64 CPython 3.11 target is the base image every build test uses; the
others use the smallest recipe that proves the point (builder/image-min, the
test targets of tests/targets-min.txt). `just matrix` (KILN_MATRIX_FULL=1) runs
the same checks on every target of builder/targets.txt with the full images.
"""
import base64
import json
import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from conftest import BUILD, KILNCTL, ROOT, run
from sdists import FileServer, make_sdist, wait_for

BUILDER = BUILD / "builder" / "kiln-builder"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".kiln" / "venv")) / "bin"
FULL = os.environ.get("KILN_MATRIX_FULL") == "1"
MIN_FILE = ROOT / "tests" / "targets-min.txt"
MAIN_FILE = ROOT / "builder" / "targets.txt"


def read_targets(path):
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            name, suite, python, arch, glibc, recipe = line[:6]
            out.append(dict(name=name, suite=suite, python=python, arch=arch, glibc=glibc,
                            recipe=recipe, file=str(path)))
    return out


def chosen_targets():
    main = read_targets(MAIN_FILE)
    if FULL:
        return main
    mins = read_targets(MIN_FILE)
    # The default target (its full image is every build test's) and the min ones:
    # CPython 3.13 and 3.14 on x86_64, one aarch64 target.
    picked = [main[0]]
    picked += [t for t in mins if t["arch"] == "x86_64" and t["python"] != main[0]["python"]][:2]
    picked += [t for t in mins if t["arch"] == "aarch64"][:1]
    return picked


TARGETS = chosen_targets()


def image_of(t):
    env = {**os.environ, "KILN_TARGETS_FILE": t["file"]}
    run([ROOT / "scripts" / "image.sh", "build", t["name"]], env=env, timeout=3600)
    return run([ROOT / "scripts" / "image.sh", "name", t["name"]], env=env).stdout.strip()


@pytest.fixture(scope="module")
def images():
    return {t["name"]: image_of(t) for t in TARGETS}


@pytest.fixture(scope="module")
def matrix_farm(migrated, backend_factory, images, s3, tmp_path_factory):
    env = {"KILN_DATABASE_URL": migrated}
    for t in TARGETS:
        run([KILNCTL, "target", "add", t["name"], "--image", images[t["name"]], "--python",
             t["python"], "--arch", t["arch"], "--suite", t["suite"], "--glibc", t["glibc"]], env=env)
    # A farm with a provenance key: each wheel is signed when its finish publishes it.
    key = tmp_path_factory.mktemp("matrix-key") / "provenance.pem"
    run([KILNCTL, "provenance", "key", "init"], env={"KILN_PROVENANCE_KEY": str(key)})
    backend = backend_factory(migrated, storage="s3", env={**s3, "KILN_JOB_TIMEOUT": "1800",
                                                            "KILN_PROVENANCE_KEY": str(key)})
    bname = f"matrix-{secrets.token_hex(3)}"
    out = run([KILNCTL, "builder", "add", bname], env=env).stdout
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
    home = tmp_path_factory.mktemp("matrix-builder")
    log = open(home / "builder.log", "a")
    proc = subprocess.Popen([str(BUILDER)], stdout=subprocess.DEVNULL, stderr=log, env={
        **os.environ, "KILN_BACKEND_URL": backend.url.replace("http", "ws"),
        "KILN_BUILDER_TOKEN": token, "KILN_BUILDER_NAME": bname, "KILN_BUILDER_SLOTS": "2",
        "KILN_BUILDER_TARGETS": ",".join(t["name"] for t in TARGETS),
        "KILN_BUILDER_EMULATE": "aarch64", "KILN_DATA_DIR": str(home), "KILN_LOG": "debug"})
    yield migrated, backend, home
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def queue(db, files, name, version):
    fn, data = make_sdist(name, version)
    url, sha = files.add(fn, data)
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values (%s, %s)", (name, name))
        r = c.execute("insert into releases (project_id, version, version_normalized) select id, %s, %s"
                      " from projects where normalized = %s returning id", (version, version, name)).fetchone()[0]
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                  " values (%s, %s, 'sdist', %s, %s, %s)", (r, fn, url, sha, len(data)))
        return {t: c.execute("insert into jobs (release_id, target_id) select %s, id from targets"
                             " where name = %s returning id", (r, t)).fetchone()[0]
                for t in (x["name"] for x in TARGETS)}


def in_container(image, arch, script, mounts=()):
    # No --platform: this engine records an imported image's architecture as its
    # own (the label org.kiln.arch says the truth), and would try to pull;
    # binfmt (KILN_BUILDER_EMULATE's handler) runs the aarch64 one either way.
    cmd = ["docker", "run", "--rm", "--network", "host", "-e", "PIP_CONFIG_FILE=/dev/null"]
    for host, inside in mounts:
        cmd += ["-v", f"{host}:{inside}:ro"]
    return run(cmd + [image, "sh", "-euc", script], timeout=900).stdout


def test_one_sdist_becomes_a_wheel_per_target_each_installs_in_its_own(matrix_farm, images):
    db, backend, home = matrix_farm
    files = FileServer()
    try:
        jobs = queue(db, files, "kmatrix", "1.0")
        for t, job in jobs.items():
            def done(job=job):
                with psycopg.connect(db) as c:
                    s = c.execute("select state, failure_reason from jobs where id = %s", (job,)).fetchone()
                return s if s[0] in ("succeeded", "failed", "cancelled") else None
            state, reason = wait_for(done, 2400, f"the {t} build")
            assert state == "succeeded", (t, reason, (home / "builder.log").read_text()[-3000:])
    finally:
        files.close()
    with psycopg.connect(db) as c:
        wheels = dict(c.execute("select t.name, a.filename from artifacts a join jobs j on j.id = a.job_id"
                                " join targets t on t.id = j.target_id where a.published_at is not null").fetchall())
    for t in TARGETS:
        tag = "cp" + t["python"].replace(".", "")
        f = wheels[t["name"]]
        # Its own Python's ABI, its own architecture, repaired to a manylinux tag no
        # newer than its suite's glibc.
        assert f.startswith(f"kmatrix-1.0-{tag}-{tag}-"), f
        assert f.endswith(f"_{t['arch']}.whl") and "manylinux" in f, f
        for m in re.findall(r"manylinux_2_(\d+)_", f):
            assert int(m) <= int(t["glibc"].split(".")[1]), f
    index = backend.url + "/simple/"
    for t in TARGETS:
        out = in_container(images[t["name"]], t["arch"],
                           f"python3 -m pip install --no-cache-dir --only-binary :all: --target /tmp/t"
                           f" --index-url {index} kmatrix==1.0 && PYTHONPATH=/tmp/t python3 -c"
                           f" 'import kmatrix, platform, sys; print(\"ran:\", platform.machine(),"
                           f" \"%d.%d\" % sys.version_info[:2], kmatrix.add(2, 40))'")
        assert wheels[t["name"]] in out, (t["name"], out)  # pip took this target's wheel
        assert f"ran: {t['arch']} {t['python']} 42" in out, (t["name"], out)
    # uv, from a CPython 3.13 environment: the host's uv binary in the 3.13 target's container.
    t313 = [t for t in TARGETS if t["python"] == "3.13" and t["arch"] == "x86_64"]
    if t313:
        t = t313[0]
        out = in_container(images[t["name"]], t["arch"],
                           f"uv venv -q --python python3.13 /tmp/v && uv pip install --no-cache --python"
                           f" /tmp/v/bin/python --index-url {index} kmatrix==1.0 2>&1 && /tmp/v/bin/python -c"
                           f" 'import kmatrix; print(kmatrix.__file__, kmatrix.add(1, 2))'",
                           mounts=[(VENV_BIN / "uv", "/usr/local/bin/uv")])
        assert "python3.13" in out and out.strip().endswith(" 3"), out


def test_each_built_wheel_is_signed_and_verifies(matrix_farm, images, tmp_path):
    """The provenance of wheels a builder's finish published (issue 17): pip
    downloads the aarch64 one, `kilnctl verify` checks it against the farm's key;
    the statement names the target it was built for."""
    db, backend, home = matrix_farm
    with psycopg.connect(db) as c:
        rows = c.execute("select t.name, t.arch, a.filename from artifacts a join jobs j on j.id = a.job_id"
                         " join targets t on t.id = j.target_id where a.published_at is not null"
                         " and a.filename like 'kmatrix-%'").fetchall()
    assert rows, "test_one_sdist_becomes_a_wheel_per_target... publishes the wheels this checks"
    pub = tmp_path / "farm.pub"
    pub.write_bytes(backend.get("/.well-known/kiln-provenance.pub")[2])
    for name, arch, fn in rows:
        st, _, body = backend.get(f"/integrity/kmatrix/1.0/{fn}/provenance")
        assert st == 200, (fn, body[:300])
        att = json.loads(body)["attestation_bundles"][0]["attestations"][0]
        stmt = json.loads(base64.b64decode(att["envelope"]["statement"]))
        assert stmt["subject"][0]["name"] == fn
        target = stmt["predicate"]["buildDefinition"]["externalParameters"]["target"]
        assert (target["name"], target["arch"]) == (name, arch), (fn, target)
    name, arch, fn = next(r for r in rows if r[1] == "aarch64") if any(r[1] == "aarch64" for r in rows) \
        else rows[0]
    dl = tmp_path / "dl"
    run([VENV_BIN / "python", "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary", ":all:",
         "--platform", fn[:-4].split("-")[-1].split(".")[-1], "--python-version",
         fn.split("-")[2][2:3] + "." + fn.split("-")[2][3:], "--implementation", "cp",
         "--index-url", backend.url + "/simple/", "-d", dl, "kmatrix==1.0"],
        env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""})
    wheel = dl / fn
    ok = run([KILNCTL, "verify", wheel, "--url", backend.url + "/simple/", "--key", pub],
             env={"KILN_PROVENANCE_KEY": ""})
    assert ok.stdout.startswith("OK " + fn) and name in ok.stdout, ok.stdout
    raw = bytearray(wheel.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    wheel.write_bytes(bytes(raw))
    bad = run([KILNCTL, "verify", wheel, "--url", backend.url + "/simple/", "--key", pub],
              env={"KILN_PROVENANCE_KEY": ""}, check=False)
    assert bad.returncode == 1 and "verify FAILED" in bad.stderr, (bad.stdout, bad.stderr)
