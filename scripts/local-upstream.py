#!/usr/bin/env python3
"""The local upstream index of `just up` when no real one answers.

usage: scripts/local-upstream.py --dir DIR [--port N] PROJECT...

Writes, once, a PEP 503 tree under DIR/tree: simple/index.html listing the
projects, simple/NAME/index.html linking each project's sdist with its sha256,
files/NAME-1.0.tar.gz. The sdists come from tests/integration/sdists.py, the
same tiny C extension the build tests use (a module NAME with add(a, b)), so a
farm without network still shows a real build from end to end. Then serves
DIR/tree on 127.0.0.1:PORT (0: any free port) until SIGTERM, writing the simple
API's URL to DIR/url once it listens.
"""
import argparse
import functools
import hashlib
import html
import http.server
import os
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from sdists import make_sdist  # noqa: E402

VERSION = "1.0"


def write_tree(tree: Path, projects):
    files = tree / "files"
    files.mkdir(parents=True, exist_ok=True)
    links = []
    for name in projects:
        norm = re.sub(r"[-_.]+", "-", name).lower()
        filename, data = make_sdist(name, VERSION)
        (files / filename).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        page = tree / "simple" / norm
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n"
            f'<a href="../../files/{html.escape(filename)}#sha256={digest}"'
            f' data-requires-python="&gt;=3.8">{html.escape(filename)}</a>\n'
            "</body></html>\n")
        links.append(f'<a href="{norm}/">{html.escape(name)}</a>')
    (tree / "simple" / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("projects", nargs="+")
    args = ap.parse_args()

    tree = args.dir / "tree"
    if not (tree / "simple" / "index.html").exists():
        write_tree(tree, args.projects)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tree))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    tmp = args.dir / "url.tmp"
    tmp.write_text(url + "\n")
    os.replace(tmp, args.dir / "url")
    print(f"serving {tree} at {url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        (args.dir / "url").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
