-- Upstream yanks, deletions and upload times reach the index (issue 17).
--
-- kiln-sync mirrors an upstream yank into releases.yanked, but the index serves
-- artifacts.yanked, which nothing wrote: pip kept picking a yanked release's
-- wheels from Kiln. A release's yank now carries over to its wheels (PEP 592:
-- a release is yanked when all its files are, and Kiln's wheels are files of
-- that release), from the statement that changes the release, whoever runs
-- it; a wheel uploaded later for a yanked release is born yanked. The update
-- of artifacts fires artifacts_notify (0002): new serial, `kiln_index`.
--
-- A deleted release or project (gone upstream) leaves the index and the API,
-- which read releases.deleted_at and projects.deleted_at; changing either now
-- gives the project a new index serial and notifies `kiln_index`, so every
-- replica drops its cached pages at once (before, only artifact changes did,
-- and a deleted project stayed cached). Its wheels stay in storage for
-- KILN_DELETED_RETENTION (backend/storage_sweep.c), so an upstream mistake
-- undone soon brings them back without a rebuild.
--
-- releases.uploaded_at is when the upstream published the release (the
-- earliest upload-time of its files, PEP 700), written by kiln-sync; the API,
-- the UI and the index's upload-time show it instead of when Kiln mirrored it.

alter table releases add column uploaded_at timestamptz;

update releases r set uploaded_at = f.t
  from (select release_id, min(upload_time) as t from upstream_files
         where deleted_at is null and upload_time is not null group by release_id) f
 where f.release_id = r.id;

-- Bump the project's serial and tell every replica; the caller holds its id.
create function projects_touch(pid bigint) returns void
language plpgsql as $$
declare
    norm text;
begin
    update projects
       set index_serial = nextval('index_serial_seq'), updated_at = now()
     where id = pid
    returning normalized into norm;
    if norm is not null then
        perform pg_notify('kiln_index', norm);
    end if;
end
$$;

create function releases_changed() returns trigger
language plpgsql as $$
begin
    if (new.yanked, new.yanked_reason) is distinct from (old.yanked, old.yanked_reason) then
        update artifacts
           set yanked = new.yanked,
               yanked_reason = case when new.yanked then new.yanked_reason end
         where release_id = new.id
           and (yanked, yanked_reason) is distinct from
               (new.yanked, case when new.yanked then new.yanked_reason end);
    end if;
    -- Only a release with wheels is on an index page; the others would cost a
    -- first sync one update of the project row per release.
    if ((new.deleted_at is null) <> (old.deleted_at is null)
        or new.uploaded_at is distinct from old.uploaded_at)
       and exists (select 1 from artifacts where release_id = new.id) then
        perform projects_touch(new.project_id);
    end if;
    return null;
end
$$;

create trigger releases_notify
    after update of yanked, yanked_reason, deleted_at, uploaded_at on releases
    for each row execute function releases_changed();

-- A project's own row: set the serial in place (an update of the row being
-- updated would recurse), notify from here (delivered at commit anyway).
create function projects_deleted_changed() returns trigger
language plpgsql as $$
begin
    if (new.deleted_at is null) <> (old.deleted_at is null) then
        new.index_serial := nextval('index_serial_seq');
        perform pg_notify('kiln_index', new.normalized);
    end if;
    return new;
end
$$;

create trigger projects_deleted_notify
    before update of deleted_at on projects
    for each row execute function projects_deleted_changed();

create function artifacts_inherit_yank() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from releases r where r.id = new.release_id and r.yanked) then
        new.yanked := true;
        new.yanked_reason := (select yanked_reason from releases where id = new.release_id);
    end if;
    return new;
end
$$;

create trigger artifacts_inherit_yank
    before insert on artifacts
    for each row execute function artifacts_inherit_yank();

-- Wheels of releases yanked before this migration.
update artifacts a set yanked = true, yanked_reason = r.yanked_reason
  from releases r
 where r.id = a.release_id and r.yanked and not a.yanked;

-- The sweep's look for wheels of releases deleted long enough ago.
create index releases_deleted on releases (deleted_at) where deleted_at is not null;
create index projects_deleted on projects (deleted_at) where deleted_at is not null;
