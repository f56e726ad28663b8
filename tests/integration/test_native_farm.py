"""A native-dependency failure through the whole farm: backend, builders, real Docker.

The builder classifies the failed attempt, looks the missing header up in the
image's Contents index and says so in the build log the backend keeps (the
`finish` message's failure_class and missing are stored by the backend; see
docs/protocol.md). Shares test_builds.py's farm.
"""
import psycopg

from sdists import make_sdist
from test_builds import build_log, farm, files, image  # noqa: F401  (fixtures)

YAML_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "kyamlfarm", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_kyamlfarm(void) { yaml_get_version_string(); return PyModule_Create(&module); }
"""


def test_missing_header_fails_as_native_dependency_with_its_package(farm, files):
    fn, data = make_sdist("kyamlfarm", "1.0", c_body=YAML_C)
    url, sha = files.add(fn, data)
    job = farm.queue("kyamlfarm", "1.0", url, sha, fn)
    state, attempts, reason, _ = farm.wait_done(job, timeout=300)
    assert state == "failed" and "exit code 1" in reason, (state, reason)
    assert attempts == 1  # a verdict on the project: not retried
    log = build_log(farm, job)
    assert "fatal error: yaml.h: No such file or directory" in log
    assert "kiln: failure class: native-dependency" in log
    assert "kiln: missing yaml.h (header), shipped by libyaml-dev: " \
           "kilnctl project deps add kyamlfarm libyaml-dev" in log
    with psycopg.connect(farm.db) as c:
        b = c.execute("select state from builds where job_id = %s", (job,)).fetchone()
    assert b[0] == "failed"
