"""The builder images of the target matrix (scripts/image.sh, builder/targets.txt).

The full images are big; these tests use the smallest recipe (builder/image-min)
through the test-only targets of tests/targets-min.txt: one per newer suite on
this machine's architecture and one emulated aarch64 image (tests/run.sh builds
them ahead; a missing one is built here). Each image must say what it is in its
labels, run the target's CPython as `python3`, and build a C extension offline
whose wheel auditwheel repairs to a manylinux tag the target's glibc allows.
"""
import json
import os
import platform
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run
from sdists import make_sdist

IMAGE = ROOT / "scripts" / "image.sh"
EMULATION = ROOT / "scripts" / "emulation.sh"
MIN_TARGETS = ROOT / "tests" / "targets-min.txt"
ENV = {"KILN_TARGETS_FILE": str(MIN_TARGETS)}

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs Docker")


def targets():
    """{name: (suite, python, arch, glibc, recipe)} of tests/targets-min.txt."""
    out = {}
    for line in MIN_TARGETS.read_text().splitlines():
        f = line.split("#", 1)[0].split()
        if f:
            out[f[0]] = tuple(f[1:])
    return out


HOST = platform.machine()
NATIVE = sorted(n for n, t in targets().items() if t[2] == HOST)
EMULATED = sorted(n for n, t in targets().items() if t[2] != HOST)


def image_of(name):
    """Build the target's image (a no-op when it exists) and return its tag."""
    run([IMAGE, "build", name], env=ENV, timeout=1800)
    return run([IMAGE, "name", name], env=ENV).stdout.strip()


def docker(*args, timeout=600):
    return run(["docker", *args], timeout=timeout)


def test_list_and_name_follow_the_target_files():
    lines = run([IMAGE, "list"]).stdout.splitlines()
    names = [ln.split()[0] for ln in lines]
    # builder/targets.txt: three suites on each architecture, the default first.
    assert names[0] == "bookworm-py311-x86_64"
    assert {"trixie-py313-x86_64", "forky-py314-x86_64", "bookworm-py311-aarch64",
            "trixie-py313-aarch64", "forky-py314-aarch64"} <= set(names)
    # `name` alone is the default target's image, as before there were targets.
    default = run([IMAGE, "name"]).stdout.strip()
    assert default == run([IMAGE, "name", "bookworm-py311-x86_64"]).stdout.strip()
    assert re.fullmatch(r"kiln/bookworm-py311-x86_64:[0-9a-f]{12}", default)
    assert lines[0].split()[-1] == default
    # The same recipe for another suite, python or arch is another image.
    tags = {ln.split()[-1].split(":")[1] for ln in lines}
    assert len(tags) == len(lines)
    # The test-only targets are there only with KILN_TARGETS_FILE.
    assert "trixie-py313-x86_64-min" not in names
    with_min = run([IMAGE, "list"], env=ENV).stdout
    assert "trixie-py313-x86_64-min trixie 3.13 x86_64 2.41 builder/image-min kiln/trixie-py313-x86_64-min:" in with_min
    unknown = run([IMAGE, "name", "nosuch-py399-x86_64"], check=False)
    assert unknown.returncode != 0 and "no target 'nosuch-py399-x86_64'" in unknown.stderr


