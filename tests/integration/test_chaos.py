"""The chaos run's short version (the full one is `just chaos`, 1,000 jobs).

tests/chaos/chaos.py with 20 jobs and a kill every 2 to 6 s (15 to 30 kills, each
kind 3 to 6 times; about 2 minutes): its own Postgres and SeaweedFS (never the
ones the other tests share), two backend replicas, kiln-sync, three builders in
Docker, while a seeded schedule kill -9s each kind a few times; then every job
ended once, storage and rows agree, every stored hash matches its bytes, every
ended build's log is whole. The seed is in the output (and in the failure),
with the command that replays it (`tests/chaos/chaos.py --jobs 20 --seed N
--gap 2 6 ...`); KILN_CHAOS_SEED fixes it here.
"""
import os
import subprocess
import sys

from conftest import ROOT

JOBS = 20


def test_chaos_short_run():
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "chaos" / "chaos.py"), "--jobs", str(JOBS),
                        "--gap", "2", "6", "--max-seconds", "400", "--settle-seconds", "150"],
                       capture_output=True, text=True, timeout=900, env=dict(os.environ))
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "chaos: PASS" in out, out
    # Each kind was killed at least once (the deck deals all five before repeating).
    kills = next(line for line in out.splitlines() if line.startswith("chaos: jobs="))
    for kind in ("builder", "backend", "sync", "postgres", "s3"):
        assert f"'{kind}': 0" not in kills, kills
