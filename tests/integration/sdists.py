"""Make small real sdists for build tests, and serve them over HTTP on loopback."""
import hashlib
import http.server
import io
import tarfile
import threading
import time


def make_sdist(name, version, c_body=None, setup_extra="", pyproject=None):
    """A setuptools sdist `{name}-{version}.tar.gz` with one C extension module
    `{name}` whose function add(a, b) returns a + b. Returns (filename, bytes)."""
    mod = name.replace("-", "_")
    c_source = c_body or f"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}}
static PyMethodDef methods[] = {{{{"add", add, METH_VARARGS, "a + b"}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{mod}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{mod}(void) {{ return PyModule_Create(&module); }}
"""
    setup_py = f"""{setup_extra}
from setuptools import setup, Extension
setup(name="{name}", version="{version}", ext_modules=[Extension("{mod}", ["{mod}.c"])])
"""
    base = f"{mod}-{version}"
    files = {
        f"{base}/setup.py": setup_py,
        f"{base}/{mod}.c": c_source,
        f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    if pyproject:
        files[f"{base}/pyproject.toml"] = pyproject
    return f"{base}.tar.gz", targz(files)


def make_pure_sdist(name, version):
    """A setuptools sdist `{name}-{version}.tar.gz` of one pure Python module
    `{name}` (hello() returns its version): it builds a py3-none-any wheel,
    which every target installs. Returns (filename, bytes)."""
    mod = name.replace("-", "_")
    base = f"{mod}-{version}"
    files = {
        f"{base}/setup.py": f'from setuptools import setup\nsetup(name="{name}", version="{version}",'
                            f' py_modules=["{mod}"])\n',
        f"{base}/{mod}.py": f'def hello():\n    return "{version}"\n',
        f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    return f"{base}.tar.gz", targz(files)


def targz(files):
    """A .tar.gz of files (archive path -> text), with a fixed mtime: same input, same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1577836800
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FileServer:
    """Serve a dict of {name: bytes} at http://127.0.0.1:PORT/NAME."""

    def __init__(self):
        self.files = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, name, data):
        self.files[name] = data
        return f"{self.url}/{name}", hashlib.sha256(data).hexdigest()

    def close(self):
        self.server.shutdown()


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
