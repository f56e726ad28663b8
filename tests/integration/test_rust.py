"""Rust extensions: pyo3 projects build offline in the sandbox.

The sdists are generated here: a maturin project and a setuptools-rust one, each
a tiny #[pyfunction] add(a, b) over pyo3. Their build requirements (maturin,
setuptools-rust) come from the host's pip as every build requirement does; their
crates are vendored by the host's cargo (builder/crates.c) and handed in; the
sandbox has no network. The wheels are installed into the image, offline, and
called. A project whose crates would come from git, or from a path outside the
project, is refused before anything runs in the sandbox, with the reason.

Then the same through the farm: a job for the maturin sdist (without Cargo.lock)
on a real builder, its wheel installed from Kiln's index and imported; and a job
for a git dependency fails with the reason stored.
"""
import os
import re
import secrets
import shutil
import subprocess
import sys

import psycopg
import pytest

from conftest import KILNCTL, ROOT, run
from sdists import FileServer
from test_builds import TARGET, Farm
from test_sandbox import build, make_sdist, no_leftovers, run_in_image  # noqa: F401 (fixture)

# pyo3 0.25 needs rustc >= 1.63; the image has rustc-web 1.85 or later (docs/builds.md).
PYO3 = "0.25"

LIB_RS = """use pyo3::prelude::*;

#[pyfunction]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[pymodule]
fn %(mod)s(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    Ok(())
}
"""


def cargo_toml(mod, deps=None):
    deps = deps or f'pyo3 = {{ version = "{PYO3}", features = ["extension-module"] }}\n'
    return (f'[package]\nname = "{mod}"\nversion = "1.0.0"\nedition = "2021"\n'
            f'rust-version = "1.85"\n\n[lib]\nname = "{mod}"\ncrate-type = ["cdylib"]\n\n'
            f"[dependencies]\n{deps}")


def maturin_files(name, deps=None):
    mod = name.replace("-", "_")
    return {
        "pyproject.toml": '[build-system]\nrequires = ["maturin>=1.5,<2"]\nbuild-backend = "maturin"\n\n'
                          f'[project]\nname = "{name}"\nversion = "1.0"\nrequires-python = ">=3.8"\n',
        "Cargo.toml": cargo_toml(mod, deps),
        "src/lib.rs": LIB_RS % {"mod": mod},
    }


def setuptools_rust_files(name):
    """setuptools-rust with the crate in a subdirectory, named by setup.py."""
    mod = name.replace("-", "_")
    return {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=62.4", "wheel", "setuptools-rust>=1.7"]\n'
                          'build-backend = "setuptools.build_meta"\n',
        "setup.py": "from setuptools import setup\nfrom setuptools_rust import Binding, RustExtension\n"
                    f'setup(name="{name}", version="1.0", rust_extensions=[RustExtension('
                    f'"{mod}", path="rust/Cargo.toml", binding=Binding.PyO3)], zip_safe=False)\n',
        "rust/Cargo.toml": cargo_toml(mod),
        "rust/src/lib.rs": LIB_RS % {"mod": mod},
    }


def host_cargo():
    cargo = shutil.which("cargo")
    if not cargo:
        pytest.fail("no cargo on this host: scripts/deps.sh test installs cargo-web")
    return cargo


def lockfile(tmp_path, files, *pins):
    """Cargo.lock for the crate in files, by the host's cargo; pins: (crate, version) held back."""
    d = tmp_path / "lock"
    for rel, text in files.items():
        if rel == "Cargo.toml" or rel.startswith("src/"):
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
    env = {"CARGO_HOME": str(tmp_path / "cargo-home"),
           "CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS": "fallback"}
    p = run([host_cargo(), "generate-lockfile"], cwd=d, env=env, check=False, timeout=300)
    if p.returncode:
        pytest.skip("the host's cargo cannot reach the crate registry: " + p.stderr[-500:])
    for crate, version in pins:
        run([host_cargo(), "update", "-p", crate, "--precise", version], cwd=d, env=env, timeout=300)
    return (d / "Cargo.lock").read_text()


def skip_without_index(p):
    if p.returncode == 4 and "could not download the build requirements" in p.stderr:
        pytest.skip("the host's pip cannot reach its index: " + p.stderr[-500:])


@pytest.fixture(scope="module")
def image():
    run([ROOT / "scripts" / "image.sh", "build"], timeout=3600)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


# --- build-local ------------------------------------------------------------------

