"""The schema's constraints make double work and bad rows impossible."""
import psycopg
import pytest


@pytest.fixture(scope="module")
def db(migrated):
    with psycopg.connect(migrated, autocommit=True) as c:
        p = c.execute("insert into projects (name, normalized) values ('Demo_Pkg', 'demo-pkg') returning id").fetchone()[0]
        r = c.execute("insert into releases (project_id, version, version_normalized) values (%s, '1.0', '1.0') returning id", (p,)).fetchone()[0]
        t = c.execute("insert into targets (name, image, python_tag, python_version, platform) "
                      "values ('bookworm-py311-x86_64', 'kiln/bookworm-py311:latest', 'cp311', '3.11', 'linux_x86_64') returning id").fetchone()[0]
        yield c, p, r, t


def violates(c, sql, params=()):
    with pytest.raises(psycopg.errors.IntegrityError):
        c.execute(sql, params)


def test_one_active_job_per_release_and_target(db):
    c, _, r, t = db
    j = c.execute("insert into jobs (release_id, target_id) values (%s, %s) returning id", (r, t)).fetchone()[0]
    violates(c, "insert into jobs (release_id, target_id) values (%s, %s)", (r, t))
    # Once the first finishes, a rebuild may be queued.
    c.execute("update jobs set state = 'succeeded', finished_at = now() where id = %s", (j,))
    c.execute("insert into jobs (release_id, target_id) values (%s, %s)", (r, t))
    c.execute("update jobs set state = 'cancelled', finished_at = now() where release_id = %s and state = 'queued'", (r,))


def test_held_jobs_need_a_lease_and_done_jobs_a_finish_time(db):
    c, _, r, t = db
    violates(c, "insert into jobs (release_id, target_id, state) values (%s, %s, 'assigned')", (r, t))
    violates(c, "insert into jobs (release_id, target_id, state) values (%s, %s, 'failed')", (r, t))
    violates(c, "insert into jobs (release_id, target_id, state) values (%s, %s, 'bogus')", (r, t))


def test_names_and_files_are_checked(db):
    c, p, r, _ = db
    violates(c, "insert into projects (name, normalized) values ('Bad', 'Not_Normal')")
    violates(c, "insert into projects (name, normalized) values ('x', 'demo-pkg')")
    violates(c, "insert into releases (project_id, version, version_normalized) values (%s, '1.0.0', '1.0')", (p,))
    violates(c, "insert into upstream_files (release_id, filename, kind, url) values (%s, '../evil.tar.gz', 'sdist', 'x')", (r,))
    violates(c, "insert into upstream_files (release_id, filename, kind, url, sha256) values (%s, 'a-1.0.tar.gz', 'sdist', 'x', 'NOTHEX')", (r,))


def test_artifact_filenames_are_unique_wheels(db):
    c, p, r, _ = db
    sql = ("insert into artifacts (project_id, release_id, filename, sha256, size, python_tags, abi_tags, "
           "platform_tags, metadata, metadata_sha256, storage_key) values "
           "(%s, %s, %s, repeat('a', 64), 1, '{cp311}', '{cp311}', '{linux_x86_64}', 'Name: x', repeat('b', 64), %s)")
    c.execute(sql, (p, r, "demo_pkg-1.0-cp311-cp311-linux_x86_64.whl", "k1"))
    violates(c, sql, (p, r, "demo_pkg-1.0-cp311-cp311-linux_x86_64.whl", "k2"))
    violates(c, sql, (p, r, "x/../demo_pkg-1.0-py3-none-any.whl", "k3"))
    violates(c, sql, (p, r, "demo_pkg-1.0.tar.gz", "k4"))
