"""Signed provenance (issue 17, part 3): every published wheel has a DSSE-signed
in-toto statement, linked from the index the PEP 740 way, and `kilnctl verify`
checks a downloaded wheel against it and the farm's public key.

A wheel is published through the upload API (a real, generated wheel) by a job
held with a lease, then marked published as a builder's finish does. Then a
real build (a builder, real Docker): its statement names the image it ran in
by id, the command, and the build-requirement files it fetched, by sha256.
"""
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys

import psycopg
import pytest

from conftest import BUILD, KILNCTL, ROOT, image_wheel, run
from fakeindex import Upstream
from sdists import FileServer, targz, wait_for
from wheels import make_wheel

TOKEN = "kiln_" + "P" * 43


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, tmp_path_factory):
    keydir = tmp_path_factory.mktemp("prov")
    key = keydir / "provenance.pem"
    init = run([KILNCTL, "provenance", "key", "init"], env={"KILN_PROVENANCE_KEY": str(key)})
    assert "written to" in init.stdout
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('Prov-Demo', 'prov-demo')")
        c.execute("insert into releases (project_id, version, version_normalized)"
                  " select id, '1.0', '1.0' from projects")
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256)"
                  " select id, 'prov-demo-1.0.tar.gz', 'sdist', 'http://upstream.test/prov-demo-1.0.tar.gz',"
                  " repeat('ab', 32) from releases")
        c.execute("insert into targets (name, image, python_tag, python_version, platform, suite, glibc)"
                  " values ('bookworm-py311-x86_64', 'kiln/bookworm-py311:abc123', 'cp311', '3.11',"
                  " 'linux_x86_64', 'bookworm', '2.36')")
        c.execute("insert into builders (name, token_hash, version) values ('rpi5', repeat('c', 64), '0.1.0')")
        job = c.execute(
            "insert into jobs (release_id, target_id, state, lease_token_hash, lease_expires_at,"
            " assigned_at, builder_id, attempts) select r.id, t.id, 'running', %s,"
            " now() + interval '1 hour', now(), b.id, 1 from releases r, targets t, builders b"
            " returning id", (hashlib.sha256(TOKEN.encode()).hexdigest(),)).fetchone()[0]
        c.execute("insert into builds (job_id, attempt, builder_id, state, started_at)"
                  " select %s, 1, id, 'running', now() - interval '42 seconds' from builders", (job,))
    backend = backend_factory(migrated, env={"KILN_PROVENANCE_KEY": str(key),
                                             "KILN_PUBLIC_URL": "https://wheels.example.test"})
    fn, data = make_wheel("Prov-Demo", "1.0")
    st, _, body = backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}", body=data,
                                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert st == 201, body
    # What the finish of a succeeded attempt does (jobs.c), then the index notices.
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("update builds set state = 'succeeded', finished_at = now(), exit_code = 0,"
                  " duration_ms = 41000, phase = 'done'")
        c.execute("update jobs set state = 'succeeded', finished_at = now(), lease_token_hash = null,"
                  " lease_expires_at = null")
        c.execute("update artifacts set published_at = now(), policy = 'manylinux_2_36_x86_64'")
    return backend, key, fn, data


def kilnctl(*args, key=None, check=True):
    env = {"KILN_PROVENANCE_KEY": str(key)} if key else {"KILN_PROVENANCE_KEY": ""}
    return run([KILNCTL, *args], env=env, check=check)


def provenance(backend, fn):
    st, h, body = backend.get(f"/integrity/prov-demo/1.0/{fn}/provenance")
    assert st == 200, body
    assert h["content-type"] == "application/vnd.pypi.integrity.v1+json"
    return json.loads(body)


