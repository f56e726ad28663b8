-- Builds that succeed and work (issue 15): per-project native packages, failure
-- classes, and what the repair step said of each wheel.
--
-- project_native_packages: the Debian packages a project needs beyond its
-- target's image. The job message carries them (docs/protocol.md, `job`), the
-- builder builds in the target image plus those packages. An admin adds them
-- (`kilnctl project deps add`, the admin API), or the backend does, with
-- source 'auto', when a build failed for a missing native dependency and the
-- builder named the package shipping it (docs/builds.md, "Native
-- dependencies"). The trigger below holds the caps, whoever inserts: at most
-- 16 packages per project (the protocol's limit) and at most 4 added
-- automatically, so a hostile build log can add a handful and no more.

create table project_native_packages (
    project_id      bigint not null references projects on delete cascade,
    package         text not null check (package ~ '^[a-z0-9][a-z0-9+.-]{0,63}$'),
    source          text not null check (source in ('admin', 'auto')),
    added_by        text,                          -- admin: token name or 'kilnctl'
    build_id        bigint references builds on delete set null, -- auto: the build that suggested it
    created_at      timestamptz not null default now(),
    primary key (project_id, package)
);
-- A build's automatically added packages (its page says so); also `on delete set null`.
create index project_native_packages_build on project_native_packages (build_id)
    where build_id is not null;

-- The caps. The project row is locked first so that two transactions adding
-- to one project count one after the other: in READ COMMITTED each query here
-- takes a new snapshot, which then sees the other's committed rows. An
-- automatic insert over a cap is dropped silently (the finish statement sees
-- that no package was added and does not retry); an admin's is an error.
create function project_native_packages_cap() returns trigger
language plpgsql as $$
declare
    n_all integer;
    n_auto integer;
begin
    perform 1 from projects where id = new.project_id for no key update;
    select count(*), count(*) filter (where source = 'auto') into n_all, n_auto
      from project_native_packages where project_id = new.project_id;
    if n_all >= 16 or (new.source = 'auto' and n_auto >= 4) then
        if new.source = 'auto' then
            return null;
        end if;
        raise exception 'a project has at most 16 native packages'
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger project_native_packages_cap before insert on project_native_packages
    for each row execute function project_native_packages_cap();

-- Why a build failed, as the builder's classifier says (builder/failclass.h).
-- missing: [{kind, name, package?}] for native-dependency failures.
-- native_packages: what the job message carried to this attempt, so the
-- automatic retry adds only packages the build did not already have.
alter table builds
    add column failure_class text check (failure_class in ('native-dependency',
        'build-requirement', 'compile', 'import', 'timeout', 'out-of-memory', 'infrastructure')),
    add column missing jsonb,
    add column native_packages text[] not null default '{}';

-- The job's class is its last attempt's: what requeue-failed --class selects.
-- native_retried: the automatic retry for a missing package happened (once per job).
alter table jobs
    add column failure_class text check (failure_class in ('native-dependency',
        'build-requirement', 'compile', 'import', 'timeout', 'out-of-memory', 'infrastructure')),
    add column native_retried boolean not null default false;

-- What the builder's repair step reported (auditwheel): the platform tag the
-- wheel got and the Debian packages of the system libraries it still needs.
alter table artifacts
    add column policy text,
    add column runtime_packages text[] not null default '{}';

-- GET /api/v1/builds?class=..., newest first.
create index builds_failure_class on builds (failure_class, id) where failure_class is not null;
