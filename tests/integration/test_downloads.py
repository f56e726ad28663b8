"""Downloads: /files/{project}/{filename} and its PEP 658 .metadata, over both storage drivers.

Artifacts are made directly (rows inserted with psycopg, bytes put with
`kilnctl storage put`), so these tests depend on nothing but the download path.
What they check is what pip and uv rely on: exact bytes and hashes, HEAD with
Content-Length, single Range requests (uv reads a wheel's zip directory that
way, pip resumes with Range + If-Range), no Content-Encoding ever, a 302 to a
presigned URL for S3, JSON 404s, and the download counters reaching Postgres on
the flush interval and at SIGTERM.
"""
import hashlib
import http.client
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest

from conftest import run, unique_prefix, KILNCTL
from wheels import make_wheel, wheel_metadata

PIP_UA = ('pip/23.0.1 {"ci":null,"cpu":"x86_64","distro":{"id":"bookworm","libc":{"lib":"glibc",'
          '"version":"2.36"},"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":'
          '"CPython","version":"3.11.2"},"installer":{"name":"pip","version":"23.0.1"},'
          '"openssl_version":"OpenSSL 3.0.11 19 Sep 2023","python":"3.11.2","setuptools_version":'
          '"66.1.1","system":{"name":"Linux","release":"6.1.0-13-amd64"}}')
UV_UA = ('uv/0.4.30 {"installer":{"name":"uv","version":"0.4.30"},"python":"3.12.7",'
         '"implementation":{"name":"CPython","version":"3.12.7"},"distro":null,"system":'
         '{"name":"Linux","release":"6.1"},"cpu":"x86_64","openssl_version":null,'
         '"setuptools_version":null,"rustc_version":null,"ci":null}')


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_artifact(db, project, version, data, filename, key, metadata):
    """Insert project (if new), release and artifact rows; returns (project_id, artifact_id)."""
    norm = project.lower().replace("_", "-").replace(".", "-")
    with psycopg.connect(db, autocommit=True) as c:
        row = c.execute("select id from projects where normalized = %s", (norm,)).fetchone()
        pid = row[0] if row else c.execute(
            "insert into projects (name, normalized) values (%s, %s) returning id",
            (project, norm)).fetchone()[0]
        rid = c.execute(
            "insert into releases (project_id, version, version_normalized) values (%s, %s, %s) "
            "on conflict (project_id, version_normalized) do update set version = excluded.version "
            "returning id", (pid, version, version)).fetchone()[0]
        aid = c.execute(
            "insert into artifacts (project_id, release_id, filename, sha256, size, python_tags,"
            " abi_tags, platform_tags, metadata, metadata_sha256, storage_key)"
            " values (%s, %s, %s, %s, %s, '{py3}', '{none}', '{any}', %s, %s, %s) returning id",
            (pid, rid, filename, sha(data), len(data), metadata, sha(metadata), key)).fetchone()[0]
        # Published, as a finished build's artifacts are (only those are served).
        c.execute("update artifacts set published_at = now() where id = %s", (aid,))
    return pid, aid


class Wheel:
    def __init__(self, db, project, version, extra=None):
        self.filename, self.data = make_wheel(project, version, extra_files=extra)
        self.metadata = wheel_metadata(self.data)
        self.key = unique_prefix("downloads") + self.filename
        self.project = project.lower()
        self.project_id, self.id = add_artifact(db, project, version, self.data, self.filename,
                                                self.key, self.metadata)
        self.path = f"/files/{self.project}/{self.filename}"

    def put(self, backend, tmp_path):
        f = tmp_path / self.filename
        f.write_bytes(self.data)
        run([KILNCTL, "storage", "put", self.key, f], env=backend.env)


@pytest.fixture(scope="module")
def wheels(migrated):
    # Random bytes do not compress: the wheel spans many 64 KiB write chunks.
    big = {"dl_demo/blob.bin": os.urandom(700 * 1024 + 17)}
    return {
        "demo": Wheel(migrated, "dl-demo", "1.0", extra=big),
        "count-fs": Wheel(migrated, "count-fs", "1.0"),
        "count-s3": Wheel(migrated, "count-s3", "1.0"),
        "count-stop": Wheel(migrated, "count-stop", "1.0"),
        "count-retry": Wheel(migrated, "count-retry", "1.0"),
        "count-burst": Wheel(migrated, "count-burst", "1.0"),
        "count-inflight": Wheel(migrated, "count-inflight", "1.0"),
    }


