"""Loopback ports for the test farms: one free port, or a SeaweedFS base port
whose every derived port (scripts/s3.sh) is free. Used by conftest.py, test_up.py
and tests/chaos/chaos.py."""
import random
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def s3_ports(base):
    """Every port scripts/s3.sh derives from its S3 port (and each one's gRPC, +10000)."""
    ports = [base, base + 1000, base + 1007, base + 555]
    return ports + [p + 10000 for p in ports]


def pick_s3_port(rng=None) -> int:
    """A base port for scripts/s3.sh whose derived ports are all free, so farms can
    run side by side."""
    rng = rng or random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        if all(port_free(p) for p in s3_ports(base)):
            return base
    raise RuntimeError("no free ports for SeaweedFS")
