"""`kilnctl migrate`: applies pending files once, under a lock, and guards history."""
import concurrent.futures

import psycopg

from conftest import KILNCTL, ROOT, drop_database, run

MIGRATIONS = len(list((ROOT / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql")))


def tables(url):
    with psycopg.connect(url) as c:
        return {r[0] for r in c.execute(
            "select tablename from pg_tables where schemaname = 'public'")}


def test_first_run_applies_second_run_is_a_noop(database, kilnctl):
    first = kilnctl(database, "migrate")
    assert "applied 0001_initial" in first.stdout
    assert {"projects", "releases", "upstream_files", "jobs", "builds", "artifacts",
            "builders", "targets", "download_counts", "sync_state",
            "schema_migrations"} <= tables(database)

    second = kilnctl(database, "migrate")
    assert second.returncode == 0
    assert "applied" not in second.stdout.replace("nothing to apply", "")
    assert "nothing to apply" in second.stdout
    with psycopg.connect(database) as c:
        assert c.execute("select count(*) from schema_migrations").fetchone()[0] == MIGRATIONS

    status = kilnctl(database, "migrate", "--status")
    assert "0001_initial" in status.stdout and "applied" in status.stdout


def test_changed_applied_migration_is_an_error(database, kilnctl):
    kilnctl(database, "migrate")
    with psycopg.connect(database) as c:
        real = c.execute("select checksum from schema_migrations where version = 1").fetchone()[0]
        c.execute("update schema_migrations set checksum = repeat('0', 64) where version = 1")
    try:
        p = kilnctl(database, "migrate", check=False)
        assert p.returncode == 1
        assert "migration 0001_initial was changed after it was applied" in p.stderr
    finally:
        with psycopg.connect(database) as c:
            c.execute("update schema_migrations set checksum = %s where version = 1", (real,))
    assert kilnctl(database, "migrate").returncode == 0


def test_unknown_applied_migration_is_an_error(database, kilnctl):
    kilnctl(database, "migrate")
    with psycopg.connect(database) as c:
        c.execute("insert into schema_migrations (version, name, checksum) "
                  "values (9999, '9999_from_the_future', repeat('a', 64))")
    try:
        p = kilnctl(database, "migrate", check=False)
        assert p.returncode == 1
        assert "9999_from_the_future" in p.stderr
    finally:
        with psycopg.connect(database) as c:
            c.execute("delete from schema_migrations where version = 9999")


def test_concurrent_runs_apply_once(pg_url):
    # A database of its own: the point is a never-migrated schema.
    name = "kt_concurrent_migrate"
    drop_database(pg_url, name)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda _: run([KILNCTL, "migrate"], env={"KILN_DATABASE_URL": url}, check=False),
                range(6)))
        assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
        assert sum("applied 0001_initial" in r.stdout for r in results) == 1
        with psycopg.connect(url) as c:
            assert c.execute("select count(*) from schema_migrations").fetchone()[0] == MIGRATIONS
    finally:
        drop_database(pg_url, name)


def test_unreachable_database_gives_a_clear_error(kilnctl):
    p = kilnctl("postgresql://kiln@127.0.0.1:1/none?connect_timeout=2", "migrate", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("kilnctl: database: ")
    assert "connection" in p.stderr.lower()


def test_tests_run_without_superuser(pg_url):
    with psycopg.connect(pg_url) as c:
        assert c.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is False
