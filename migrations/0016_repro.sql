-- Reproducibility, measured (issue 17, part 4).
--
-- A check is a job of kind 'check': the same release for the same target,
-- built again (by another builder where the farm has one that serves the
-- target), whose wheels are not published but compared with those of the
-- build it checks (check_of). The backend decides which builds get one
-- (KILN_REPRO: off, N%, all); an admin may ask for one.
--
-- repro_wheels: what a check's attempt uploaded, one row per wheel, compared
--   with the checked build's published wheel of the same file name when the
--   upload arrives. Identical bytes store nothing (storage_key null); a wheel
--   that differs is kept in storage for inspection, with the zip members that
--   differ (differs, from common/wheeldiff).
--
-- repro_results: one row per finished check (trigger below), what the build
--   page, the project page, the API and /metrics show. result:
--     reproducible  every published wheel of the checked build came out
--                   byte for byte the same, and nothing else did
--     differs       some wheel differs, is missing or is extra (detail says which
--                   and, per wheel, which members)
--     failed        the check's build failed (the reason is the job's)

alter table jobs add column kind text not null default 'build' check (kind in ('build', 'check'));
alter table jobs add column check_of bigint references jobs on delete cascade;
alter table jobs add constraint jobs_check_of check ((kind = 'check') = (check_of is not null));
create index jobs_check_of on jobs (check_of) where check_of is not null;

-- A check may be live beside a build of the same release x target.
drop index jobs_one_active;
create unique index jobs_one_active on jobs (release_id, target_id, kind)
    where state in ('queued', 'assigned', 'running');

create table repro_wheels (
    build_id        bigint not null references builds on delete cascade,  -- the check's attempt
    filename        text not null check (filename ~ '^[^/\\]+\.whl$'),
    sha256          text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    size            bigint not null check (size >= 0),
    storage_key     text,                          -- null: identical to the checked wheel, not stored
    -- null: identical bytes (or no checked wheel of this name to compare with);
    -- else common/wheeldiff's array: {"member": NAME, "what": "content" |
    -- "only-in-build" | "only-in-check" | "metadata" | "order" | "archive",
    -- "fields": ["date", "mode", ...]}, at most 64 entries, then {"more": N}
    differs         jsonb,
    created_at      timestamptz not null default now(),
    primary key (build_id, filename)
);
create index repro_wheels_key on repro_wheels (storage_key) where storage_key is not null;

create table repro_results (
    job_id          bigint primary key references jobs on delete cascade,  -- the check
    of_job_id       bigint not null references jobs on delete cascade,     -- the build it checked
    result          text not null check (result in ('reproducible', 'differs', 'failed')),
    -- per wheel: {"filename": F, "result": "same" | "differs" | "missing" | "extra",
    --             "sha256": CHECK'S, "expected": BUILD'S, "members": [...]}
    detail          jsonb not null default '[]',
    builder_id      bigint references builders on delete set null,         -- built the check
    original_builder_id bigint references builders on delete set null,     -- built the checked build
    decided_at      timestamptz not null default now()
);
create index repro_results_of on repro_results (of_job_id);
create index repro_results_decided on repro_results (decided_at desc);

-- The result of a check, decided when its job ends (whichever path ends it:
-- finish, reaper, cancel). Cancelled checks leave no result.
create function repro_decide() returns trigger
language plpgsql as $$
declare
    b bigint;
    d jsonb;
begin
    if new.kind <> 'check' or new.state = old.state
       or new.state not in ('succeeded', 'failed') then
        return null;
    end if;
    select id into b from builds where job_id = new.id and attempt = new.attempts;
    if new.state = 'succeeded' then
        select coalesce(jsonb_agg(jsonb_build_object(
                   'filename', coalesce(o.filename, w.filename),
                   'result', case when o.filename is null then 'extra'
                                  when w.filename is null then 'missing'
                                  when o.sha256 = w.sha256 then 'same' else 'differs' end,
                   'sha256', w.sha256, 'expected', o.sha256,
                   'members', coalesce(w.differs, '[]'::jsonb))
                   order by coalesce(o.filename, w.filename)), '[]'::jsonb)
          into d
          from (select filename, sha256 from artifacts
                 where job_id = new.check_of and published_at is not null) o
          full join (select filename, sha256, differs from repro_wheels where build_id = b) w
            on w.filename = o.filename;
    else
        d := '[]'::jsonb;
    end if;
    insert into repro_results (job_id, of_job_id, result, detail, builder_id, original_builder_id)
    select new.id, new.check_of,
           case when new.state = 'failed' then 'failed'
                when jsonb_array_length(d) > 0
                     and not exists (select 1 from jsonb_array_elements(d) e
                                      where e->>'result' <> 'same') then 'reproducible'
                else 'differs' end,
           d, (select builder_id from builds where id = b),
           (select ob.builder_id from builds ob join jobs oj on oj.id = ob.job_id
             where oj.id = new.check_of and ob.attempt = oj.attempts)
    on conflict (job_id) do update set result = excluded.result, detail = excluded.detail,
        builder_id = excluded.builder_id, decided_at = now();
    return null;
end
$$;

create trigger repro_decide after update of state on jobs
    for each row execute function repro_decide();
