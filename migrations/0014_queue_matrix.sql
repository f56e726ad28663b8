-- The target matrix's queue (issue 16): backfill, built once, priorities.
--
-- plan_backlog: projects whose releases must be planned again although their
--   upstream page did not change: a target was added or re-enabled, so every
--   release in scope has an undecided (release, target) pair. The trigger
--   below fills it; kiln-sync drains it a bounded batch at a time
--   (registry-sync/plan.h, plan_backlog_pass), newest request first, and
--   deletes each row once the project is planned. 'kiln_plan' is notified so a
--   waiting kiln-sync starts at once.
--
-- jobs.covered_by: the Kiln wheel (a filename) that made this job's own build
--   unnecessary: a queued job dropped (cancelled) because a sibling target's
--   job of the same release published a wheel this target installs (a
--   py3-none-any or abi3 wheel), or a running job whose upload of the same
--   file name was already published by a sibling; that job succeeds without a
--   second artifact. Null otherwise.

create table plan_backlog (
    project_id      bigint primary key references projects on delete cascade,
    reason          text not null,
    requested_at    timestamptz not null default now()
);
create index plan_backlog_requested on plan_backlog (requested_at desc, project_id);

create function targets_backfill() returns trigger
language plpgsql as $$
begin
    if new.enabled and (tg_op = 'INSERT' or not old.enabled) then
        insert into plan_backlog (project_id, reason)
        select id, 'target ' || new.name || case when tg_op = 'INSERT' then ' added' else ' enabled' end
          from projects where deleted_at is null
        on conflict (project_id) do update set reason = excluded.reason, requested_at = now();
        perform pg_notify('kiln_plan', new.name);
    end if;
    return null;
end
$$;

create trigger targets_backfill after insert or update of enabled on targets
    for each row execute function targets_backfill();

alter table jobs add column covered_by text;
