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
    import json
    b = json.loads(body)
    assert b["failure_class"] == "native-dependency"
    assert b["fix"] == "kilnctl project deps add kyamlfarm libyaml-dev", b["fix"]
    log = build_log(farm, job)
    assert "libyaml-dev" in log
