"""Every way an upload can be refused: a clear JSON error, and nothing left behind.

Each refusal is checked three ways: the status and message the builder gets,
no artifact row, and no stored object (the storage directory stays empty of
anything but what earlier, accepted uploads put there).
"""
import hashlib
import io
import json
import os
import zipfile

import psycopg
import pytest

from wheels import make_wheel

TOKEN = "kiln_" + "U" * 43
OTHER = "kiln_" + "V" * 43


@pytest.fixture(scope="module")
def env(migrated, backend_factory):
    with psycopg.connect(migrated, autocommit=True) as c:
        c.execute("insert into projects (name, normalized) values ('Up-Demo', 'up-demo')")
        c.execute("insert into releases (project_id, version, version_normalized) select id, '1.0', '1.0' from projects")
        c.execute("insert into targets (name, image, python_tag, python_version, platform) values "
                  "('t311', 'img', 'cp311', '3.11', 'linux_x86_64')")
        job = c.execute("insert into jobs (release_id, target_id, state, lease_token_hash, lease_expires_at, assigned_at) "
                        "select r.id, t.id, 'running', %s, now() + interval '1 hour', now() from releases r, targets t "
                        "returning id", (hashlib.sha256(TOKEN.encode()).hexdigest(),)).fetchone()[0]
    backend = backend_factory(migrated, env={"KILN_MAX_UPLOAD": str(2 << 20)})
    return migrated, backend, job


def put(backend, job, filename, data, token=TOKEN, headers=None):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    return backend.request("PUT", f"/api/v1/jobs/{job}/artifacts/{filename}", body=data, headers=h)


def stored_files(backend):
    root = backend.env["KILN_STORAGE_DIR"]
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def rows(db):
    with psycopg.connect(db) as c:
        return c.execute("select filename from artifacts order by filename").fetchall()


def refused(env, filename, data, status, message, **kw):
    db, backend, job = env
    before_rows, before_files = rows(db), stored_files(backend)
    st, headers, body = put(backend, kw.pop("job", job), filename, data, **kw)
    assert st == status, body
    assert headers["content-type"] == "application/json"
    err = json.loads(body)["error"]
    assert message in err["message"], err
    assert rows(db) == before_rows
    assert stored_files(backend) == before_files
    return err


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_no_token(env):
    fn, data = make_wheel("Up-Demo", "1.0")
    refused(env, fn, data, 401, "Authorization: Bearer", token=None)


def test_malformed_token(env):
    fn, data = make_wheel("Up-Demo", "1.0")
    refused(env, fn, data, 401, "Authorization: Bearer", token="not-a-token")


def test_another_token(env):
    fn, data = make_wheel("Up-Demo", "1.0")
    refused(env, fn, data, 403, "does not hold job", token=OTHER)


def test_unknown_job(env):
    fn, data = make_wheel("Up-Demo", "1.0")
    refused(env, fn, data, 404, "no job", job=999999)


def test_bad_filename(env):
    refused(env, "not-a-wheel.zip", b"x", 400, "")
    refused(env, "up_demo-1.0-py3-none-any.whl.exe", b"x", 400, "")


@pytest.mark.parametrize("path", ["..%2Fevil.whl", "%2E%2E%2Fup_demo-1.0-py3-none-any.whl"])
def test_path_tricks_in_filename(env, path):
    db, backend, job = env
    before = stored_files(backend)
    st, _, body = put(backend, job, path, b"x")
    # lws resolves the dot segments before routing, so this is not even an upload URL.
    assert st in (400, 404, 405), body
    assert stored_files(backend) == before and rows(db) == []


def test_wrong_project(env):
    fn, data = make_wheel("other-project", "1.0")
    refused(env, fn, data, 400, "wheel is for project 'other-project'")


def test_wrong_version(env):
    fn, data = make_wheel("Up-Demo", "2.0")
    refused(env, fn, data, 400, "wheel is version 2.0")


def test_tags_that_do_not_fit_the_target(env):
    fn, data = make_wheel("Up-Demo", "1.0", tag="cp39-cp39-win_amd64")
    refused(env, fn, data, 400, "do not fit the job's target")


def test_not_a_zip(env):
    refused(env, "up_demo-1.0-py3-none-any.whl", b"\x1f\x8b not a zip at all" * 10, 422, "not a zip")


