"""Reproducible builds (issue 17 part 4, docs/builds.md "Reproducible builds").

What a user checks: the same sdist built twice by `kiln-builder build-local`, into
other output, data and temp directories, gives the same wheel bytes; the comparison
bench/repro/wheeldiff.py makes names the member that differs. The farm's own checks,
by two builders, with a project that embeds its build time: test_repro_farm.py.
"""
import importlib.util
import os
import sys

import pytest

from conftest import ROOT
from test_sandbox import (BUILDER, OWNER, _docker_works, image,  # noqa: F401 (fixture)
                          result_line)
from conftest import run

sys.path.insert(0, str(ROOT / "bench" / "repro"))
import wheeldiff  # noqa: E402

_spec = importlib.util.spec_from_file_location("repro_run", ROOT / "bench" / "repro" / "run.py")
repro = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(repro)

pytestmark = pytest.mark.skipif(not _docker_works(), reason="needs a working Docker daemon")


def build_twice(image, tmp_path, sdist):
    wheels = []
    for n in (1, 2):
        out, data, tmp = (tmp_path / f"{k}{n}" for k in ("out", "data", "tmp"))
        for d in (out, data, tmp):
            d.mkdir()
        env = dict(os.environ, KILN_DATA_DIR=str(data), TMPDIR=str(tmp))
        p = run([BUILDER, "build-local", "--owner", OWNER, "--image", image, "--out", out,
                 "--sdist", sdist, "--timeout", "600"], check=False, timeout=900, env=env)
        assert result_line(p) == "result: ok", p.stdout[-3000:] + p.stderr[-3000:]
        assert "kiln: SOURCE_DATE_EPOCH=1700000000 (2023-11-14 22:13:20 UTC)" in p.stdout
        (w,) = out.glob("*.whl")
        wheels.append(w)
    assert wheels[0].name == wheels[1].name
    return wheels


def test_c_extension_builds_to_the_same_bytes(image, tmp_path):
    a, b = build_twice(image, tmp_path, repro.demo_sdist(tmp_path, "krepro", embed_time=False))
    assert a.read_bytes() == b.read_bytes()
    r = wheeldiff.compare(a, b)
    assert r["identical"] and r["members"] == []
    assert wheeldiff.describe(r)[0].startswith("identical")


def test_wheeldiff_names_the_member_that_differs(tmp_path):
    """bench/repro/wheeldiff.py, the rules the farm's checks follow (common/wheeldiff;
    a build that embeds its time, built twice by two builders: test_repro_farm.py)."""
    import zipfile

    def wheel(path, so):
        with zipfile.ZipFile(path, "w") as z:
            for name, data in (("ktime/__init__.py", b""), ("ktime.so", so),
                               ("ktime-1.0.dist-info/RECORD", b"ktime.so,sha256=" + so)):
                z.writestr(zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20)), data)
        return path

    a = wheel(tmp_path / "a.whl", b"built at 1")
    b = wheel(tmp_path / "b.whl", b"built at 2")
    r = wheeldiff.compare(a, b)
    assert not r["identical"]
    assert {(m["name"], m["kind"]) for m in r["members"]} == {
        ("ktime.so", "content"), ("ktime-1.0.dist-info/RECORD", "content")}
    assert "  ktime.so: content" in wheeldiff.describe(r)
    p = run([sys.executable, ROOT / "bench" / "repro" / "wheeldiff.py", a, b], check=False)
    assert p.returncode == 1 and p.stdout.startswith("differs") and "ktime.so" in p.stdout
    c = wheel(tmp_path / "c.whl", b"built at 1")
    assert run([sys.executable, ROOT / "bench" / "repro" / "wheeldiff.py", a, c],
               check=False).returncode == 0
