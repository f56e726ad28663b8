"""`kilnctl builder`: tokens are shown once and only their hashes are stored."""
import hashlib
import re

import psycopg

TOKEN = re.compile(r"^kiln_[A-Za-z0-9_-]{43}$", re.M)


def test_add_prints_token_once_and_stores_only_its_hash(migrated, kilnctl):
    p = kilnctl(migrated, "builder", "add", "spare-1")
    tokens = TOKEN.findall(p.stdout)
    assert len(tokens) == 1
    token = tokens[0]
    with psycopg.connect(migrated) as c:
        row = c.execute("select token_hash, enabled from builders where name = 'spare-1'").fetchone()
        dump = str(c.execute("select * from builders").fetchall())
    assert row == (hashlib.sha256(token.encode()).hexdigest(), True)
    assert token not in dump
    # Listing never shows it again.
    listing = kilnctl(migrated, "builder", "list").stdout
    assert "spare-1" in listing and token not in listing


def test_tokens_differ_between_builders(migrated, kilnctl):
    a = TOKEN.findall(kilnctl(migrated, "builder", "add", "tok-a").stdout)[0]
    b = TOKEN.findall(kilnctl(migrated, "builder", "add", "tok-b").stdout)[0]
    assert a != b


def test_duplicate_name_is_refused(migrated, kilnctl):
    kilnctl(migrated, "builder", "add", "dup")
    p = kilnctl(migrated, "builder", "add", "dup", check=False)
    assert p.returncode == 1
    assert "builder 'dup' already exists" in p.stderr
    assert not TOKEN.search(p.stdout)


def test_bad_names_are_refused(migrated, kilnctl):
    for name in ["../etc", "", "-x", "a b", "x" * 64, "name;drop"]:
        p = kilnctl(migrated, "builder", "add", name, check=False)
        assert p.returncode == 1, name
        assert "invalid builder name" in p.stderr


def test_disable_and_enable(migrated, kilnctl):
    kilnctl(migrated, "builder", "add", "flaky")
    kilnctl(migrated, "builder", "disable", "flaky")
    line = [l for l in kilnctl(migrated, "builder", "list").stdout.splitlines() if l.startswith("flaky ")]
    assert line and line[0].split()[1] == "disabled"
    kilnctl(migrated, "builder", "enable", "flaky")
    line = [l for l in kilnctl(migrated, "builder", "list").stdout.splitlines() if l.startswith("flaky ")]
    assert line[0].split()[1] == "enabled"
    p = kilnctl(migrated, "builder", "disable", "nobody", check=False)
    assert p.returncode == 1 and "no builder named 'nobody'" in p.stderr


def test_usage_errors_exit_2(migrated, kilnctl):
    assert kilnctl(migrated, "builder", check=False).returncode == 2
    assert kilnctl(migrated, "frobnicate", check=False).returncode == 2