def test_index_links_provenance(farm):
    backend, _, fn, _ = farm
    st, _, body = backend.get("/simple/prov-demo/",
                              headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert st == 200
    f = json.loads(body)["files"][0]
    assert f["filename"] == fn
    assert f["provenance"] == f"../../integrity/prov-demo/1.0/{fn}/provenance"
    st, _, html = backend.get("/simple/prov-demo/", headers={"Accept": "text/html"})
    assert f'data-provenance="../../integrity/prov-demo/1.0/{fn}/provenance"' in html.decode()


def test_statement_says_what_was_built_and_who_vouches(farm):
    backend, _, fn, data = farm
    doc = provenance(backend, fn)
    assert doc["version"] == 1
    att = doc["attestation_bundles"][0]["attestations"][0]
    st = json.loads(base64.b64decode(att["envelope"]["statement"]))
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == "https://slsa.dev/provenance/v1"
    assert st["subject"] == [{"name": fn, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}]
    ext = st["predicate"]["buildDefinition"]["externalParameters"]
    assert ext["source"] == {"kind": "sdist", "url": "http://upstream.test/prov-demo-1.0.tar.gz",
                             "filename": "prov-demo-1.0.tar.gz", "sha256": "ab" * 32}
    assert ext["target"]["name"] == "bookworm-py311-x86_64"
    assert ext["target"]["image"] == "kiln/bookworm-py311:abc123"
    assert ext["target"]["arch"] == "x86_64" and ext["target"]["python"] == "3.11"
    run_ = st["predicate"]["runDetails"]
    # The farm that vouches, as its users reach it (KILN_PUBLIC_URL).
    assert run_["builder"]["id"] == "https://wheels.example.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run_["metadata"]["startedOn"])
    assert run_["metadata"]["startedOn"] < run_["metadata"]["finishedOn"]
    by = {b["name"]: b["annotations"] for b in run_["byproducts"]}
    assert by["kiln:verified-by-backend"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert by["kiln:verified-by-backend"]["size"] == len(data)
    assert by["kiln:reported-by-builder"]["builder"] == "rpi5"
    assert by["kiln:reported-by-builder"]["policy"] == "manylinux_2_36_x86_64"
    assert by["kiln:reported-by-builder"]["exit_code"] == 0
    # The standard DSSE form carries the same statement and signature.
    dsse = att["dsse_envelope"]
    assert dsse["payloadType"] == "application/vnd.in-toto+json"
    assert dsse["payload"] == att["envelope"]["statement"]
    assert dsse["signatures"][0]["sig"] == att["envelope"]["signature"]
    # Signed once: asked again, the same bytes.
    assert provenance(backend, fn) == doc


def test_public_key_endpoint_serves_what_kilnctl_shows(farm):
    backend, key, _, _ = farm
    st, h, body = backend.get("/.well-known/kiln-provenance.pub")
    assert st == 200
    shown = kilnctl("provenance", "key", "show", key=key).stdout
    assert body.decode() in shown
    assert body.decode().startswith("-----BEGIN PUBLIC KEY-----")
    key_id = re.search(r"key id: ([0-9a-f]{64})", shown).group(1)
    assert h["x-kiln-key-id"] == key_id
    # The key is made once.
    p = kilnctl("provenance", "key", "init", key=key, check=False)
    assert p.returncode != 0 and "exists already" in p.stderr


def test_pip_download_then_verify_and_a_changed_byte_fails(farm, tmp_path):
    backend, key, fn, data = farm
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
         "--disable-pip-version-check", "--index-url", backend.url + "/simple/",
         "-d", tmp_path / "dl", "prov-demo==1.0"],
        env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""})
    wheel = tmp_path / "dl" / fn
    assert wheel.read_bytes() == data
    pub = tmp_path / "farm.pub"
    pub.write_bytes(backend.get("/.well-known/kiln-provenance.pub")[2])

    ok = kilnctl("verify", wheel, "--url", backend.url + "/simple/", "--key", pub)
    assert ok.stdout.startswith("OK " + fn)
    assert "bookworm-py311-x86_64" in ok.stdout
    # Without --key, the key comes from the same server, and the output says so.
    assert "pin it with --key" in kilnctl("verify", wheel, "--url", backend.url).stdout

    # One byte changed in the wheel: it fails, saying why.
    raw = bytearray(data)
    raw[len(raw) // 2] ^= 0x01
    wheel.write_bytes(bytes(raw))
    bad = kilnctl("verify", wheel, "--url", backend.url, "--key", pub, check=False)
    assert bad.returncode == 1
    assert "verify FAILED" in bad.stderr and "is not the one the farm built" in bad.stderr

    # One byte changed in the signed statement: the signature no longer matches.
    wheel.write_bytes(data)
    doc = provenance(backend, fn)
    att = doc["attestation_bundles"][0]["attestations"][0]
    st = base64.b64decode(att["envelope"]["statement"]).replace(b"bookworm", b"bookwora", 1)
    att["envelope"]["statement"] = base64.b64encode(st).decode()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    bad = kilnctl("verify", wheel, "--provenance", forged, "--key", pub, check=False)
    assert bad.returncode == 1 and "signature does not match" in bad.stderr

    # Another farm's key: refused too.
    other = tmp_path / "other.pem"
    kilnctl("provenance", "key", "init", "--out", other)
    other_pub = tmp_path / "other.pub"
    shown = kilnctl("provenance", "key", "show", key=other).stdout
    other_pub.write_text(shown.split("key id:")[0])
    bad = kilnctl("verify", wheel, "--url", backend.url, "--key", other_pub, check=False)
    assert bad.returncode == 1 and "signature does not match" in bad.stderr


def test_openssl_recipe_verifies(farm, tmp_path):
    """The docs' recipe: PAE by hand, `openssl pkeyutl -verify -rawin`."""
    backend, key, fn, data = farm
    doc = provenance(backend, fn)
    env_ = doc["attestation_bundles"][0]["attestations"][0]["envelope"]
    st = base64.b64decode(env_["statement"])
    t = b"application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(st), st)
    (tmp_path / "pae").write_bytes(pae)
    (tmp_path / "sig").write_bytes(base64.b64decode(env_["signature"]))
    (tmp_path / "pub").write_bytes(backend.get("/.well-known/kiln-provenance.pub")[2])
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub",
                        "-rawin", "-in", tmp_path / "pae", "-sigfile", tmp_path / "sig"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, p.stdout + p.stderr


def test_unknown_file_and_unsigned_farm(farm, migrated, backend_factory):
    backend, _, fn, _ = farm
    st, _, body = backend.get(f"/integrity/prov-demo/2.0/{fn}/provenance")
    assert st == 404
    st, _, body = backend.get("/integrity/prov-demo/1.0/nope-1.0-py3-none-any.whl/provenance")
    assert st == 404
    # A farm without a key links no provenance and serves none.
    plain = backend_factory(migrated)
    st, _, body = plain.get("/simple/prov-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert st == 200 and "provenance" not in json.loads(body)["files"][0]
    assert plain.get("/.well-known/kiln-provenance.pub")[0] == 404
    plain.stop()


# ---- a real build: how it ran, in the signed statement ----

REAL_TARGET = "prov-real-py311-x86_64"


def _docker_works():
    return bool(shutil.which("docker")) and \
        subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def real_build(migrated, backend_factory, tmp_path_factory):
    """A builder builds an sdist whose build requirements come from a local index:
    setuptools (the image's own wheel, served again) and kilnhelper statically
    (pyproject.toml), kilnlate when the build asks for it (setup_requires)."""
    if not _docker_works():
        pytest.skip("needs a working Docker daemon")
    run([ROOT / "scripts" / "image.sh", "build"], timeout=3600)
    image = run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()
    tmp = tmp_path_factory.mktemp("prov-real")
    # The image's setuptools wheel, which the index serves as the real one.
    st_name, st_data = image_wheel(image, "setuptools-")
    idx = Upstream(html_only=True)
    helper = make_wheel("kilnhelper", "1.3", module_body='VERSION = "1.3"\n')
    late = make_wheel("kilnlate", "1.0", module_body='VERSION = "1.0"\n')
    idx.add_file("setuptools", st_name, st_data)
    idx.add_file("kilnhelper", *helper)
    idx.add_file("kilnlate", *late)
    base = "kprov_real-1.0"
    sdist = targz({
        f"{base}/pyproject.toml": '[build-system]\nrequires = ["setuptools", "kilnhelper"]\n'
                                  'build-backend = "setuptools.build_meta"\n',
        f"{base}/setup.py": "from setuptools import setup\n"
                            "setup(name='kprov-real', version='1.0', py_modules=['kprov_real'],\n"
                            "      setup_requires=['kilnlate>=1.0'])\n",
        f"{base}/kprov_real.py": "X = 1\n",
        f"{base}/PKG-INFO": "Metadata-Version: 2.1\nName: kprov-real\nVersion: 1.0\n",
    })
    files = FileServer()
    url, sha = files.add(f"{base}.tar.gz", sdist)
    env = {"KILN_DATABASE_URL": migrated}
    run([KILNCTL, "target", "add", REAL_TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env=env)
    key = tmp / "provenance.pem"
    run([KILNCTL, "provenance", "key", "init"], env={"KILN_PROVENANCE_KEY": str(key)})
    backend = backend_factory(migrated, env={"KILN_PROVENANCE_KEY": str(key)})
    name = f"prov-{secrets.token_hex(3)}"
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}",
                      run([KILNCTL, "builder", "add", name], env=env).stdout).group(0)
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('kprov-real', 'kprov-real')")
        r = c.execute("insert into releases (project_id, version, version_normalized) select id, '1.0', '1.0'"
                      " from projects where normalized = 'kprov-real' returning id").fetchone()[0]
        c.execute("insert into upstream_files (release_id, filename, kind, url, sha256, size)"
                  " values (%s, %s, 'sdist', %s, %s, %s)", (r, f"{base}.tar.gz", url, sha, len(sdist)))
        job = c.execute("insert into jobs (release_id, target_id) select %s, id from targets where name = %s"
                        " returning id", (r, REAL_TARGET)).fetchone()[0]
    log = open(tmp / "builder.log", "a")
    proc = subprocess.Popen([str(BUILD / "builder" / "kiln-builder")], stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "KILN_BACKEND_URL": backend.url.replace("http", "ws"),
                                 "KILN_BUILDER_TOKEN": token, "KILN_BUILDER_NAME": name,
                                 "KILN_BUILDER_TARGETS": REAL_TARGET, "KILN_DATA_DIR": str(tmp / "home"),
                                 "KILN_BUILD_INDEX_URL": idx.url + "/simple/", "KILN_LOG": "debug"})
    try:
        def done():
            with psycopg.connect(migrated) as c:
                row = c.execute("select state, failure_reason from jobs where id = %s", (job,)).fetchone()
            return row if row[0] in ("succeeded", "failed") else None
        state, reason = wait_for(done, 600, f"job {job} to finish")
        assert state == "succeeded", (reason, (tmp / "builder.log").read_text()[-3000:])
        yield {"db": migrated, "backend": backend, "image": image, "job": job,
               "files": {st_name: st_data, helper[0]: helper[1], late[0]: late[1]}}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        files.close()
        idx.close()


