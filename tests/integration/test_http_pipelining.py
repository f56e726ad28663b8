"""HTTP/1.1 framing at the edges: bodies on requests that take none, pipelined
requests, and bytes past a body, on one keep-alive connection.

lws 4.1 reads on after a request in ways that went wrong here (issue 9: the
schemathesis hang): a body sent with a request answered without reading it
(a 405, a GET) left the connection in lws's body state, where the next request's
bytes were never consumed and the event loop spun; a request pipelined behind
one answered from the database made lws dispatch the open request's headers
again. The backend now closes such connections: any answer a client gets is
the right one, and everyone else is still served.
"""
import json
import re
import socket
import time

import pytest

from conftest import KILNCTL, run


@pytest.fixture(scope="module")
def live(migrated, backend_factory):
    out = run([KILNCTL, "admin-token", "add", "pipe-ops"], env={"KILN_DATABASE_URL": migrated}).stdout
    token = re.search(r"kiln_[A-Za-z0-9_-]{43}", out).group(0)
    return backend_factory(migrated), token


class Conn:
    def __init__(self, backend, timeout=10):
        host, port = backend.url.split("//", 1)[1].split(":")
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def responses(self, want, timeout=10):
        """Up to want responses as (status, body bytes); fewer if the server closes."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            m = re.match(rb"HTTP/1.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n", self.buf, re.S)
            if m:
                cl = re.search(rb"(?im)^content-length: *(\d+)", m[2])
                n = int(cl[1]) if cl else 0
                if len(self.buf) >= m.end() + n:
                    out.append((int(m[1]), self.buf[m.end():m.end() + n]))
                    self.buf = self.buf[m.end() + n:]
                    continue
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            self.buf += chunk
        return out

    def closed(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def request(method, path, token=None, body=None):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


REQUEUE = "/api/v1/admin/jobs/requeue-failed"


def assert_requeue_answer(status, body):
    assert status == 200, body
    assert set(json.loads(body)) >= {"failed", "requeued"}, body


def served(backend):
    """The backend still answers, promptly."""
    t = time.monotonic()
    assert backend.get("/api/v1/projects")[0] == 200
    assert time.monotonic() - t < 5


def test_keep_alive_posts_one_after_another(live):
    """The ordinary case stays as it was: answers from the database, in turn."""
    backend, token = live
    c = Conn(backend)
    for _ in range(3):
        c.send(request("POST", REQUEUE, token, b"{}"))
        [(status, body)] = c.responses(1)
        assert_requeue_answer(status, body)
    c.send(request("GET", "/healthz"))
    assert c.responses(1)[0][0] == 200
    c.close()


@pytest.mark.parametrize("method,path", [("DELETE", REQUEUE), ("GET", "/api/v1/projects"),
                                         ("PUT", "/healthz")])
def test_body_on_a_request_that_takes_none(live, method, path):
    """The request that hung the backend under schemathesis: the next request on
    the connection does not wedge the server."""
    backend, token = live
    c = Conn(backend)
    c.send(request(method, path, token, b'{"project": "x"}'))
    c.send(request("GET", "/healthz"))
    got = c.responses(2)
    # Answered, or the connection closed (the next request's answer may come first
    # only if this one's did): never a hang, never an answer of another request.
    assert all(st in (200, 405, 413) for st, _ in got), got
    if got[1:]:
        assert got[1] == (200, b'{"status":"ok"}'), got
    else:
        assert c.closed(), got
    c.close()
    served(backend)


@pytest.mark.parametrize("tail", [request("GET", "/healthz"), b"garbage past the body",
                                  request("POST", REQUEUE, None, b"{}")])
def test_bytes_behind_a_database_answer(live, tail):
    """Whatever follows a request answered from the database in the same write:
    no wrong answer, no spin; the connection may close."""
    backend, token = live
    for first in (request("POST", REQUEUE, token, b"{}"), request("GET", "/api/v1/queue")):
        c = Conn(backend)
        c.send(first + tail)
        got = c.responses(2)
        if got:
            if first.startswith(b"POST"):
                assert_requeue_answer(*got[0])
            else:
                assert got[0][0] == 200 and "jobs" in json.loads(got[0][1]), got[0]
        if len(got) < 2:
            assert c.closed(), got
        c.close()
        served(backend)
