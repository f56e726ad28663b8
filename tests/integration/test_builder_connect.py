"""A builder whose connection attempt gets no answer tries again.

A load balancer still sending a connection to a replica that just died, or a
backend that accepts TCP and then hangs, leaves the WebSocket upgrade
unanswered. lws gives up on it after a few seconds without reporting a
connection error; the builder must notice and reconnect, or it sits
disconnected forever while its jobs' leases run out.
"""
import os
import socket
import subprocess
import threading
import time

from conftest import BUILD

BUILDER = BUILD / "builder" / "kiln-builder"


def test_builder_retries_a_connection_that_gets_no_answer(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    accepted = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            accepted.append((time.time(), c))  # never answer, never close

    threading.Thread(target=serve, daemon=True).start()
    env = {**os.environ, "KILN_BACKEND_URL": f"ws://127.0.0.1:{port}", "KILN_BUILDER_TOKEN": "kiln_" + "A" * 43,
           "KILN_BUILDER_NAME": "silent-probe", "KILN_DATA_DIR": str(tmp_path), "KILN_LOG": "info",
           # Named, so it connects although the backend never lists its targets (auto would wait).
           "KILN_BUILDER_TARGETS": "bookworm-py311-x86_64"}
    proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while len(accepted) < 3 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        srv.close()
        for _, c in accepted:
            c.close()
    assert len(accepted) >= 3, f"{len(accepted)} connection attempts in 30 s\n{err}"
    assert "backend did not answer the connection; retrying" in err, err
    assert proc.returncode == 0, err
