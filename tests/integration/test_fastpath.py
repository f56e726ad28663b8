"""The index fast path (backend/fastpath.c) answers exactly as the general path.

Cached /simple/{project}/ pages are answered before libwebsockets parses the
request; everything else is handed to lws. A client must not be able to tell:
the same bytes for GET, HEAD, HTML and JSON; keep-alive and pipelining across
requests answered by either path, in order; conditional requests, queries,
redirects, unknown projects, 406; requests split into single bytes; headers
over the limit; bodies; and the same answers with KILN_HTTP_FASTPATH=0.
"""
import socket
import time

import psycopg
import pytest

PAGE = "/simple/fastpkg/"
HTML = "text/html"
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('fastpkg', 'fastpkg')")
        c.execute("""insert into releases (project_id, version, version_normalized)
                     select 1, '1.' || g, '1.' || g from generate_series(0, 4) g""")
        c.execute("""insert into artifacts (project_id, release_id, filename, sha256, size,
                        python_tags, abi_tags, platform_tags, requires_python, metadata,
                        metadata_sha256, storage_key, published_at)
                     select 1, r.id, 'fastpkg-' || r.version || '-py3-none-any.whl',
                            encode(sha256(r.version::bytea), 'hex'), 1000, '{py3}', '{none}',
                            '{any}', '>=3.8', 'Metadata-Version: 2.1',
                            encode(sha256(r.version::bytea), 'hex'), 'k/' || r.id, now()
                     from releases r""")
    return migrated


@pytest.fixture(scope="module")
def fast(db, backend_factory):
    return backend_factory(db)


@pytest.fixture(scope="module")
def slow(db, backend_factory):
    return backend_factory(db, env={"KILN_HTTP_FASTPATH": "0"})


def addr(backend):
    host, port = backend.url.split("//", 1)[1].split(":")
    return host, int(port)


def req(path=PAGE, method="GET", accept=HTML, extra=""):
    h = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if accept is not None:
        h += f"Accept: {accept}\r\n"
    return (h + extra + "\r\n").encode()


