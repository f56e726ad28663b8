"""The local services the project starts itself: `just db`, `just s3`, `just image`."""
import hashlib
import subprocess
import urllib.error
import urllib.request

import psycopg
import pytest

from conftest import ROOT, run

DB = ROOT / "scripts" / "db.sh"
S3 = ROOT / "scripts" / "s3.sh"
IMAGE = ROOT / "scripts" / "image.sh"


def test_db_start_is_idempotent_and_serves_the_app_role(pg_url):
    again = run([DB, "start"])
    assert again.returncode == 0
    assert run([DB, "status"]).returncode == 0
    with psycopg.connect(pg_url) as c:
        assert c.execute("select current_user").fetchone()[0] == "kiln"
        # Loopback only: the cluster does not listen on other addresses.
        assert c.execute("show listen_addresses").fetchone()[0] in ("127.0.0.1", "localhost")


def test_s3_requires_signatures_and_round_trips(s3, tmp_path):
    s3_env = s3
    endpoint, bucket = s3_env["KILN_S3_ENDPOINT"], s3_env["KILN_S3_BUCKET"]
    user = f'{s3_env["KILN_S3_ACCESS_KEY"]}:{s3_env["KILN_S3_SECRET_KEY"]}'
    body = tmp_path / "obj"
    body.write_bytes(b"kiln s3 test\n" * 100)
    digest = hashlib.sha256(body.read_bytes()).hexdigest()
    url = f"{endpoint}/{bucket}/tests/services/obj"
    sig = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", user]
    put = subprocess.run(["curl", "-sf", *sig, "-H", f"x-amz-content-sha256: {digest}",
                          "-T", str(body), url], capture_output=True)
    assert put.returncode == 0, put.stderr
    get = subprocess.run(["curl", "-sf", *sig, "-H",
                          "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                          url], capture_output=True)
    assert get.returncode == 0 and get.stdout == body.read_bytes()
    with pytest.raises(urllib.error.HTTPError) as no_sig:
        urllib.request.urlopen(url, timeout=10)
    assert no_sig.value.code in (401, 403)


def test_s3_start_is_idempotent(s3):
    assert run([S3, "start"], timeout=300).returncode == 0
    assert run([S3, "status"]).returncode == 0


def test_builder_image_builds_a_c_extension_wheel_offline():
    # `just image` then the check from the issue: docker run --network none ... pip wheel /src
    run([IMAGE, "build"], timeout=1200)
    name = run([IMAGE, "name"]).stdout.strip()
    assert name.startswith("kiln/bookworm-py311-x86_64:")  # the default target's image
    check = run([IMAGE, "check"], timeout=600)
    assert "cp311-cp311-linux_x86_64.whl" in check.stdout + check.stderr
    assert "image check: ok" in check.stdout
    # Rebuilding with an unchanged recipe is a no-op.
    again = run([IMAGE, "build"], timeout=120)
    assert run([IMAGE, "name"]).stdout.strip() == name
    assert "up to date" in (again.stdout + again.stderr).lower() or "exists" in (again.stdout + again.stderr).lower()
