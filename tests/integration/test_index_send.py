"""A cached index page sent to a client that reads slowly.

Cached pages go out by sendfile(2); what the socket does not take at once is
handed to libwebsockets, which sends it later. A page far larger than the socket
buffers, read by a client that waits before reading and reads in small pieces,
must arrive whole and byte for byte equal, and the connection must stay usable
for the next request (keep-alive).
"""
import socket
import time

import psycopg
import pytest

FILES = 15000  # about 6 MB of HTML: more than a loopback socket takes at once (4 MiB)


@pytest.fixture(scope="module")
def big_backend(migrated, backend_factory):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('bigpkg', 'bigpkg')")
        c.execute("""insert into releases (project_id, version, version_normalized)
                     select 1, '1.' || g, '1.' || g from generate_series(0, %s) g""", (FILES - 1,))
        c.execute("""insert into artifacts (project_id, release_id, filename, sha256, size,
                        python_tags, abi_tags, platform_tags, requires_python, metadata,
                        metadata_sha256, storage_key, published_at)
                     select 1, r.id, 'bigpkg-' || r.version || '-py3-none-any.whl',
                            encode(sha256(r.version::bytea), 'hex'), 1000, '{py3}', '{none}',
                            '{any}', '>=3.8', 'Metadata-Version: 2.1',
                            encode(sha256(r.version::bytea), 'hex'), 'k/' || r.id, now()
                     from releases r""")
    return backend_factory(migrated)


def read_response(sock):
    """One HTTP/1.1 response with Content-Length, read in pieces with pauses."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1024)
        assert chunk, "connection closed before the headers ended"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    want = int(headers["content-length"])
    reads = 0
    while len(body) < want:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(body)} of {want} body bytes"
        body += chunk
        reads += 1
        if reads % 20 == 0:
            time.sleep(0.01)  # a slow reader: the server's socket fills up meanwhile
    assert len(body) == want, "more bytes than Content-Length"
    return lines[0], headers, body


@pytest.mark.parametrize("accept", ["text/html", "application/vnd.pypi.simple.v1+json"])
def test_slow_reader_gets_the_whole_page_and_keeps_the_connection(big_backend, accept):
    status, _, expect = big_backend.get("/simple/bigpkg/", headers={"Accept": accept})
    assert status == 200 and len(expect) > 4_500_000
    host, port = big_backend.url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        # A pause before reading: the page is larger than the socket takes at once.
        req = f"GET /simple/bigpkg/ HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n".encode()
        for _ in range(2):
            s.sendall(req)
            time.sleep(0.3)
            line, headers, body = read_response(s)
            assert line == "HTTP/1.1 200 OK"
            assert headers["content-type"].startswith(accept)
            assert body == expect