def read_one(f, method="GET"):
    """(status, headers dict, body) of one response from a socket file."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = {}
    while True:
        ln = f.readline()
        assert ln, "connection closed inside headers"
        if ln == b"\r\n":
            break
        k, v = ln.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if method != "HEAD" and status not in (204, 304) else b""
    return status, headers, body


def exchange(backend, data, methods, pause=0.0, chunk=None, check_closed=False):
    """Send data (in chunks, if asked), read one response per method; and, if
    asked, whether the connection is then closed (None if not asked)."""
    s = socket.create_connection(addr(backend), timeout=10)
    if chunk:
        for i in range(0, len(data), chunk):
            s.sendall(data[i:i + chunk])
            time.sleep(pause)
    else:
        s.sendall(data)
    f = s.makefile("rb")
    out = [read_one(f, m) for m in methods]
    closed = None
    if check_closed:
        s.settimeout(1.0)
        try:
            closed = f.read(1) == b""
        except (socket.timeout, TimeoutError):
            closed = False
    s.close()
    return out, closed


def comparable(resp):
    status, headers, body = resp
    return status, {k: v for k, v in headers.items() if k != "date"}, body


def warm(backend):
    for accept in (HTML, JSON):
        exchange(backend, req(accept=accept), ["GET"])


def fast_answers(backend):
    """Requests the fast path answered (its counter in /metrics)."""
    _, _, body = backend.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("kiln_http_fastpath_total "):
            return int(line.split()[1])
    return 0


def test_same_answers_as_the_general_path(fast, slow):
    warm(fast)
    warm(slow)
    cases = [
        (req(accept=HTML), "GET"),
        (req(accept=JSON), "GET"),
        (req(accept="application/vnd.pypi.simple.latest+json"), "GET"),
        (req(accept=None), "GET"),
        (req(accept="application/vnd.pypi.simple.v1+json, text/html;q=0.1"), "GET"),
        (req(method="HEAD"), "HEAD"),
        (req(accept="application/vnd.pypi.simple.v1+html"), "GET"),  # not prebuilt: lws
        (req(accept="image/png"), "GET"),  # 406
        (req("/simple/FastPkg/"), "GET"),  # 301
        (req("/simple/fastpkg"), "GET"),  # 301
        (req("/simple/fastpkg/?format=" + JSON), "GET"),
        (req("/simple/nosuchpkg/"), "GET"),  # 404
        (req("/simple/"), "GET"),
    ]
    before = fast_answers(fast)
    for data, method in cases:
        a, _ = exchange(fast, data, [method])
        b, _ = exchange(slow, data, [method])
        a, b = comparable(a[0]), comparable(b[0])
        # Header names differ in case only (lws writes them in lower case); compare values.
        assert a[0] == b[0], data
        assert a[2] == b[2], data
        for k in ("content-type", "content-length", "etag", "vary", "cache-control",
                  "x-pypi-last-serial", "location"):
            assert a[1].get(k) == b[1].get(k), (data, k)
    # The first six went the fast way on one backend, none on the other.
    assert fast_answers(fast) - before == 6
    assert fast_answers(slow) == 0


def test_the_fast_path_answers_the_hot_requests(fast):
    warm(fast)
    before = fast_answers(fast)
    (st, headers, body), = exchange(fast, req(), ["GET"])[0]
    assert st == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"fastpkg-1.4-py3-none-any.whl" in body
    (st, headers, body), = exchange(fast, req(accept=JSON), ["GET"])[0]
    assert st == 200 and headers["content-type"] == JSON and body.startswith(b"{")
    assert fast_answers(fast) - before == 2


def test_conditional_request_gets_304(fast):
    warm(fast)
    (st, headers, _), = exchange(fast, req(), ["GET"])[0]
    etag = headers["etag"]
    (st, _, body), = exchange(fast, req(extra=f"If-None-Match: {etag}\r\n"), ["GET"])[0]
    assert (st, body) == (304, b"")
    (st, _, _), = exchange(fast, req(extra='If-None-Match: "other"\r\n'), ["GET"])[0]
    assert st == 200


def test_keep_alive_and_pipelining_across_both_paths(fast):
    warm(fast)
    data = (req() + req(accept=JSON) + req("/healthz") + req() + req(method="HEAD")
            + req("/simple/FastPkg/") + req())
    methods = ["GET", "GET", "GET", "GET", "HEAD", "GET", "GET"]
    out, closed = exchange(fast, data, methods, check_closed=True)
    assert [r[0] for r in out] == [200, 200, 200, 200, 200, 301, 200]
    assert out[2][2] == b'{"status":"ok"}'
    assert out[0][2] == out[3][2] == out[6][2] and out[4][2] == b""
    assert out[1][1]["content-type"] == JSON
    assert not closed


def test_many_requests_on_one_connection(fast):
    warm(fast)
    out, closed = exchange(fast, req() * 200, ["GET"] * 200, check_closed=True)
    assert {r[0] for r in out} == {200} and len({r[2] for r in out}) == 1
    assert not closed


def test_request_split_into_single_bytes(fast):
    warm(fast)
    out, closed = exchange(fast, req() + req("/healthz"), ["GET", "GET"], pause=0.002, chunk=1,
                           check_closed=True)
    assert [r[0] for r in out] == [200, 200]
    assert b"fastpkg" in out[0][2]
    assert not closed


def test_other_requests_split_into_pieces_reach_lws_whole(fast):
    out, _ = exchange(fast, req("/api/v1/projects/fastpkg"), ["GET"], pause=0.01, chunk=5)
    assert out[0][0] == 200 and b'"fastpkg"' in out[0][2]


def test_connection_close_is_honoured(fast):
    warm(fast)
    out, closed = exchange(fast, req(extra="Connection: close\r\n"), ["GET"], check_closed=True)
    assert out[0][0] == 200 and closed


def test_a_body_after_fast_requests_closes_the_connection(fast):
    """lws cannot take a body from bytes it did not read: the connection closes
    after the answers before it, and nothing is misread as a request."""
    warm(fast)
    body = b"GET /simple/fastpkg/ HTTP/1.1\r\n\r\n"
    data = req() + (f"DELETE {PAGE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode() + body
    s = socket.create_connection(addr(fast), timeout=10)
    s.sendall(data)
    f = s.makefile("rb")
    assert read_one(f)[0] == 200
    s.settimeout(3)
    assert f.read() == b""  # closed, no second answer
    s.close()
    # The same request alone, first on its connection, reaches lws: 405.
    out, _ = exchange(fast, data[len(req()):], ["GET"])
    assert out[0][0] == 405


def test_oversized_headers_are_refused(fast):
    out, closed = exchange(fast, req(extra="X-Big: " + "a" * 20000 + "\r\n"), ["GET"])
    assert out[0] is None or out[0][0] >= 400
    huge = b"GET /simple/fastpkg/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000
    s = socket.create_connection(addr(fast), timeout=10)
    s.sendall(huge)
    s.settimeout(5)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    assert data == b"" or data.startswith(b"HTTP/1.1 4")
    s.close()
    assert fast.get("/healthz")[0] == 200


def test_websocket_and_api_still_work(fast):
    from websockets.sync.client import connect
    host, port = addr(fast)
    with connect(f"ws://{host}:{port}/api/v1/builders/ws", subprotocols=["kiln-builder.v1"]) as ws:
        ws.send('{"type":"hello","protocol":1,"token":"kiln_nope","name":"x","targets":[],"slots":1}')
        assert "error" in ws.recv(timeout=5)
    assert fast.get("/api/v1/projects")[0] == 200


def test_idle_connections_do_not_cost_a_thread_or_a_spin(fast):
    """Hundreds of idle keep-alive connections after one request each: all stay
    usable, and the backend idles."""
    warm(fast)
    socks = []
    for _ in range(300):
        s = socket.create_connection(addr(fast), timeout=10)
        s.sendall(req())
        assert read_one(s.makefile("rb"))[0] == 200
        socks.append(s)
    with open(f"/proc/{fast.proc.pid}/stat") as f:
        t0 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
    time.sleep(1.0)
    with open(f"/proc/{fast.proc.pid}/stat") as f:
        t1 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
    assert t1 - t0 < 20  # ticks: under 0.2 s of CPU in 1 s
    for s in socks[::50]:
        s.sendall(req())
        assert read_one(s.makefile("rb"))[0] == 200
    for s in socks:
        s.close()


def test_long_request_arriving_in_pieces(fast):
    """Headers of 6 KB in 100-byte pieces (the partial request's buffer grows)."""
    warm(fast)
    data = req(extra="User-Agent: " + "u" * 6000 + "\r\n") + req(accept=JSON)
    out, closed = exchange(fast, data, ["GET", "GET"], pause=0.001, chunk=100, check_closed=True)
    assert [r[0] for r in out] == [200, 200]
    assert b"fastpkg" in out[0][2] and out[1][1]["content-type"] == JSON
    assert not closed
