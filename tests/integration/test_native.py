"""Native build dependencies with `kiln-builder build-local` (issue 15, parts 1 and 6).

A generated sdist whose C extension includes <yaml.h> and links -lyaml (libyaml-dev
is on purpose not in the image's curated -dev set): without help it fails with the
class native-dependency and the Contents index names the package that ships the
header; with --native-package libyaml-dev it builds in a derived image (the target
image plus that package, installed by apt outside the sandbox), which the next
build reuses. Bad package names are refused before anything runs. Real Docker,
the real image; the derived images this run makes are removed at the end.
"""
import io
import secrets
import shutil
import subprocess
import tarfile
import time
import zipfile

import pytest

from conftest import BUILD, ROOT, run

BUILDER = BUILD / "builder" / "kiln-builder"
OWNER = "native-test-" + secrets.token_hex(4)
PROJECT = "kyaml-" + secrets.token_hex(3)

YAML_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

static PyObject *version(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return PyUnicode_FromString(yaml_get_version_string());
}

static PyMethodDef methods[] = {{"version", version, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "kyaml", "", -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_kyaml(void) { return PyModule_Create(&mod); }
"""
SETUP_PY = """from setuptools import Extension, setup
setup(name="kyaml", version="1.0",
      ext_modules=[Extension("kyaml", ["kyaml.c"], libraries=["yaml"])])
"""
PYPROJECT = """[build-system]
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
    run([ROOT / "scripts" / "image.sh", "build"], timeout=3600)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


def derived_images():
    """This run's derived images (their org.kiln.derived-by label)."""
    return set(run(["docker", "images", "-q", "--no-trunc", "--filter",
                    f"label=org.kiln.derived-by={OWNER}"]).stdout.split())


@pytest.fixture(scope="module", autouse=True)
def remove_derived_images():
    yield
    for i in derived_images():
        subprocess.run(["docker", "rmi", i], capture_output=True)


def containers():
    return set(run(["docker", "ps", "-aq", "--filter",
                    f"label=org.kiln.builder={OWNER}"]).stdout.split())


@pytest.fixture(autouse=True)
def no_leftovers():
    before = containers()
    yield
    assert containers() <= before, "containers left behind"


NET_PROBE = """import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=5)
except OSError as e:
    raise SystemExit("kiln-test: no network in the build: %r" % (e,))
raise SystemExit("kiln-test: the build reached the network")
"""


def kyaml_sdist(where, prefix=""):
    top = "kyaml-1.0"
    files = {"PKG-INFO": "Metadata-Version: 2.1\nName: kyaml\nVersion: 1.0\n",
             "pyproject.toml": PYPROJECT, "setup.py": prefix + SETUP_PY, "kyaml.c": YAML_C}
    path = where / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            t.addfile(info, io.BytesIO(data))
    return path


def build(image, out, *args, timeout=900):
    p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image, "--out", out,
             "--no-prefetch", "--timeout", "600", *args], check=False, timeout=timeout)
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    return p


def test_missing_header_is_a_native_dependency_with_its_package(image, tmp_path):
    """The build fails, is classed native-dependency, and the fix names libyaml-dev."""
    p = build(image, tmp_path / "out", "--sdist", kyaml_sdist(tmp_path))
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "fatal error: yaml.h: No such file or directory" in p.stdout + p.stderr
    assert "failure class: native-dependency" in p.stdout
    assert "missing yaml.h, shipped by libyaml-dev (header)" in p.stdout
    assert "fix: rebuild with --native-package libyaml-dev" in p.stdout
    assert not any((tmp_path / "out").iterdir())


