"""Artifact storage through `kilnctl storage`, for both drivers: fs (files in a
temporary directory) and s3 (the local SeaweedFS of `just s3`).

Every test runs once per driver with keys under a prefix of its own, which the
s3 variant deletes afterwards.
"""
import hashlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import KILNCTL, run, unique_prefix

MIB = 1 << 20


class Store:
    """kilnctl storage with one driver's environment and a key prefix."""

    def __init__(self, driver, env, prefix, root=None):
        self.driver = driver
        self.env = env
        self.prefix = prefix
        self.root = root  # fs: the storage directory

    def key(self, name):
        return self.prefix + name

    def ctl(self, *args, check=True):
        return run([KILNCTL, "storage", *args], env=self.env, check=check)

    def ctl_bytes(self, *args):
        """Run with binary stdout (get KEY -)."""
        env = dict(os.environ)
        env.update(self.env)
        return subprocess.run([str(KILNCTL), "storage", *map(str, args)], env=env,
                              capture_output=True, timeout=600)

    def keys(self, prefix=None):
        """{key: size} of what `ls` lists under prefix (default: this test's prefix)."""
        out = self.ctl("ls", self.prefix if prefix is None else prefix).stdout
        return {k: int(v) for k, v in (line.rsplit(" ", 1) for line in out.splitlines())}


@pytest.fixture(params=["fs", "s3"])
def store(request, tmp_path):
    prefix = unique_prefix(request.node.name)
    base = {"KILN_CONFIG": "", "KILN_LOG": "warn"}
    if request.param == "fs":
        root = tmp_path / "artifacts"
        yield Store("fs", {**base, "KILN_STORAGE": "fs", "KILN_STORAGE_DIR": str(root)},
                    prefix, root)
        return
    s3 = request.getfixturevalue("s3")
    st = Store("s3", {**base, **s3, "KILN_STORAGE": "s3"}, prefix)
    yield st
    for key in st.keys():
        st.ctl("rm", key, check=False)


def random_file(path, size):
    """Write size random bytes to path in 1 MiB pieces; return their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, MIB))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def max_rss_kib(cmd, env):
    """Run cmd in a fresh Python parent and return the child's peak RSS (KiB): the
    parent's RUSAGE_CHILDREN then covers that one child only."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:])\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(p.returncode)\n")
    p = run([sys.executable, "-c", probe, *cmd], env=env)
    return int(p.stdout.strip().splitlines()[-1])


def test_put_stat_get_round_trip(store, tmp_path):
    src = tmp_path / "pkg-1.0-py3-none-any.whl"
    digest = random_file(src, 3 * MIB + 12345)
    key = store.key("wheels/pkg/pkg-1.0-py3-none-any.whl")

    put = store.ctl("put", "--content-type", "application/zip", key, src)
    assert f"stored {key} ({store.driver})" in put.stdout
    assert store.ctl("stat", key).stdout == f"{key} {3 * MIB + 12345}\n"

    out = tmp_path / "out.whl"
    store.ctl("get", key, out)
    assert sha256_file(out) == digest
    leftovers = [p.name for p in tmp_path.iterdir() if ".kiln-" in p.name]
    assert leftovers == []
    # To stdout, with and without "-".
    for args in ([key], [key, "-"]):
        p = store.ctl_bytes("get", *args)
        assert p.returncode == 0, p.stderr
        assert hashlib.sha256(p.stdout).hexdigest() == digest
    # Overwriting replaces the object.
    src.write_bytes(b"second version\n")
    store.ctl("put", key, src)
    assert store.ctl_bytes("get", key).stdout == b"second version\n"


def test_multipart_upload_and_streaming_download(store, tmp_path):
    """40 MiB in 8 MiB parts: S3 really does a multipart upload (the ETag of a
    multipart object ends in -<parts>), and neither direction holds the object
    in memory."""
    src = tmp_path / "big.bin"
    size = 40 * MIB
    digest = random_file(src, size)
    key = store.key("big/big.bin")

    env = dict(os.environ, **store.env)
    put_rss = max_rss_kib([KILNCTL, "storage", "put", "--multipart-mib", "8", key, src], env)
    assert store.ctl("stat", key).stdout == f"{key} {size}\n"
    out = tmp_path / "big.out"
    get_rss = max_rss_kib([KILNCTL, "storage", "get", key, out], env)
    assert sha256_file(out) == digest
    # Far below the object's 40 MiB: both directions stream.
    assert get_rss < 30 * 1024, f"get peaked at {get_rss} KiB"
    assert put_rss < 30 * 1024, f"put peaked at {put_rss} KiB"

    if store.driver == "s3":
        url = store.ctl("url", key).stdout.strip()
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as r:
            etag = r.headers["ETag"]
            for chunk in iter(lambda: r.read(MIB), b""):
                h.update(chunk)
        assert h.hexdigest() == digest
        assert etag.strip('"').endswith("-5"), f"not a 5-part multipart object: ETag {etag}"