def test_maturin_pyo3_with_cargo_lock_builds_offline(image, tmp_path):
    files = maturin_files("kpyo-lock")
    # The lock holds unindent back at 0.2.3: vendoring must take that, not the newest.
    files["Cargo.lock"] = lockfile(tmp_path, files, ("unindent", "0.2.3"))
    assert 'name = "unindent"\nversion = "0.2.3"' in files["Cargo.lock"]
    sdist = make_sdist(tmp_path, "kpyo_lock", "1.0", files)
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--timeout", "1200", "--memory-mib", "3072", timeout=1500)
    skip_without_index(p)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: Rust crates: vendoring on the host for Cargo.toml (--locked" in p.stderr
    listed = re.search(r"kiln: Rust crates: (\d+) vendored \([0-9.]+ MB\), handed in as /work/cargo: (.*)",
                       p.stderr)
    assert listed, p.stderr[-3000:]
    crates = listed.group(2).split(", ")
    assert len(crates) == int(listed.group(1)) and "unindent-0.2.3" in crates
    assert any(c.startswith("pyo3-0.25.") for c in crates)
    log = p.stdout + p.stderr
    assert "Compiling pyo3 v0.25" in log and "Compiling unindent v0.2.3" in log
    wheels = [f.name for f in out.iterdir()]
    assert len(wheels) == 1 and re.fullmatch(r"kpyo_lock-1\.0-cp311-cp311-\w+\.whl", wheels[0]), wheels
    assert run_in_image(image, out, "import kpyo_lock; print(kpyo_lock.add(2, 40))").strip() == "42"


def test_setuptools_rust_pyo3_builds_offline(image, tmp_path):
    sdist = make_sdist(tmp_path, "ksrust", "1.0", setuptools_rust_files("ksrust"))
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--timeout", "1200", "--memory-mib", "3072", timeout=1500)
    skip_without_index(p)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    # No Cargo.lock: resolved on the host, the manifest found where setup.py points.
    assert "kiln: Rust crates: vendoring on the host for rust/Cargo.toml\n" in p.stderr
    wheels = [f.name for f in out.iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("ksrust-1.0-cp311-cp311-"), wheels
    assert run_in_image(image, out, "import ksrust; print(ksrust.add(20, 22))").strip() == "42"


@pytest.mark.parametrize("deps, why", [
    ('pyo3 = { version = "0.25" }\nevil = { git = "https://example.invalid/evil.git" }\n',
     "Cargo.toml: [dependencies] evil comes from git (https://example.invalid/evil.git): "
     "Kiln fetches crates from the crate registry only"),
    ('evil = { path = "../../../etc" }\n',
     "Cargo.toml: [dependencies] evil has path '../../../etc', outside the project"),
])
def test_crates_from_elsewhere_are_refused(image, tmp_path, deps, why):
    sdist = make_sdist(tmp_path, "kpyo_bad", "1.0", maturin_files("kpyo-bad", deps))
    p = build(image, tmp_path / "out", "--sdist", sdist)
    skip_without_index(p)
    assert p.returncode == 3, p.stdout[-3000:] + p.stderr[-3000:]
    assert f"kiln-builder: {why}" in p.stderr
    assert "kiln: building in" not in p.stderr  # refused before the sandbox


def test_a_build_without_rust_vendors_nothing(image, tmp_path):
    sdist = make_sdist(tmp_path, "kplain", "1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools", "wheel"]\n'
                          'build-backend = "setuptools.build_meta"\n',
        "setup.py": "from setuptools import setup\nsetup(name='kplain', version='1.0', py_modules=['kplain'])\n",
        "kplain.py": "X = 1\n"})
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--timeout", "300")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Rust crates" not in p.stderr
    assert [f.name for f in out.iterdir()] == ["kplain-1.0-py3-none-any.whl"]


# --- the farm: a job's source goes through jobsource, crates and all ----------------

@pytest.fixture(scope="module")
def files():
    f = FileServer()
    yield f
    f.close()


@pytest.fixture(scope="module")
def farm(migrated, backend_factory, image, s3, tmp_path_factory):
    run([KILNCTL, "target", "add", TARGET, "--image", image, "--python", "3.11",
         "--platform", "linux_x86_64"], env={"KILN_DATABASE_URL": migrated})
    env = {"KILN_JOB_TIMEOUT": "1200", "KILN_JOB_MEMORY_MIB": "3072"}
    backend = backend_factory(migrated, storage="s3", env={**s3, **env})
    f = Farm(migrated, backend, image, tmp_path_factory.mktemp("farm"), backend_factory, s3)
    f.start_builder(f"builder-rust-{secrets.token_hex(3)}")
    yield f
    f.stop_all()


def test_a_rust_job_builds_on_the_farm_and_installs_from_kiln(farm, files, tmp_path):
    fn = "kpyo_farm-1.0.tar.gz"
    url, sha = files.add(fn, make_sdist(tmp_path, "kpyo_farm", "1.0", maturin_files("kpyo-farm")).read_bytes())
    job = farm.queue("kpyo-farm", "1.0", url, sha, fn)
    state, _, reason, _ = farm.wait_done(job, timeout=1500)
    if state != "succeeded" and reason and "could not download the build requirements" in reason:
        pytest.skip("the host's pip cannot reach its index: " + reason)
    assert state == "succeeded", reason
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--only-binary", ":all:",
         "--index-url", farm.backend.url + "/simple/", "kpyo-farm==1.0"],
        env={"PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull})
    got = run([venv / "bin" / "python", "-c", "import kpyo_farm; print(kpyo_farm.add(40, 2))"]).stdout
    assert got.strip() == "42"
    with psycopg.connect(farm.db) as c:
        build_id = c.execute("select id from builds where job_id = %s and state = 'succeeded'",
                             (job,)).fetchone()[0]
    status, _, log = farm.backend.get(f"/api/v1/builds/{build_id}/log")
    assert status == 200
    assert b"kiln: Rust crates: vendoring on the host for Cargo.toml" in log
    assert b"Compiling pyo3" in log


def test_a_git_crate_fails_the_job_with_the_reason(farm, files, tmp_path):
    fn = "kpyo_git-1.0.tar.gz"
    deps = 'evil = { git = "https://example.invalid/evil.git" }\n'
    url, sha = files.add(fn, make_sdist(tmp_path, "kpyo_git", "1.0", maturin_files("kpyo-git", deps)).read_bytes())
    job = farm.queue("kpyo-git", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=600)
    assert state == "failed" and attempts == 1, (state, attempts, reason)
    assert "evil comes from git (https://example.invalid/evil.git)" in reason
    assert "crate registry only" in reason
