"""Signed provenance (issue 17, part 3): every published wheel has a DSSE-signed
in-toto statement, linked from the index the PEP 740 way, and `kilnctl verify`
checks a downloaded wheel against it and the farm's public key.

A wheel is published through the upload API (a real, generated wheel) by a job
held with a lease, then marked published as a builder's finish does.
"""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys

import psycopg
import pytest

from conftest import KILNCTL, run
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