def test_truncated_zip(env):
    fn, data = make_wheel("Up-Demo", "1.0")
    refused(env, fn, data[: len(data) // 2], 422, "")


def test_missing_metadata(env):
    fn, data = make_wheel("Up-Demo", "1.0", drop=("METADATA",))
    refused(env, fn, data, 422, "METADATA")


def test_metadata_that_lies(env):
    fn, data = make_wheel("Up-Demo", "1.0", metadata="Metadata-Version: 2.1\nName: Up-Demo\nVersion: 9.9\n\n")
    refused(env, fn, data, 422, "9.9")


def test_entry_with_dotdot(env):
    fn, data = make_wheel("Up-Demo", "1.0", extra_files={"../../etc/cron.d/evil": b"* * * * * root rm -rf /"})
    refused(env, fn, data, 422, "..")


def test_zip_bomb(env):
    # 1 GiB of zeros that compresses to about 1 MiB: refused by the ratio / size limits.
    fn, data = make_wheel("Up-Demo", "1.0", extra_files={"up_demo/zeros.bin": b"\0" * (300 << 20)})
    assert len(data) < (2 << 20)
    refused(env, fn, data, 413, "")


def test_too_large(env, tmp_path):
    # Refused from the Content-Length, before the body is read: curl copes with the early answer.
    import subprocess
    db, backend, job = env
    fn, data = make_wheel("Up-Demo", "1.0", extra_files={"up_demo/blob.bin": os.urandom(3 << 20)})
    f = tmp_path / fn
    f.write_bytes(data)
    before = stored_files(backend)
    p = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "PUT", "-H",
                        f"Authorization: Bearer {TOKEN}", "--data-binary", f"@{f}",
                        f"{backend.url}/api/v1/jobs/{job}/artifacts/{fn}"], capture_output=True, text=True)
    body, code = p.stdout.rsplit("\n", 1)
    assert code == "413" and "over the limit" in json.loads(body)["error"]["message"]
    assert stored_files(backend) == before and all(r[0] != fn for r in rows(db))


def test_length_mismatch(env):
    db, backend, job = env
    import http.client
    fn, data = make_wheel("Up-Demo", "1.0")
    host, port = backend.url.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.putrequest("PUT", f"/api/v1/jobs/{job}/artifacts/{fn}")
    c.putheader("Authorization", f"Bearer {TOKEN}")
    c.putheader("Content-Length", str(len(data) + 100))
    c.endheaders()
    c.send(data)
    c.sock.shutdown(1)  # the body ends early
    try:
        r = c.getresponse()
        assert r.status in (400, 408) or r.status >= 400
    except (ConnectionError, http.client.HTTPException):
        pass  # closing on a short body is a fine answer too
    assert rows(db) == [] or all(r[0] != fn for r in rows(db))


def test_accepted_then_idempotent_then_conflict(env):
    db, backend, job = env
    fn, data = make_wheel("Up-Demo", "1.0")
    st, _, body = put(backend, job, fn, data)
    assert st == 201 and json.loads(body)["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()
    files = stored_files(backend)
    assert len(files) == 1 and files[0].endswith(fn)
    st, _, body = put(backend, job, fn, data)
    assert st == 200 and json.loads(body)["artifact"]["status"] == "exists"
    # Other bytes under the same name: refused, the first file untouched.
    _, other = make_wheel("Up-Demo", "1.0", module_body="X = 2\n")
    err = refused(env, fn, other, 409, "already exists with different content")
    assert err["code"] == "conflict"
    assert stored_files(backend) == files


def test_a_lease_past_its_time_but_still_held_uploads(env):
    # Leases are not extended while the database is down; after it comes back a
    # live builder's lease may be past lease_expires_at for a moment before its
    # connection extends it. The job is still held with the token (not reaped):
    # the upload is the current attempt's. It was refused with 409, and the
    # builder reported the build failed for good (found by the chaos run).
    db, backend, _ = env
    token = "kiln_" + "W" * 43
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("insert into releases (project_id, version, version_normalized)"
                  " select id, '2.0', '2.0' from projects")
        job = c.execute("insert into jobs (release_id, target_id, state, lease_token_hash, lease_expires_at,"
                        " assigned_at) select r.id, t.id, 'running', %s, now() - interval '1 minute', now()"
                        " from releases r, targets t where r.version = '2.0' returning id",
                        (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()[0]
        c.execute("insert into builds (job_id, attempt) values (%s, 1)", (job,))
    fn, data = make_wheel("Up-Demo", "2.0")
    st, _, body = put(backend, job, fn, data, token=token)
    assert st == 201, body
    with psycopg.connect(db) as c:
        assert c.execute("select count(*) from artifacts where job_id = %s", (job,)).fetchone()[0] == 1
