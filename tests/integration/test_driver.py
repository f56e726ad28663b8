"""The in-sandbox build driver, through `kiln-builder build-local` and real Docker.

What a user of the farm would check: a setuptools project whose setup.py asks for
a build requirement at build time (setup_requires) builds, with that requirement
fetched on the host from a local index; Python 2 code is refused at the import
check and no wheel comes out; a C extension linking a library outside the
manylinux set comes out repaired (manylinux tag, the library inside the wheel)
and imports in a clean container that lacks the library; a wheel whose import
only misses a dependency module (left out by --no-deps) still succeeds, with a
note in the log.
"""
import os
import re
import zipfile

import pytest

from fakeindex import Upstream
from test_sandbox import (BUILDER, OWNER, PYPROJECT_IMAGE, _docker_works, build, image,  # noqa: F401 (fixture)
                          make_sdist,
                          result_line)
from conftest import run
from wheels import make_wheel

pytestmark = pytest.mark.skipif(not _docker_works(), reason="needs a working Docker daemon")

BZ2_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* libbz2's own declaration: the image has the library (Python's bz2 module uses
 * it), not its headers. */
extern const char *BZ2_bzlibVersion(void);

static PyObject *version(PyObject *self, PyObject *args)
{
    (void)self; (void)args;
    return PyUnicode_FromString(BZ2_bzlibVersion());
}
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "kbz", "", -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_kbz(void) { return PyModule_Create(&mod); }
"""


def lines(p, prefix):
    return [l[len(prefix):] for l in p.stdout.splitlines() if l.startswith(prefix)]


def test_setup_requires_is_fetched_on_the_host(image, tmp_path):
    """(2) A requirement named only at build time (setup_requires) comes from the host's index."""
    idx = Upstream(html_only=True)
    try:
        fn, data = make_wheel("kilnhelper", "1.3", module_body='VERSION = "1.3"\n')
        idx.add_file("kilnhelper", fn, data)
        # No pyproject.toml: nothing static to fetch, the image's setuptools builds.
        sdist = make_sdist(tmp_path, "ksr", "1.0", {
            "setup.py": "from setuptools import setup\n"
                        "try:\n"
                        "    import kilnhelper\n"
                        "    print('kiln-test: kilnhelper', kilnhelper.VERSION, flush=True)\n"
                        "except ImportError:\n"
                        "    pass\n"
                        "setup(name='ksr', version='1.0', py_modules=['ksr'],\n"
                        "      setup_requires=['kilnhelper>=1.2'])\n",
            "ksr.py": "X = 1\n",
        })
        out = tmp_path / "out"
        env = dict(os.environ, KILN_BUILD_INDEX_URL=idx.url + "/simple/")
        p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image,
                 "--out", out, "--sdist", sdist, "--timeout", "600"],
                check=False, timeout=900, env=env)
        assert result_line(p) == "result: ok", p.stdout[-3000:] + p.stderr[-3000:]
        log = p.stdout + p.stderr
        assert "the build backend asks for 1 build requirement(s) the sandbox does not have" in log
        assert "downloading build requirements on the host: kilnhelper>=1.2" in log
        assert "kiln-test: kilnhelper 1.3" in log
        assert [f.name for f in out.iterdir()] == ["ksr-1.0-py3-none-any.whl"]
        assert lines(p, "policy: ") == ["(pure)"]
        assert any(r.startswith("/files/kilnhelper-1.3") for r in idx.requests)
    finally:
        idx.close()


def test_setup_requires_missing_everywhere_fails_as_build_requirement(image, tmp_path):
    """A build-time requirement that no index has: stage requires, no wheel."""
    idx = Upstream(html_only=True)
    try:
        sdist = make_sdist(tmp_path, "ksr2", "1.0", {
            "setup.py": "from setuptools import setup\n"
                        "setup(name='ksr2', version='1.0', py_modules=['ksr2'],\n"
                        "      setup_requires=['kiln-no-such-project-xyz'])\n",
            "ksr2.py": "X = 1\n",
        })
        out = tmp_path / "out"
        env = dict(os.environ, KILN_BUILD_INDEX_URL=idx.url + "/simple/")
        p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image,
                 "--out", out, "--sdist", sdist, "--timeout", "600"],
                check=False, timeout=900, env=env)
        assert result_line(p).startswith("result: failed: could not download the build "
                                         "requirements (kiln-no-such-project-xyz)"), p.stdout
        assert lines(p, "stage: ") == ["requires"]
        assert not list(out.iterdir())
    finally:
        idx.close()


