"""Make real wheel files for tests, byte for byte as a build backend would.

A wheel is a zip with the package, a {name}-{version}.dist-info directory with
METADATA, WHEEL and a RECORD listing every file's sha256; pip and uv install it
like any other. The `tamper` hooks let tests produce broken ones on purpose.
"""
import base64
import hashlib
import io
import re
import zipfile


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata_text(name, version, requires_python=None, summary="A test package built by Kiln's tests"):
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    return "\n".join(lines) + "\n\n"


def make_wheel(name, version, tag="py3-none-any", requires_python=None, module_body=None,
               extra_files=None, metadata=None, dist_info=None, drop=(), filename=None):
    """Return (filename, bytes) of a wheel.

    name: the distribution name as the user writes it; the module is its
    normalized form with '-' -> '_'. extra_files: {path: bytes} added as is
    (e.g. "../evil"). metadata: override METADATA text. dist_info: override the
    .dist-info directory name. drop: names of dist-info files to leave out
    ("METADATA", "WHEEL", "RECORD").
    """
    module = re.sub(r"[-_.]+", "_", name).lower()
    dist = f"{module}-{version}"
    di = dist_info or f"{dist}.dist-info"
    files = {
        f"{module}/__init__.py": (module_body or
                                  f'VERSION = "{version}"\n\ndef hello():\n    return "hello from {name} {version}"\n').encode(),
    }
    if "METADATA" not in drop:
        files[f"{di}/METADATA"] = (metadata or metadata_text(name, version, requires_python)).encode()
    if "WHEEL" not in drop:
        files[f"{di}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: true\nTag: {tag}\n").encode()
    for path, data in (extra_files or {}).items():
        files[path] = data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        record = []
        for path, data in files.items():
            # Fixed timestamps: the same inputs give the same bytes, as reproducible builds do.
            z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)
            record.append(f"{path},{_record_hash(data)},{len(data)}")
        if "RECORD" not in drop:
            record.append(f"{di}/RECORD,,")
            z.writestr(zipfile.ZipInfo(f"{di}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
                       "\n".join(record) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    return filename or f"{dist}-{tag}.whl", buf.getvalue()


def wheel_metadata(data: bytes) -> bytes:
    """The METADATA bytes inside a wheel."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for n in z.namelist():
            if n.endswith(".dist-info/METADATA") and n.count("/") == 1:
                return z.read(n)
    raise KeyError("METADATA")