@pytest.fixture(scope="module", params=["fs", "s3"])
def served(request, migrated, wheels, backend_factory, tmp_path_factory):
    """(backend, driver) with every test wheel stored; counters flushed every second."""
    env = {"KILN_DOWNLOADS_FLUSH_SECONDS": "1"}
    if request.param == "s3":
        env.update(request.getfixturevalue("s3"))
    b = backend_factory(migrated, storage=request.param, env=env)
    tmp = tmp_path_factory.mktemp("put")
    for w in wheels.values():
        w.put(b, tmp)
    return b, request.param


def fetch(url, headers=None):
    """GET an absolute URL (the presigned one): (status, headers, body)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def assert_file_headers(h, digest):
    assert h["etag"] == f'"{digest}"'
    assert h["cache-control"] == "public, max-age=31536000, immutable"
    assert h["accept-ranges"] == "bytes"
    assert "content-encoding" not in h


def assert_json_error(status, h, body, want_status=404):
    assert status == want_status, body
    assert h["content-type"] == "application/json"
    err = json.loads(body)["error"]
    assert err["code"] and err["message"]
    return err


def test_get_serves_the_exact_bytes(served, wheels):
    b, driver = served
    w = wheels["demo"]
    status, h, body = b.get(w.path, headers={"User-Agent": PIP_UA})
    if driver == "fs":
        assert status == 200
        assert h["content-type"] == "application/octet-stream"
        assert int(h["content-length"]) == len(w.data)
        assert_file_headers(h, sha(w.data))
        assert sha(body) == sha(w.data)
    else:
        assert status == 302, body
        loc = h["location"]
        assert loc.startswith(b.env["KILN_S3_ENDPOINT"]) and "X-Amz-Signature=" in loc
        s, sh, data = fetch(loc)
        assert s == 200 and sha(data) == sha(w.data)
        assert "content-encoding" not in sh


def test_head_has_the_length_and_no_body(served, wheels):
    b, driver = served
    w = wheels["demo"]
    status, h, body = b.request("HEAD", w.path)
    assert body == b""
    if driver == "fs":
        assert status == 200
        assert int(h["content-length"]) == len(w.data)
        assert_file_headers(h, sha(w.data))
    else:
        assert status == 302 and "X-Amz-Signature=" in h["location"]


def test_never_content_encoding(served, wheels):
    b, driver = served
    w = wheels["demo"]
    for path in (w.path, w.path + ".metadata"):
        status, h, body = b.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert status in (200, 302), body
        assert "content-encoding" not in h
        if status == 302:
            s, sh, data = fetch(h["location"], headers={"Accept-Encoding": "gzip"})
            assert s == 200 and "content-encoding" not in sh and data == w.data
        else:
            assert body == (w.data if path == w.path else w.metadata)


@pytest.mark.parametrize("served", ["fs"], indirect=True)
def test_ranges_on_fs(served, wheels):
    b, driver = served
    w = wheels["demo"]
    n = len(w.data)
    cases = [
        ("bytes=100-199", 100, 199),       # middle
        ("bytes=-22", n - 22, n - 1),      # suffix: uv reads the zip's end this way
        (f"bytes={n - 70000}-", n - 70000, n - 1),  # open-ended, across a chunk boundary
        ("bytes=0-", 0, n - 1),
        (f"bytes=10-{n + 1000}", 10, n - 1),  # cut at the end
    ]
    for rng, first, last in cases:
        status, h, body = b.get(w.path, headers={"Range": rng})
        assert status == 206, (rng, body[:200])
        assert h["content-range"] == f"bytes {first}-{last}/{n}", rng
        assert int(h["content-length"]) == last - first + 1
        assert body == w.data[first:last + 1], rng
        assert_file_headers(h, sha(w.data))

    # Nothing satisfiable: 416 with the size, and a JSON body.
    status, h, body = b.get(w.path, headers={"Range": f"bytes={n}-"})
    assert_json_error(status, h, body, 416)
    assert h["content-range"] == f"bytes */{n}"

    # Several ranges: the whole file, as RFC 9110 allows.
    status, h, body = b.get(w.path, headers={"Range": "bytes=0-1,5-6"})
    assert status == 200 and body == w.data and "content-range" not in h

    # A malformed Range is ignored.
    status, h, body = b.get(w.path, headers={"Range": "bytes=9-3"})
    assert status == 200 and body == w.data

    # If-Range: our tag -> the range; another tag or a date -> everything.
    status, h, body = b.get(w.path, headers={"Range": "bytes=5-9", "If-Range": f'"{sha(w.data)}"'})
    assert status == 206 and body == w.data[5:10]
    for other in ('"0000"', f'W/"{sha(w.data)}"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        status, h, body = b.get(w.path, headers={"Range": "bytes=5-9", "If-Range": other})
        assert status == 200 and body == w.data, other

    # HEAD ignores Range (it is defined for GET only).
    status, h, body = b.request("HEAD", w.path, headers={"Range": "bytes=0-9"})
    assert status == 200 and int(h["content-length"]) == n and body == b""


def test_if_none_match(served, wheels):
    b, driver = served
    w = wheels["demo"]
    if driver == "fs":
        status, h, body = b.get(w.path, headers={"If-None-Match": f'"x", "{sha(w.data)}"'})
        assert status == 304 and body == b""
        assert_file_headers(h, sha(w.data))
        status, h, body = b.get(w.path, headers={"If-None-Match": '"something-else"'})
        assert status == 200 and body == w.data
    status, h, body = b.get(w.path + ".metadata", headers={"If-None-Match": f'"{sha(w.metadata)}"'})
    assert status == 304 and body == b""
    assert h["etag"] == f'"{sha(w.metadata)}"'


@pytest.mark.parametrize("served", ["s3"], indirect=True)
def test_s3_redirect_target_honours_range(served, wheels):
    b, driver = served
    w = wheels["demo"]
    status, h, _ = b.get(w.path)
    assert status == 302
    s, sh, data = fetch(h["location"], headers={"Range": "bytes=1000-1999"})
    assert s == 206 and data == w.data[1000:2000]
    s, sh, data = fetch(h["location"], headers={"Range": "bytes=-100"})
    assert s == 206 and data == w.data[-100:]


def test_metadata_matches_the_advertised_hash(served, wheels):
    b, driver = served
    w = wheels["demo"]
    # What the index advertises for this file ...
    status, _, page = b.get("/simple/dl-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert status == 200
    entry = next(f for f in json.loads(page)["files"] if f["filename"] == w.filename)
    advertised = entry["core-metadata"]["sha256"]
    # ... is what the .metadata URL, resolved like a client does, serves.
    url = urllib.parse.urljoin(b.url + "/simple/dl-demo/", entry["url"]) + ".metadata"
    status, h, body = b.get(urllib.parse.urlparse(url).path)
    assert status == 200, body
    assert sha(body) == advertised == sha(w.metadata)
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert int(h["content-length"]) == len(w.metadata)
    assert_file_headers(h, advertised)

    status, h, body = b.request("HEAD", w.path + ".metadata")
    assert status == 200 and body == b"" and int(h["content-length"]) == len(w.metadata)

    status, h, body = b.get(w.path + ".metadata", headers={"Range": "bytes=0-9"})
    assert status == 206 and body == w.metadata[:10]
    assert h["content-range"] == f"bytes 0-9/{len(w.metadata)}"


def test_index_file_links_resolve(served, wheels):
    b, driver = served
    w = wheels["demo"]
    status, _, page = b.get("/simple/dl-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    entry = next(f for f in json.loads(page)["files"] if f["filename"] == w.filename)
    path = urllib.parse.urlparse(urllib.parse.urljoin(b.url + "/simple/dl-demo/", entry["url"])).path
    assert path == w.path
    assert entry["hashes"]["sha256"] == sha(w.data) and entry["size"] == len(w.data)


@pytest.mark.parametrize("served", ["fs"], indirect=True)
def test_keep_alive_and_clients_that_leave(served, wheels):
    b, _ = served
    w = wheels["demo"]
    host, port = b.url.split("//", 1)[1].split(":")
    # Several answers on one connection, streamed ones among them.
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    for headers, want in (({}, w.data), ({"Range": "bytes=7-70"}, w.data[7:71]), ({}, w.data)):
        c.request("GET", w.path, headers=headers)
        r = c.getresponse()
        assert r.read() == want
    c.request("GET", w.path + ".metadata")
    assert c.getresponse().read() == w.metadata
    c.close()
    # Clients that go away mid-body: the file is closed, the server carries on.
    for _ in range(5):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(f"GET {w.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(1000).startswith(b"HTTP/1.1 200")
        s.close()
    status, _, body = b.get(w.path)
    assert status == 200 and body == w.data


def test_pip_downloads_through_the_index(served, wheels, tmp_path):
    b, driver = served
    w = wheels["demo"]
    p = run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--disable-pip-version-check", "-v", "--index-url", b.url + "/simple/",
             "-d", tmp_path, "dl-demo==1.0"],
            env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""})
    assert (tmp_path / w.filename).read_bytes() == w.data
    # pip resolved from the PEP 658 file (it logs the .metadata URL it fetched).
    assert w.filename + ".metadata" in p.stdout + p.stderr


def test_not_found_is_json(served, wheels):
    b, driver = served
    w = wheels["demo"]
    for path in (
        f"/files/no-such-project/{w.filename}",
        f"/files/dl-demo/dl_demo-9.9-py3-none-any.whl",
        f"/files/dl-demo/dl_demo-9.9-py3-none-any.whl.metadata",
        "/files/dl-demo/readme.txt",
        "/files/dl-demo/a..b.whl",
        "/files/dl-demo/.whl",
        "/files/dl-demo/x%01y.whl",
        "/files/dl-demo/%2e%2e.whl",
        "/files/dl-demo/x%20y.whl",
        f"/files/-bad-/{w.filename}",
    ):
        status, h, body = b.get(path)
        err = assert_json_error(status, h, body, 404)
        assert err["code"] == "not_found", path
    # A request for the same unknown file again is answered the same way (from the cache).
    status, h, body = b.get("/files/dl-demo/dl_demo-9.9-py3-none-any.whl")
    assert_json_error(status, h, body, 404)


def test_unnormalized_project_redirects(served, wheels):
    b, driver = served
    w = wheels["demo"]
    status, h, _ = b.get(f"/files/DL_Demo/{w.filename}.metadata")
    assert status == 301 and h["location"] == w.path + ".metadata"


def test_cached_not_found_is_dropped_when_the_artifact_arrives(served, migrated, tmp_path):
    b, driver = served
    filename, data = make_wheel(f"late-{driver}", "1.0")
    path = f"/files/late-{driver}/{filename}"
    status, h, body = b.get(path)
    assert_json_error(status, h, body, 404)
    # Stored first, then recorded, as the upload endpoint does: the row's trigger
    # notifies kiln_index, which drops the cached 404.
    key = unique_prefix("late") + filename
    f = tmp_path / filename
    f.write_bytes(data)
    run([KILNCTL, "storage", "put", key, f], env=b.env)
    add_artifact(migrated, f"late-{driver}", "1.0", data, filename, key, wheel_metadata(data))
    deadline = time.time() + 10
    while True:
        status, h, body = b.get(path)
        if status != 404 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert status == (200 if driver == "fs" else 302), body
    if driver == "fs":
        assert body == data


def count_rows(db, w):
    with psycopg.connect(db) as c:
        n = c.execute("select coalesce(sum(count), 0) from download_counts where artifact_id = %s",
                      (w.id,)).fetchone()[0]
        agents = c.execute("select installer, installer_version, python_version, sum(count)::int"
                           " from download_agents where project_id = %s"
                           " group by 1, 2, 3 order by 1, 2, 3", (w.project_id,)).fetchall()
    return n, agents


def wait_counts(db, w, want, timeout=15):
    deadline = time.time() + timeout
    while True:
        got = count_rows(db, w)
        if got[0] >= want or time.time() > deadline:
            return got
        time.sleep(0.2)


def test_downloads_are_counted(served, wheels, migrated):
    b, driver = served
    w = wheels["count-" + driver]
    pip = {"User-Agent": PIP_UA}
    counted = 0
    # Counted: a full GET (200, or 302 for s3) ...
    assert b.get(w.path, headers=pip)[0] in (200, 302)
    counted += 1
    # ... and, on fs, a range from byte 0; not a range from elsewhere.
    if driver == "fs":
        assert b.get(w.path, headers={**pip, "Range": "bytes=0-99"})[0] == 206
        counted += 1
        assert b.get(w.path, headers={**pip, "Range": "bytes=100-"})[0] == 206
        assert b.get(w.path, headers={**pip, "If-None-Match": f'"{sha(w.data)}"'})[0] == 304
    # Not counted: HEAD, the metadata file, a 404.
    assert b.request("HEAD", w.path, headers=pip)[0] in (200, 302)
    assert b.get(w.path + ".metadata", headers=pip)[0] == 200
    assert b.get(w.path.replace("1.0", "7.7"), headers=pip)[0] == 404
    # Counted without a User-Agent too (as "unknown").
    assert b.request("GET", w.path, headers={"User-Agent": ""})[0] in (200, 302)
    counted += 1

    n, agents = wait_counts(migrated, w, counted)
    assert n == counted
    # Flushed means flushed once: nothing is added twice on later intervals.
    time.sleep(2.5)
    n, agents = count_rows(migrated, w)
    assert n == counted
    assert ("pip", "23.0.1", "3.11", counted - 1) in agents
    assert ("unknown", "", "", 1) in agents

    status, _, metrics = b.get("/metrics")
    text = metrics.decode()
    assert "kiln_downloads_wheel_total" in text
    assert "kiln_downloads_flushed_total" in text
    assert "kiln_downloads_metadata_total" in text
    if driver == "s3":
        assert "kiln_downloads_redirect_total" in text


def metric(b, name):
    for line in b.get("/metrics")[2].decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("served", ["fs"], indirect=True)
def test_a_failed_flush_keeps_its_counts(served, wheels, migrated):
    b, _ = served
    w = wheels["count-retry"]
    pip = {"User-Agent": PIP_UA}
    errors = metric(b, "kiln_downloads_flush_errors_total")
    # This module's own database: make every flush fail for a while.
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("alter table download_agents rename to download_agents_away")
    try:
        assert b.get(w.path, headers=pip)[0] == 200
        deadline = time.time() + 10
        while metric(b, "kiln_downloads_flush_errors_total") <= errors and time.time() < deadline:
            time.sleep(0.2)
        assert metric(b, "kiln_downloads_flush_errors_total") > errors
        assert b.get(w.path, headers=pip)[0] == 200
        with psycopg.connect(migrated) as c:
            assert c.execute("select count(*) from download_counts where artifact_id = %s",
                             (w.id,)).fetchone()[0] == 0
    finally:
        with psycopg.connect(migrated, autocommit=True) as c:
            c.execute("alter table download_agents_away rename to download_agents")
    n, agents = wait_counts(migrated, w, 2)
    time.sleep(2.5)
    assert count_rows(migrated, w) == (2, [("pip", "23.0.1", "3.11", 2)])
    assert "could not write download counts" in b.log()


def test_counts_are_written_at_sigterm(migrated, wheels, backend_factory, tmp_path):
    w = wheels["count-stop"]
    b = backend_factory(migrated, storage="fs", env={"KILN_DOWNLOADS_FLUSH_SECONDS": "3600"})
    w.put(b, tmp_path)
    for _ in range(3):
        status, _, body = b.get(w.path, headers={"User-Agent": UV_UA})
        assert status == 200 and body == w.data
    assert count_rows(migrated, w) == (0, [])
    assert b.stop() == 0
    n, agents = count_rows(migrated, w)
    assert n == 3
    assert agents == [("uv", "0.4.30", "3.12", 3)]
    assert "wrote download counts at shutdown" in b.log()


def test_counts_are_exact_across_flushes_and_sigterm(migrated, wheels, backend_factory, tmp_path):
    # Downloads keep coming while flushes run every second, then SIGTERM lands
    # wherever it lands (maybe during a flush): every download is counted once.
    w = wheels["count-burst"]
    b = backend_factory(migrated, storage="fs", env={"KILN_DOWNLOADS_FLUSH_SECONDS": "1"})
    w.put(b, tmp_path)
    host, port = b.url.split("//", 1)[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    n = 0
    end = time.time() + 2.5
    while time.time() < end:
        c.request("GET", w.path, headers={"User-Agent": PIP_UA})
        r = c.getresponse()
        assert r.status == 200 and r.read() == w.data
        n += 1
    c.close()
    assert b.stop() == 0
    assert count_rows(migrated, w) == (n, [("pip", "23.0.1", "3.11", n)])


def test_sigterm_waits_for_a_flush_in_flight(migrated, wheels, backend_factory, tmp_path):
    w = wheels["count-inflight"]
    b = backend_factory(migrated, storage="fs", env={"KILN_DOWNLOADS_FLUSH_SECONDS": "1"})
    w.put(b, tmp_path)
    ua = {"User-Agent": PIP_UA}
    for _ in range(3):
        assert b.get(w.path, headers=ua)[0] == 200
    # Hold the flush in flight: it waits for this transaction's lock.
    with psycopg.connect(migrated) as lock:
        lock.execute("lock table download_agents in exclusive mode")
        time.sleep(1.5)
        for _ in range(2):
            assert b.get(w.path, headers=ua)[0] == 200
        b.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert b.proc.poll() is None, "exited without waiting for the flush in flight"
    # The lock is gone: the flush in flight completes, the rest is written at exit.
    assert b.stop() == 0
    assert count_rows(migrated, w) == (5, [("pip", "23.0.1", "3.11", 5)])
    assert "waiting for the download counts write in flight" in b.log()
