"""Reproducible builds (issue 17 part 4, docs/builds.md "Reproducible builds").

What a user checks: the same sdist built twice by `kiln-builder build-local`, into
other output, data and temp directories, gives the same wheel bytes; a project that
embeds the build time gives wheels that differ, and the comparison the farm is to
use (bench/repro/wheeldiff.py) names the member that differs.
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


def test_embedded_build_time_is_named(image, tmp_path):
    a, b = build_twice(image, tmp_path, repro.demo_sdist(tmp_path, "ktime", embed_time=True))
    r = wheeldiff.compare(a, b)
    assert not r["identical"]
    so = "ktime.cpython-311-x86_64-linux-gnu.so"
    assert {(m["name"], m["kind"]) for m in r["members"]} == {
        (so, "content"), ("ktime-1.0.dist-info/RECORD", "content")}
    # The other members, dates and modes included, are the same.
    assert f"  {so}: content" in wheeldiff.describe(r)
    p = run([sys.executable, ROOT / "bench" / "repro" / "wheeldiff.py", a, b], check=False)
    assert p.returncode == 1 and p.stdout.startswith("differs") and so in p.stdout