def test_range_get(store, tmp_path):
    data = bytes(range(256)) * 4096  # 1 MiB
    src = tmp_path / "r.bin"
    src.write_bytes(data)
    key = store.key("range/r.bin")
    store.ctl("put", key, src)

    def get(*opts):
        p = store.ctl_bytes("get", *opts, key)
        assert p.returncode == 0, p.stderr
        return p.stdout

    assert get("--offset", "1000", "--length", "5000") == data[1000:6000]
    assert get("--offset", "0", "--length", "1") == data[:1]
    assert get("--offset", str(len(data) - 10)) == data[-10:]
    assert get("--length", "300") == data[:300]
    # A range running past the end stops at the end.
    assert get("--offset", str(len(data) - 5), "--length", "100") == data[-5:]
    # A range starting at the end is refused, and so is a malformed number.
    p = store.ctl("get", "--offset", str(len(data)), key, "-", check=False)
    assert p.returncode == 1 and "past" in p.stderr
    p = store.ctl("get", "--offset", "-4", key, check=False)
    assert p.returncode == 2 and "non-negative integer" in p.stderr


def test_presigned_url(store, tmp_path):
    src = tmp_path / "u.bin"
    src.write_bytes(os.urandom(100_000))
    key = store.key("urls/u.bin")
    store.ctl("put", key, src)

    if store.driver == "fs":
        p = store.ctl("url", key, check=False)
        assert p.returncode == 1
        assert "the fs driver cannot presign" in p.stderr
        return

    url = store.ctl("url", key).stdout.strip()
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300&" in url
    assert store.env["KILN_S3_SECRET_KEY"] not in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == src.read_bytes()

    # Any change to what was signed is refused: the signature, the key, the expiry.
    sig = url.rsplit("=", 1)[1]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    other = store.key("urls/other.bin")
    store.ctl("put", other, src)
    for bad in (url[: -len(sig)] + flipped,
                url.replace(key, other),
                url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=30)
        assert err.value.code == 403, bad

    # An expired URL is refused too.
    short = store.ctl("url", "--expires", "1", key).stdout.strip()
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(short, timeout=30)
    assert err.value.code == 403


@pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", "a/./b", "a/..", "a b", "a\\b", "é"])
def test_invalid_keys_are_refused_before_any_io(store, tmp_path, bad):
    src = tmp_path / "x"
    src.write_bytes(b"x")
    for key in (bad, store.prefix + bad):
        for args in (["put", key, src], ["get", key, tmp_path / "out"], ["stat", key],
                     ["rm", key], ["url", key]):
            p = store.ctl(*args, check=False)
            assert p.returncode == 1, (args, p.stdout, p.stderr)
            assert "invalid key" in p.stderr, (args, p.stderr)
    assert not (tmp_path / "out").exists()
    assert store.keys() == {}
    if store.driver == "fs":
        # Nothing at all was written, inside the root or next to it.
        assert not any(store.root.rglob("*"))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "x"]


def test_missing_key(store, tmp_path):
    key = store.key("nothing/here.whl")
    out = tmp_path / "out.whl"
    p = store.ctl("get", key, out, check=False)
    assert p.returncode == 1
    assert "not found" in p.stderr
    assert not out.exists()
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith("out")] == []
    p = store.ctl("stat", key, check=False)
    assert p.returncode == 1 and "not found" in p.stderr
    # Deleting what is not there is fine.
    assert store.ctl("rm", key).returncode == 0


def test_ls_and_rm(store, tmp_path):
    src = tmp_path / "f"
    names = {"a/1.whl": 1, "a/b/2.whl": 22, "a-3.whl": 333, "c.txt": 4444}
    for name, size in names.items():
        src.write_bytes(b"z" * size)
        store.ctl("put", store.key(name), src)
    listed = store.ctl("ls", store.prefix).stdout.splitlines()
    want = sorted(f"{store.key(n)} {s}" for n, s in names.items())
    if store.driver == "fs":
        assert listed == want  # byte order of keys: '-' < '/'
    else:
        # SeaweedFS lists a directory's keys where its name sorts ("a/1.whl" before
        # "a-3.whl"); AWS S3 would give byte order. Either way, each key once.
        assert sorted(listed) == want
    assert store.keys(store.key("a/")) == {store.key("a/1.whl"): 1, store.key("a/b/2.whl"): 22}
    assert store.keys(store.key("a")) == {store.key(n): s for n, s in names.items() if n.startswith("a")}
    assert store.keys(store.key("zzz/")) == {}

    store.ctl("rm", store.key("a/b/2.whl"))
    assert store.key("a/b/2.whl") not in store.keys()
    assert len(store.keys()) == 3
    p = store.ctl("ls", "../", check=False)
    assert p.returncode == 1 and "invalid prefix" in p.stderr


