-- The target matrix (issue 16): every CPython a user runs, on x86_64 and aarch64.
--
-- A target is data: name, Debian suite, CPython version, architecture, the
-- suite's glibc, and the image built from its recipe (builder/targets.txt lists
-- the default set; `kilnctl target add` takes the same fields).
--
-- arch: the machine architecture the target's wheels run on, as `uname -m`
--   says it (x86_64, aarch64). The backend hands a target's jobs only to a
--   builder of that architecture, or one configured to emulate it (the hello's
--   `arch` and `emulates`, docs/protocol.md). platform stays the wheel platform
--   tag of an unrepaired build (linux_<arch>).
-- suite: the Debian suite of the image (bookworm, trixie, forky); the Contents
--   index the builder reads for missing files is the suite's.
-- glibc: the suite's glibc version (2.36); the builder fetches build
--   requirements for manylinux_2_<minor> down to manylinux2014 of the target's
--   arch, and the planner counts an upstream wheel of those tags as coverage.
--   Null: only linux_<arch> and pure wheels count.
--
-- scope_rules.versions: the version policy of a scope rule: 'all' (every
--   release), 'newest:N' (a project's N newest releases), 'since:YYYY-MM-DD'
--   (releases the upstream published on or after that day). The planner skips
--   the others with reason 'outside version policy'.

alter table targets
    add column arch text not null default 'x86_64' check (arch in ('x86_64', 'aarch64')),
    add column suite text check (suite ~ '^[a-z][a-z0-9-]{0,31}$'),
    add column glibc text check (glibc ~ '^2\.[0-9]{1,3}$');

update targets set arch = 'aarch64' where platform like '%aarch64';

alter table scope_rules
    add column versions text not null default 'all'
        check (versions ~ '^(all|newest:[1-9][0-9]{0,3}|since:[0-9]{4}-[0-9]{2}-[0-9]{2})$');
