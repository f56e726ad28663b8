#!/usr/bin/env python3
"""bench/repro/run.py: does Kiln build the same wheel twice?

    bench/repro/run.py [--image IMG] [--demo] [--json FILE] [SDIST ...]

Builds each sdist twice with `kiln-builder build-local`, the second time with
another --out, another data directory (KILN_DATA_DIR) and another TMPDIR, then
compares the wheels byte for byte (wheeldiff.py, the comparison the farm's
second-builder check is to reuse) and, where they differ, names the zip members
that differ and how (content, or metadata: date, mode, ...). --demo adds two
generated C-extension sdists: krepro (expected identical) and ktime (embeds the
build time in its extension: expected to differ, in that member and RECORD).
Prints one verdict per project and the share reproducible; --json writes the
details. Uses build/release's kiln-builder (KILN_REPRO_BUILD=build/test for the
sanitizer build). Exit status: 0 when every project built twice, else 1.
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wheeldiff  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

C_MODULE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#ifndef STAMP
#define STAMP "none"
#endif
static PyObject *stamp(PyObject *self, PyObject *args)
{
    (void)self; (void)args;
    return PyUnicode_FromString(STAMP);
}
static PyMethodDef methods[] = {{"stamp", stamp, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "%(name)s", "", -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&mod); }
"""


def demo_sdist(where, name, embed_time):
    """A one-module C extension; embed_time: its STAMP is the build's wall clock."""
    top = "%s-1.0" % name
    macro = ('define_macros=[("STAMP", \'"%d"\' % time.time_ns())],' if embed_time else "")
    files = {
        "PKG-INFO": "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name,
        "setup.py": "import time\nfrom setuptools import Extension, setup\n"
                    "setup(name=%r, version='1.0',\n"
                    "      ext_modules=[Extension(%r, [%r], %s)])\n"
                    % (name, name, name + ".c", macro),
        name + ".c": C_MODULE % {"name": name},
    }
    path = Path(where) / (top + ".tar.gz")
    with tarfile.open(path, "w:gz") as t:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("%s/%s" % (top, rel))
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            t.addfile(info, io.BytesIO(data))
    return path


def builder_path():
    b = ROOT / os.environ.get("KILN_REPRO_BUILD", "build/release") / "builder" / "kiln-builder"
    if not b.exists():
        sys.exit("run.py: no %s (just build)" % b)
    return b


def build_once(builder, image, sdist, scratch, n, timeout):
    """One build-local run in its own out, data and temp directories."""
    out, data, tmp = (scratch / ("%s%d" % (k, n)) for k in ("out", "data", "tmp"))
    for d in (out, data, tmp):
        d.mkdir(parents=True)
    env = dict(os.environ, KILN_DATA_DIR=str(data), TMPDIR=str(tmp))
    argv = [str(builder), "build-local", "--image", image, "--out", str(out),
            "--sdist", str(sdist), "--timeout", str(timeout), "--owner", "repro-bench"]
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", timeout=timeout + 300)
    secs = time.monotonic() - t0
    wheels = sorted(out.glob("*.whl"))
    ok = p.returncode == 0 and "\nresult: ok" in "\n" + p.stdout and wheels
    return ok, wheels, secs, p.stdout


def measure(builder, image, sdist, timeout):
    scratch = Path(tempfile.mkdtemp(prefix="kiln-repro-"))
    try:
        runs = [build_once(builder, image, sdist, scratch, n, timeout) for n in (1, 2)]
        rec = {"sdist": sdist.name, "seconds": [round(r[2], 1) for r in runs]}
        if not all(r[0] for r in runs):
            log = next(r[3] for r in runs if not r[0])
            rec.update(verdict="failed", log_tail=log[-1500:])
            return rec
        na, nb = [w.name for w in runs[0][1]], [w.name for w in runs[1][1]]
        if na != nb:
            rec.update(verdict="differs", wheels=[na, nb], members=[
                {"name": "(wheel file names)", "kind": "only-in-a" if na else "only-in-b",
                 "fields": {}}])
            return rec
        rec.update(verdict="identical", wheels=na, members=[])
        for a, b in zip(runs[0][1], runs[1][1]):
            r = wheeldiff.compare(a, b)
            if not r["identical"]:
                rec["verdict"] = "differs"
                rec["members"] += [dict(m, wheel=a.name) for m in r["members"]]
                rec["order"] = r["order"]
                rec["describe"] = wheeldiff.describe(r)
        return rec
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--image", default=None)
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("sdists", nargs="*", type=Path)
    a = ap.parse_args()
    image = a.image or subprocess.run([str(ROOT / "scripts" / "image.sh"), "name"],
                                      check=True, stdout=subprocess.PIPE,
                                      text=True).stdout.strip()
    builder = builder_path()
    sdists = [p.resolve() for p in a.sdists]
    demo_dir = None
    if a.demo:
        demo_dir = Path(tempfile.mkdtemp(prefix="kiln-repro-demo-"))
        sdists = [demo_sdist(demo_dir, "krepro", False),
                  demo_sdist(demo_dir, "ktime", True)] + sdists
    if not sdists:
        ap.error("no sdist (give some, or --demo)")
    results = []
    try:
        for s in sdists:
            rec = measure(builder, image, s, a.timeout)
            results.append(rec)
            print("%-40s %s (%s s)" % (s.name, rec["verdict"],
                                       " + ".join(str(x) for x in rec["seconds"])), flush=True)
            for line in rec.get("describe", [])[1:]:
                print("    " + line)
            if rec["verdict"] == "failed":
                print("    " + rec["log_tail"].strip().splitlines()[-1])
    finally:
        if demo_dir:
            shutil.rmtree(demo_dir, ignore_errors=True)
    built = [r for r in results if r["verdict"] != "failed"]
    same = sum(r["verdict"] == "identical" for r in built)
    print("reproducible: %d of %d built twice (%s); %d failed to build" % (
        same, len(built), "%.0f%%" % (100.0 * same / len(built)) if built else "-",
        len(results) - len(built)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if len(built) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