def test_native_package_builds_in_a_derived_image_reused_next_time(image, tmp_path):
    """With libyaml-dev the wheel builds (in a derived image), links libyaml and works;
    the second build reuses the image instead of running apt again."""
    sdist = kyaml_sdist(tmp_path)
    before = derived_images()
    out1 = tmp_path / "out1"
    p = build(image, out1, "--sdist", sdist, "--native-package", "libyaml-dev",
              "--project", PROJECT, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: building derived image kiln/derived:" in p.stderr
    assert "Setting up libyaml-dev" in p.stdout + p.stderr  # apt's output is in the log
    new = derived_images() - before
    assert len(new) == 1, new
    (img,) = new
    labels = run(["docker", "image", "inspect", "-f",
                  "{{index .Config.Labels \"org.kiln.project\"}}", img]).stdout.strip()
    assert labels == PROJECT
    wheels = [f.name for f in out1.iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("kyaml-1.0-cp311-cp311-"), wheels
    with zipfile.ZipFile(out1 / wheels[0]) as z:
        assert any(n.startswith("kyaml.cpython-311") for n in z.namelist())
    # The extension really uses libyaml: it runs in the derived image (offline).
    got = run(["docker", "run", "--rm", "--network", "none", "--user", "1000:1000",
               "-v", f"{out1}:/out:ro", img, "sh", "-c",
               "python3 -m pip install -q --no-index --target /tmp/t /out/*.whl && "
               "PYTHONPATH=/tmp/t python3 -c 'import kyaml; print(kyaml.version())'"]).stdout
    assert got.strip().startswith("0.2"), got

    out2 = tmp_path / "out2"
    p = build(image, out2, "--sdist", sdist, "--native-package", "libyaml-dev",
              "--project", PROJECT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: using derived image kiln/derived:" in p.stderr
    assert "building derived image" not in p.stderr
    assert "Setting up libyaml-dev" not in p.stdout + p.stderr
    assert derived_images() - before == new

    # The build in a derived image is as offline as any other.
    (tmp_path / "net").mkdir()
    p = build(image, tmp_path / "out3", "--sdist", kyaml_sdist(tmp_path / "net", NET_PROBE),
              "--native-package", "libyaml-dev", "--project", PROJECT)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: using derived image kiln/derived:" in p.stderr
    assert "kiln-test: no network in the build" in p.stdout + p.stderr
    assert "kiln-test: the build reached the network" not in p.stdout + p.stderr


def test_unused_derived_images_are_removed(image, tmp_path):
    """With KILN_BUILDER_DERIVED_MAX_AGE_DAYS=0 a derived image is gone after its build;
    another owner's are not touched."""
    before = derived_images()
    out = tmp_path / "out"
    p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image, "--out", out,
             "--no-prefetch", "--timeout", "600", "--sdist", kyaml_sdist(tmp_path),
             "--native-package", "libyaml-dev", "--project", PROJECT + "-gc"],
            check=False, timeout=1800, env={"KILN_BUILDER_DERIVED_MAX_AGE_DAYS": "0",
                                            "KILN_DATA_DIR": str(tmp_path / "data")})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: building derived image" in p.stderr
    removed = len(before) + 1
    assert f"kiln: removed {removed} unused derived image(s)" in p.stderr
    assert derived_images() == set()


@pytest.mark.parametrize("bad", ["LibYaml-dev", "-oops", "libyaml-dev;reboot", "a" * 65, "x y"])
def test_bad_package_name_is_refused_before_anything_runs(image, tmp_path, bad):
    before = derived_images()
    p = build(image, tmp_path / "out", "--sdist", kyaml_sdist(tmp_path),
              "--native-package", bad, timeout=60)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "bad Debian package name" in p.stderr
    assert "kiln: " not in p.stderr  # no build, no apt step, not even a download
    assert derived_images() == before


def test_unknown_package_is_a_verdict_not_an_infrastructure_failure(image, tmp_path):
    p = build(image, tmp_path / "out", "--sdist", kyaml_sdist(tmp_path),
              "--native-package", "kiln-no-such-package-dev", "--project", PROJECT)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "kiln: no such Debian package: kiln-no-such-package-dev" in p.stderr
    assert "failure class: native-dependency" in p.stdout