def test_real_build_statement_names_image_command_and_requirements(real_build):
    db, backend = real_build["db"], real_build["backend"]
    with psycopg.connect(db) as c:
        build, fn = c.execute("select b.id, a.filename from builds b join artifacts a on a.build_id = b.id"
                              " where b.job_id = %s and b.state = 'succeeded'", (real_build["job"],)).fetchone()
    st, _, body = backend.get(f"/integrity/kprov-real/1.0/{fn}/provenance")
    assert st == 200, body
    stmt = json.loads(base64.b64decode(
        json.loads(body)["attestation_bundles"][0]["attestations"][0]["envelope"]["statement"]))
    image_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", real_build["image"]]).stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    reported = {b["name"]: b["annotations"] for b in stmt["predicate"]["runDetails"]["byproducts"]}[
        "kiln:reported-by-builder"]
    # The image the build container ran, by id: what `docker image inspect` says of the target's image.
    assert reported["image"] == {"id": image_id, "name": real_build["image"]}
    deps = stmt["predicate"]["buildDefinition"]["resolvedDependencies"]
    img = next(d for d in deps if d["name"] == "build-image")
    assert img["uri"] == real_build["image"]
    assert img["digest"] == {"sha256": image_id[len("sha256:"):]}
    assert img["annotations"] == {"kiln:reported-by": "builder"}
    # The command: the in-sandbox driver, named by its hash, on the sdist; the environment's normalizations.
    cmd = reported["command"]
    assert cmd[:3] == ["python3", "-I", "-c"] and re.fullmatch(r"<kiln_build\.py sha256:[0-9a-f]{64}>", cmd[3])
    assert cmd[4:6] == ["--src", "/work/src/kprov_real-1.0.tar.gz"]
    assert cmd[6:] == ["--round", "2"]  # kilnlate was asked for at build time: a second round
    env = reported["environment"]
    for v in ("LANG=C.UTF-8", "TZ=UTC", "PYTHONHASHSEED=0"):
        assert v in env
    epoch = [v for v in env if v.startswith("SOURCE_DATE_EPOCH=")]
    assert len(epoch) == 1 and int(epoch[0].split("=")[1]) >= 315532800, env
    # The build requirements the builder fetched, each with the sha256 of the very file served.
    want = {n: hashlib.sha256(d).hexdigest() for n, d in real_build["files"].items()}
    got = {r["filename"]: r["sha256"] for r in reported["build_requirements"]}
    assert got == want, (got, want)
    for n, h in want.items():
        d = next(d for d in deps if d["name"] == n)
        assert d == {"name": n, "digest": {"sha256": h}, "annotations": {"kiln:reported-by": "builder"}}
    # The backend's own facts stay apart from the builder's word.
    verified = {b["name"]: b["annotations"] for b in stmt["predicate"]["runDetails"]["byproducts"]}[
        "kiln:verified-by-backend"]
    assert "image" not in verified and "command" not in verified
    # The build API shows the same, in short.
    st, _, body = backend.get(f"/api/v1/builds/{build}")
    assert st == 200
    w = json.loads(body)["built_with"]
    assert w["image_id"] == image_id and w["image_base"] is None and w["image_name"] == real_build["image"]
    assert w["command"] == cmd and w["environment"] == env and w["build_requirements"] == 3
    # And links the wheel's provenance (the build page does too).
    link = json.loads(body)["artifacts"][0]["provenance"]
    assert link == f"/integrity/kprov-real/1.0/{fn}/provenance"
    assert backend.get(link)[0] == 200