def write_sdist(tmp_path):
    """An unpacked sdist of a one-file C extension `kimg`, readable by uid 1000."""
    import io
    import tarfile
    filename, data = make_sdist("kimg", "1.0")
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        t.extractall(tmp_path, filter="data")
    src = tmp_path / "kimg-1.0"
    out = tmp_path / "out"
    out.mkdir()
    for p in [tmp_path, src, *src.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    out.chmod(0o777)  # the container writes here as uid 1000
    return src, out


@pytest.mark.parametrize("name", NATIVE)
def test_min_image_builds_a_repaired_wheel_for_its_python(name, tmp_path):
    suite, python, arch, glibc, recipe = targets()[name]
    tag = image_of(name)
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", tag).stdout)
    assert labels == {"org.kiln.target": name, "org.kiln.arch": arch, "org.kiln.python": python,
                      "org.kiln.suite": suite, "org.kiln.glibc": glibc,
                      "org.kiln.recipe": tag.split(":")[1]}
    facts = docker("run", "--rm", "--network", "none", tag, "sh", "-c",
                   "python3 --version; cat /etc/kiln-image; ldd --version | head -n 1").stdout
    assert re.search(rf"^Python {re.escape(python)}\.\d+", facts, re.M), facts
    for field in (f"target={name}", f"arch={arch}", f"python={python}", f"suite={suite}",
                  f"glibc={glibc}"):
        assert field in facts.splitlines()
    assert facts.rstrip().endswith(glibc), facts  # the image's glibc is the one the line says

    src, out = write_sdist(tmp_path)
    abi = "cp" + python.replace(".", "")
    script = ("set -e; python3 -m pip wheel -q /src -w /tmp/w; "
              "/opt/kiln/tools/bin/auditwheel repair -w /out /tmp/w/*.whl >/dev/null; "
              "python3 -m pip install -q --no-index --target /tmp/t /out/*.whl; "
              "PYTHONPATH=/tmp/t python3 -c 'import kimg; print(kimg.add(2, 3))'")
    got = docker("run", "--rm", "--network", "none", "--user", "1000", "-v", f"{src}:/src:ro",
                 "-v", f"{out}:/out", tag, "sh", "-c", script).stdout
    assert got.strip() == "5"
    wheels = [p.name for p in out.iterdir()]
    assert len(wheels) == 1, wheels
    m = re.fullmatch(rf"kimg-1\.0-{abi}-{abi}-(.+)\.whl", wheels[0])
    assert m, wheels
    plats = m.group(1).split(".")
    minors = [int(p.split("_")[2]) for p in plats if p.startswith("manylinux_2_")]
    assert minors and max(minors) <= int(glibc.split(".")[1]), plats
    assert all(p.endswith("_" + arch) for p in plats), plats


@pytest.mark.parametrize("name", EMULATED)
def test_emulated_min_image_runs_and_builds_as_its_arch(name, tmp_path):
    suite, python, arch, glibc, recipe = targets()[name]
    if run([EMULATION, "status", arch], check=False).returncode != 0:
        if os.geteuid() != 0:
            pytest.skip(f"{arch} is not emulated here and enabling it needs root")
        run([EMULATION, "enable", arch], timeout=600)
    tag = image_of(name)
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", tag).stdout)
    assert labels["org.kiln.arch"] == arch and labels["org.kiln.python"] == python
    src, out = write_sdist(tmp_path)
    abi = "cp" + python.replace(".", "")
    # One container, little work: emulated, every step is several times slower.
    script = ("set -e; uname -m; python3 -m pip wheel -q /src -w /out; "
              "python3 -m pip install -q --no-index --target /tmp/t /out/*.whl; "
              "PYTHONPATH=/tmp/t python3 -c 'import kimg; print(kimg.add(2, 3))'")
    got = docker("run", "--rm", "--network", "none", "--user", "1000", "-v", f"{src}:/src:ro",
                 "-v", f"{out}:/out", tag, "sh", "-c", script, timeout=900).stdout.split()
    assert got == [arch, "5"]
    assert [p.name for p in out.iterdir()] == [f"kimg-1.0-{abi}-{abi}-linux_{arch}.whl"]


def test_emulation_status_names_the_fix_when_missing():
    p = subprocess.run([str(EMULATION), "status", "aarch64"], capture_output=True, text=True)
    if HOST == "aarch64":
        assert p.returncode == 0 and "native" in p.stdout
    elif p.returncode == 0:
        assert p.stdout.startswith("aarch64: emulated (")
    else:
        assert "scripts/emulation.sh enable aarch64" in p.stdout
