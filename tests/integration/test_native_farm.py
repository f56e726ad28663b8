"""A missing native library through the whole farm: backend, builder, real Docker
(issue 15's first "Done when" path).

A generated sdist includes <yaml.h> and links -lyaml; libyaml-dev is on purpose
not in the image's curated base set. The first attempt fails; the builder
classifies it (native-dependency), looks the header up in the image's Contents
index and reports libyaml-dev; the backend's policy (KILN_NATIVE_AUTO_RETRY, on
by default) adds the package to the project and queues the job once more; the
builder builds it in a derived image and the wheel is published. Shares
test_builds.py's farm.
"""
import json
import subprocess
import urllib.request

import psycopg

from sdists import targz
from test_builds import build_log, farm, files, image  # noqa: F401  (fixtures)

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
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "kyamlfarm", NULL, -1, methods};
PyMODINIT_FUNC PyInit_kyamlfarm(void) { return PyModule_Create(&module); }
"""
SETUP_PY = """from setuptools import Extension, setup
setup(name="kyamlfarm", version="1.0",
      ext_modules=[Extension("kyamlfarm", ["kyamlfarm.c"], libraries=["yaml"])])
"""


def yaml_sdist():
    base = "kyamlfarm-1.0"
    return f"{base}.tar.gz", targz({
        f"{base}/setup.py": SETUP_PY,
        f"{base}/kyamlfarm.c": YAML_C,
        f"{base}/PKG-INFO": "Metadata-Version: 2.1\nName: kyamlfarm\nVersion: 1.0\n",
    })


def test_missing_library_is_suggested_added_and_retried_once(farm, files):
    fn, data = yaml_sdist()
    url, sha = files.add(fn, data)
    job = farm.queue("kyamlfarm", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=900)
    assert state == "succeeded", (state, reason)
    with psycopg.connect(farm.db) as c:
        builds = c.execute("select attempt, state, failure_class, missing, native_packages "
                           "from builds where job_id = %s order by attempt", (job,)).fetchall()
        added = c.execute("select n.package, n.added_by from project_native_packages n "
                          "join projects p on p.id = n.project_id where p.normalized = 'kyamlfarm'"
                          ).fetchall()
        wheels = c.execute("select a.filename from artifacts a join builds b on b.id = a.build_id "
                           "where b.job_id = %s", (job,)).fetchall()
    # The first attempt: a verdict on the project, with the package that fixes it.
    first, last = builds[0], builds[-1]
    assert first[1] == "failed" and first[2] == "native-dependency", builds
    assert {"kind": "header", "name": "yaml.h", "package": "libyaml-dev"} in first[3], first[3]
    # The automatic retry: the package went onto the project, the next attempt had it.
    assert [p for p, _ in added] == ["libyaml-dev"], added
    assert "libyaml-dev" in (last[4] or []) and last[1] == "succeeded", builds
    assert len(builds) == 2, builds  # once, not a loop
    assert len(wheels) == 1 and wheels[0][0].startswith("kyamlfarm-1.0-cp311-cp311-"), wheels
    first_id = None
    with psycopg.connect(farm.db) as c:
        first_id = c.execute("select id from builds where job_id = %s and attempt = %s",
                             (job, first[0])).fetchone()[0]
    # What a user reads on the failed attempt's page (the API the UI shows).
    status, _, body = farm.backend.get(f"/api/v1/builds/{first_id}")
    assert status == 200
    b = json.loads(body)
    assert b["failure_class"] == "native-dependency"
    assert b["fix"] == "kilnctl project deps add kyamlfarm libyaml-dev", b["fix"]
    log = build_log(farm, job)
    assert "libyaml-dev" in log
    # The attempt that succeeded ran in a derived image, made from the target's image (issue 17).
    with psycopg.connect(farm.db) as c:
        last_id = c.execute("select id from builds where job_id = %s and attempt = %s",
                            (job, last[0])).fetchone()[0]
    w = json.loads(farm.backend.get(f"/api/v1/builds/{last_id}")[2])["built_with"]
    target_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", farm.image],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert w["image_base"] == target_id and w["image_name"].startswith("kiln/derived:"), w
    assert w["image_id"] != target_id and w["image_id"].startswith("sha256:"), w
    # The published wheel is repaired: libyaml is inside it, so it installs and
    # imports in a clean container of the target's image, which has no libyaml.
    fn = wheels[0][0]
    assert "manylinux_2_" in fn, fn
    with urllib.request.urlopen(f"{farm.backend.url}/files/kyamlfarm/{fn}", timeout=60) as r:
        whl = r.read()  # through the redirect to storage, as pip goes
    assert whl[:2] == b"PK"
    (farm.tmp / fn).write_bytes(whl)
    script = ("ls /usr/lib/*/libyaml* 2>/dev/null && exit 3; "
              f"python3 -m pip install -q --no-index --target /tmp/t /w/{fn} && "
              "PYTHONPATH=/tmp/t python3 -c 'import kyamlfarm; print(kyamlfarm.version())'")
    p = subprocess.run(["docker", "run", "--rm", "--network", "none",
                        "-v", f"{farm.tmp}:/w:ro", farm.image, "sh", "-c", script],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert p.stdout.strip().startswith("0."), p.stdout  # libyaml's version, e.g. 0.2.5


def test_a_source_that_cannot_be_fetched_is_infrastructure(farm, files):
    """Not the project's failure nor its build's: the farm could not get the sdist."""
    fn, data = yaml_sdist()
    url, sha = files.add("kgone-1.0.tar.gz", data)
    job = farm.queue("kgone", "1.0", url.replace("kgone-1.0.tar.gz", "not-there-1.0.tar.gz"),
                     sha, "kgone-1.0.tar.gz")
    state, _, reason, _ = farm.wait_done(job, timeout=300)
    assert state == "failed", (state, reason)
    with psycopg.connect(farm.db) as c:
        cls = c.execute("select failure_class from builds where job_id = %s order by attempt desc"
                        " limit 1", (job,)).fetchone()[0]
    assert cls == "infrastructure", (cls, reason)
