"""The farm's reason to exist: pip and uv install wheels that went through upload.

For each storage driver: wheels are uploaded through the builders' endpoint
with a job's lease token, then real `pip install --index-url` and
`uv pip install --index-url` install them into fresh venvs, checking hashes, and
pip shows it used the PEP 658 metadata file.
"""
import hashlib
import os
import subprocess
import sys

import psycopg
import pytest

from conftest import ROOT, run, unique_prefix
from wheels import make_wheel

TOKEN = "kiln_" + "T" * 43
VENV_BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def project(migrated):
    """A project 'Kiln-Demo' and a cp311 target in a fresh database."""
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('Kiln-Demo', 'kiln-demo')")
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "('bookworm-py311-x86_64', 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64')")
    return migrated


def leased_job(db, version):
    """A release of Kiln-Demo with a job leased under TOKEN; returns the job id."""
    with psycopg.connect(db, autocommit=True) as c:
        r = c.execute("insert into releases (project_id, version, version_normalized) "
                      "select id, %s, %s from projects where normalized = 'kiln-demo' returning id",
                      (version, version)).fetchone()[0]
        return c.execute("insert into jobs (release_id, target_id, state, lease_token_hash, lease_expires_at, assigned_at) "
                         "select %s, id, 'running', %s, now() + interval '1 hour', now() from targets returning id",
                         (r, hashlib.sha256(TOKEN.encode()).hexdigest())).fetchone()[0]


def upload(backend, job_id, filename, data, token=TOKEN):
    return backend.request("PUT", f"/api/v1/jobs/{job_id}/artifacts/{filename}", body=data,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/octet-stream"})


def venv(tmp_path):
    d = tmp_path / "venv"
    run([sys.executable, "-m", "venv", d])
    return d


@pytest.fixture(scope="module", params=["fs", "s3"])
def served(request, project, backend_factory):
    """A backend over the given storage driver with a release of Kiln-Demo uploaded
    (1.0 on fs, 2.0 on s3: one database, two stores)."""
    db = project
    version = {"fs": "1.0", "s3": "2.0"}[request.param]
    job_id = leased_job(db, version)
    env = {}
    if request.param == "s3":
        env = dict(request.getfixturevalue("s3"))
    backend = backend_factory(db, storage=request.param, env=env)
    fn, data = make_wheel("Kiln-Demo", version, requires_python=">=3.8")
    status, _, body = upload(backend, job_id, fn, data)
    assert status in (200, 201), body
    # Publish, as the job's successful finish does (test_channel drives that path).
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("update artifacts set published_at = now() where job_id = %s", (job_id,))
    return backend, fn, data, version


def test_pip_installs_the_uploaded_wheel_with_pep658_metadata(served, tmp_path):
    backend, fn, data, version = served
    v = venv(tmp_path)
    p = run([v / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
             "--index-url", backend.url + "/simple/", f"kiln-demo=={version}"],
            env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull})
    assert f"Successfully installed kiln-demo-{version}" in p.stdout
    # pip fetched the separate metadata file instead of the wheel to resolve.
    assert f"{fn}.metadata" in p.stdout + p.stderr or "metadata" in p.stdout.lower()
    out = run([v / "bin" / "python", "-c", "import kiln_demo; print(kiln_demo.hello())"]).stdout
    assert out.strip() == f"hello from Kiln-Demo {version}"


def test_pip_checks_hashes(served, tmp_path):
    backend, fn, data, version = served
    v = venv(tmp_path)
    good = tmp_path / "good.txt"
    good.write_text(f"kiln-demo=={version} --hash=sha256:{hashlib.sha256(data).hexdigest()}\n")
    run([v / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--require-hashes",
         "--index-url", backend.url + "/simple/", "-r", good],
        env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull})
    bad = tmp_path / "bad.txt"
    bad.write_text(f"kiln-demo=={version} --hash=sha256:" + "0" * 64 + "\n")
    p = run([v / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--require-hashes",
             "--force-reinstall", "--index-url", backend.url + "/simple/", "-r", bad],
            env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}, check=False)
    assert p.returncode != 0 and "HASHES" in p.stderr.upper()


def test_uv_installs_the_uploaded_wheel(served, tmp_path):
    backend, fn, data, version = served
    v = venv(tmp_path)
    uv = os.path.join(VENV_BIN, "uv")
    p = run([uv, "pip", "install", "--no-cache", "--python", v / "bin" / "python",
             "--index-url", backend.url + "/simple/", f"kiln-demo=={version}"],
            env={"UV_NO_CONFIG": "1", "PIP_FIND_LINKS": ""})
    assert f"kiln-demo=={version}" in p.stdout + p.stderr
    out = run([v / "bin" / "python", "-c", "import kiln_demo; print(kiln_demo.VERSION)"]).stdout
    assert out.strip() == version