def test_setup_requires_without_host_fetching_fails_as_build_requirement(image, tmp_path):
    """With --no-prefetch nothing is fetched: a build-time requirement the image lacks fails."""
    sdist = make_sdist(tmp_path, "ksr3", "1.0", {
        "setup.py": "from setuptools import setup\n"
                    "setup(name='ksr3', version='1.0', py_modules=['ksr3'],\n"
                    "      setup_requires=['kilnhelper'])\n",
        "ksr3.py": "X = 1\n",
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert result_line(p) == ("result: failed: build requirements not available to the build: "
                              "kilnhelper"), p.stdout[-3000:]
    assert lines(p, "stage: ") == ["requires"]
    assert lines(p, "failure class: ") == ["build-requirement"]
    assert "the host fetches them" in p.stdout + p.stderr
    assert not list(out.iterdir())


def test_python2_code_is_refused_at_the_import_check(image, tmp_path):
    """(5) A module with `print "x"`: stage import, the reason names CPython 3.11, no wheel."""
    sdist = make_sdist(tmp_path, "kpy2", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": "from setuptools import setup\n"
                    "setup(name='kpy2', version='1.0', packages=['kpy2'])\n",
        "kpy2/__init__.py": "from kpy2.old import hello\n",
        "kpy2/old.py": 'def hello():\n    print "hello"\n',
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    res = result_line(p)
    assert res.startswith("result: failed: does not import on CPython 3.11: "), p.stdout[-3000:]
    assert "kpy2/old.py" in res and "SyntaxError" in res
    assert lines(p, "stage: ") == ["import"]
    assert lines(p, "failure class: ") == ["import"]
    assert not list(out.iterdir())


def test_missing_dependency_at_import_is_only_a_note(image, tmp_path):
    """(5) An import that fails for a dependency left out by --no-deps is not the wheel's fault."""
    sdist = make_sdist(tmp_path, "kdep", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": "from setuptools import setup\n"
                    "setup(name='kdep', version='1.0', packages=['kdep'],\n"
                    "      install_requires=['kiln-absent-dependency'])\n",
        "kdep/__init__.py": "import kiln_absent_dependency\n",
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert result_line(p) == "result: ok", p.stdout[-3000:] + p.stderr[-3000:]
    assert ("kiln: note: importing kdep: ModuleNotFoundError: No module named "
            "'kiln_absent_dependency' (not counted against the wheel)") in p.stdout + p.stderr
    assert [f.name for f in out.iterdir()] == ["kdep-1.0-py3-none-any.whl"]


def test_undefined_symbol_is_refused(image, tmp_path):
    """(5) An extension that does not load (undefined symbol) fails the import check."""
    c = BZ2_C.replace("BZ2_bzlibVersion", "kiln_nowhere").replace("kbz", "kundef")
    sdist = make_sdist(tmp_path, "kundef", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(name='kundef', version='1.0',\n"
                    "      ext_modules=[Extension('kundef', ['kundef.c'])])\n",
        "kundef.c": c,
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    res = result_line(p)
    assert res.startswith("result: failed: does not import on CPython 3.11: "), p.stdout[-3000:]
    assert "undefined symbol: kiln_nowhere" in res
    assert lines(p, "stage: ") == ["import"]
    assert not list(out.iterdir())


def test_library_outside_manylinux_is_grafted_and_imports_without_it(image, tmp_path):
    """(4) libbz2 is not in the manylinux set: the repaired wheel carries it and works without it."""
    sdist = make_sdist(tmp_path, "kbz", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(name='kbz', version='1.0',\n"
                    "      ext_modules=[Extension('kbz', ['kbz.c'],\n"
                    "                             extra_link_args=['-l:libbz2.so.1.0'])])\n",
        "kbz.c": BZ2_C,
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert result_line(p) == "result: ok", p.stdout[-3000:] + p.stderr[-3000:]
    wheels = [f.name for f in out.iterdir()]
    assert len(wheels) == 1, wheels
    name = wheels[0]
    assert name.startswith("kbz-1.0-cp311-cp311-"), name
    tags = name[:-4].split("-")[-1].split(".")
    assert "linux_x86_64" not in tags, name
    [policy] = lines(p, "policy: ")
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", policy), policy
    assert policy in tags
    assert lines(p, "needs: ") == []
    with zipfile.ZipFile(out / name) as z:
        grafted = [n for n in z.namelist() if n.startswith("kbz.libs/libbz2")]
    assert grafted, "libbz2 is not inside the wheel"
    # A clean container of the same image, with the system's libbz2 removed.
    script = ("rm -f /usr/lib/x86_64-linux-gnu/libbz2.so* /lib/x86_64-linux-gnu/libbz2.so* && "
              "! python3 -c 'import bz2' 2>/dev/null && "
              "python3 -m pip install -q --no-index --no-deps --target /tmp/t /out/*.whl && "
              "PYTHONPATH=/tmp/t python3 -c 'import kbz; print(kbz.version())'")
    got = run(["docker", "run", "--rm", "--network", "none", "-v", f"{out}:/out:ro", image,
               "sh", "-c", script]).stdout
    assert got.strip().startswith("1.0."), got
    # And the unrepaired build would not have: the system copy is what it links.
    assert "kiln: repaired: " + name in p.stdout + p.stderr


def test_system_library_of_the_manylinux_set_is_reported(image, tmp_path):
    """(4) libstdc++ stays outside the wheel (manylinux allows it) and is listed as needed."""
    sdist = make_sdist(tmp_path, "kcxx", "1.0", {
        "pyproject.toml": PYPROJECT_IMAGE,
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(name='kcxx', version='1.0',\n"
                    "      ext_modules=[Extension('kcxx', ['kcxx.cpp'], language='c++')])\n",
        "kcxx.cpp": '#include <Python.h>\n#include <string>\n'
                    'static PyObject *hi(PyObject *, PyObject *) {\n'
                    '    std::string s("hi"); s += "!"; return PyUnicode_FromString(s.c_str()); }\n'
                    'static PyMethodDef m[] = {{"hi", hi, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};\n'
                    'static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "kcxx", "", -1, m};\n'
                    'PyMODINIT_FUNC PyInit_kcxx(void) { return PyModule_Create(&d); }\n',
    })
    out = tmp_path / "out"
    p = build(image, out, "--sdist", sdist, "--no-prefetch", "--timeout", "300")
    assert result_line(p) == "result: ok", p.stdout[-3000:] + p.stderr[-3000:]
    assert "libstdc++.so.6" in lines(p, "needs: ")
    with zipfile.ZipFile(next(out.iterdir())) as z:
        assert not [n for n in z.namelist() if ".libs/" in n]