def test_listing_pages_through_continuation_tokens(s3, tmp_path):
    """More keys than one ListObjectsV2 page (1000) all come back, once each."""
    st = Store("s3", {**s3, "KILN_STORAGE": "s3", "KILN_CONFIG": ""},
               unique_prefix("pages"))
    src = tmp_path / "one"
    src.write_bytes(b"1")
    keys = [st.key(f"{i // 100:02d}/k{i:04d}") for i in range(1010)]
    env = dict(os.environ, **st.env)
    # kilnctl processes in parallel batches: a thousand objects in a few seconds.
    for i in range(0, len(keys), 50):
        procs = [subprocess.Popen([str(KILNCTL), "storage", "put", k, str(src)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for k in keys[i:i + 50]]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    try:
        listed = st.ctl("ls", st.prefix).stdout.splitlines()
        assert sorted(listed) == sorted(f"{k} 1" for k in keys)
    finally:
        for i in range(0, len(keys), 50):
            procs = [subprocess.Popen([str(KILNCTL), "storage", "rm", k], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for k in keys[i:i + 50]]
            for p in procs:
                p.wait(timeout=120)
    assert st.keys() == {}


def test_bad_configuration_is_reported(tmp_path):
    p = run([KILNCTL, "storage", "ls"], env={"KILN_STORAGE": "ftp", "KILN_CONFIG": ""},
            check=False)
    assert p.returncode == 1
    assert "KILN_STORAGE must be s3 or fs, got 'ftp'" in p.stderr
    p = run([KILNCTL, "storage", "ls"], env={"KILN_STORAGE": "s3", "KILN_CONFIG": "",
                                             "KILN_S3_ENDPOINT": "ftp://127.0.0.1"}, check=False)
    assert p.returncode == 1 and "must start with http:// or https://" in p.stderr
    p = run([KILNCTL, "storage", "frobnicate"], check=False)
    assert p.returncode == 2 and "storage takes:" in p.stderr


def test_wrong_s3_credentials_are_reported(s3, tmp_path):
    env = {**s3, "KILN_STORAGE": "s3", "KILN_CONFIG": "", "KILN_S3_SECRET_KEY": "wrong"}
    p = run([KILNCTL, "storage", "stat", "it/any"], env=env, check=False)
    assert p.returncode == 1
    p = run([KILNCTL, "storage", "ls", "it/"], env=env, check=False)
    assert p.returncode == 1
    assert "HTTP 403" in p.stderr and "SignatureDoesNotMatch" in p.stderr, p.stderr


def test_presigned_url_for_a_public_endpoint(s3, tmp_path):
    """KILN_S3_PUBLIC_ENDPOINT: the URL names the host clients use (here: the same
    gateway by another name), signed for it, and the gateway accepts it."""
    src = tmp_path / "p.bin"
    src.write_bytes(os.urandom(10_000))
    key = unique_prefix("public") + "p.bin"
    env = {**s3, "KILN_STORAGE": "s3"}
    run([KILNCTL, "storage", "put", key, src], env=env)
    try:
        public = s3["KILN_S3_ENDPOINT"].replace("127.0.0.1", "localhost")
        url = run([KILNCTL, "storage", "url", key], env={**env, "KILN_S3_PUBLIC_ENDPOINT": public}).stdout.strip()
        assert url.startswith(public + "/" + s3["KILN_S3_BUCKET"] + "/" + key + "?"), url
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.read() == src.read_bytes()
        # Signed for the public host: the same URL sent to the internal name is refused.
        internal = url.replace(public, s3["KILN_S3_ENDPOINT"], 1)
        try:
            urllib.request.urlopen(internal, timeout=30)
            raise AssertionError("a URL signed for the public host was accepted under another host")
        except urllib.error.HTTPError as err:
            assert err.code == 403
    finally:
        run([KILNCTL, "storage", "rm", key], env=env, check=False)
