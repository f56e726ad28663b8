"""A small upstream index for kiln-sync's tests, made and changed by the test.

It speaks PEP 691 JSON (PEP 503 HTML when html_only), with serials, a listing
ETag for conditional GETs, an RSS feed of the newest releases
(/rss/updates.xml) and the files themselves. Tests can also make it misbehave
the way real upstreams and CDNs do: answer with 429 first, serve a project page
older than the listing says (a stale cache), answer a path with queued bad
responses (broken JSON, 500s, a hang), or serve pages slowly.
"""
import hashlib
import html
import http.server
import json
import re
import threading
import time

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class Upstream:
    """An index: {project: {"serial": n, "files": [{"filename", "data", "yanked"}]}}."""

    def __init__(self, html_only=False):
        self.projects = {}
        self.serial = 0
        self.requests = []
        self.html_only = html_only  # PEP 503 only: no JSON, no serials, page ETags
        self.fail = 0               # answer this many requests with 429 first
        self.delay = 0.0            # seconds to wait before answering a project page
        self.stale = {}             # project: how many times to serve its previous page
        self.previous = {}          # project: the page body served before its last change
        self.queued = {}            # path: [(status, content type, body) or "hang"] served first
        self.feed = []              # [(name, version)], newest first
        self.inflight = 0           # project page requests being answered now
        self.max_inflight = 0       # the most there ever were at once
        self.peers = set()          # client (host, port)s: one per connection
        self.lock = threading.Lock()
        up = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                up.requests.append(self.path)
                up.peers.add(self.client_address)
                with up.lock:
                    up.inflight += 1
                    up.max_inflight = max(up.max_inflight, up.inflight)
                try:
                    self.answer()
                finally:
                    with up.lock:
                        up.inflight -= 1

            def answer(self):
                if up.fail > 0:
                    up.fail -= 1
                    self.send(429, "text/plain", b"", extra={"Retry-After": "1"})
                    return
                if up.queued.get(self.path):
                    answer = up.queued[self.path].pop(0)
                    if answer == "hang":
                        time.sleep(30)
                        return
                    self.send(*answer)
                    return
                if up.delay and self.path.startswith("/simple/") and self.path != "/simple/":
                    time.sleep(up.delay)
                status, ctype, body, etag = up.respond(self.path)
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send(304, None, b"", etag)
                    return
                self.send(status, ctype, body, etag)

            def send(self, status, ctype, body, etag=None, extra=None):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def touch(self, project):
        self.serial += 1
        self.projects.setdefault(project, {"files": []})["serial"] = self.serial

    def add_file(self, project, filename, data, yanked=False, upload_time=None):
        if "serial" in self.projects.get(project, {}) and not self.html_only:
            self.previous[project] = self.page_json(project)  # what a stale cache still serves
        self.projects.setdefault(project, {"files": []})
        f = {"filename": filename, "data": data, "yanked": yanked}
        if upload_time:
            f["upload_time"] = upload_time  # PEP 700; a fixed time otherwise
        self.projects[project]["files"].append(f)
        self.touch(project)

    def remove_project(self, project):
        """The project is deleted upstream: gone from the listing and its page."""
        del self.projects[project]
        self.serial += 1

    def release(self, project, version, filename, data):
        """A new upload that the feed announces too."""
        self.add_file(project, filename, data)
        self.feed.insert(0, (project, version))

    def page_json(self, name):
        p = self.projects[name]
        files = [{"filename": f["filename"], "url": f"../../files/{f['filename']}",
                  "hashes": {"sha256": hashlib.sha256(f["data"]).hexdigest()},
                  "size": len(f["data"]), "requires-python": ">=3.8",
                  "upload-time": f.get("upload_time", "2026-01-02T03:04:05Z"),
                  "yanked": f["yanked"]}
                 for f in p["files"]]
        doc = {"meta": {"api-version": "1.1", "_last-serial": p["serial"]},
               "name": name, "files": files}
        return json.dumps(doc).encode()

    def respond(self, path):
        if path == "/rss/updates.xml":
            return self.respond_feed()
        if self.html_only:
            return self.respond_html(path)
        if path == "/simple/":
            doc = {"meta": {"api-version": "1.1", "_last-serial": self.serial},
                   "projects": [{"name": n, "_last-serial": p["serial"]}
                                for n, p in sorted(self.projects.items())]}
            body = json.dumps(doc).encode()
            return 200, JSON_TYPE, body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "simple" and parts[1] in self.projects:
            if self.stale.get(parts[1], 0) > 0 and parts[1] in self.previous:
                self.stale[parts[1]] -= 1
                return 200, JSON_TYPE, self.previous[parts[1]], None
            return 200, JSON_TYPE, self.page_json(parts[1]), None
        return self.respond_file(parts)

    def respond_feed(self):
        items = "".join(
            f"<item><title>{html.escape(n)} {html.escape(v)}</title>"
            f"<link>{self.url}/project/{html.escape(n)}/{html.escape(v)}/</link>"
            f"<description>new release</description></item>"
            for n, v in self.feed[:100])
        body = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>newest releases</title><link>{self.url}/</link>{items}</channel></rss>").encode()
        return 200, "text/xml", body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def respond_file(self, parts):
        if len(parts) == 2 and parts[0] == "files":
            for p in self.projects.values():
                for f in p["files"]:
                    if f["filename"] == parts[1]:
                        return 200, "application/octet-stream", f["data"], None
        return 404, "text/plain", b"not found", None

    def respond_html(self, path):
        parts = path.strip("/").split("/")
        by_norm = {re.sub(r"[-_.]+", "-", n).lower(): n for n in self.projects}
        if path == "/simple/":
            links = "".join(f'<a href="{n}/">{html.escape(n)}</a>\n' for n in sorted(self.projects))
        elif len(parts) == 2 and parts[0] == "simple" and parts[1] in by_norm:
            links = ""
            for f in self.projects[by_norm[parts[1]]]["files"]:
                h = hashlib.sha256(f["data"]).hexdigest()
                y = "" if f["yanked"] is False else f' data-yanked="{html.escape(str(f["yanked"]))}"'
                links += (f'<a href="/files/{f["filename"]}#sha256={h}"'
                          f' data-requires-python="&gt;=3.9"{y}>{f["filename"]}</a><br/>\n')
        else:
            return self.respond_file(parts)
        body = f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
        return 200, "text/html", body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def close(self):
        self.server.shutdown()
        self.server.server_close()
