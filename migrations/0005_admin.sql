-- The queue's admin side (backend/api_admin.c, kilnctl builder pause|resume).
--
-- Pausing or resuming a builder (or enabling, disabling it) notifies
-- `kiln_builders` with the builder's id, so every backend replica refreshes the
-- connections it holds for that builder at once: a paused builder stays
-- connected and finishes what it runs but gets no new job. Only these columns
-- notify: the lease ticks that touch last_seen_at every few seconds do not.
--
-- Cancelling a job notifies `kiln_cancel` ("BUILDER_ID:JOB_ID") from the cancel
-- statement itself (common/queue_sql.c), which needs nothing here.

create function builders_notify() returns trigger
language plpgsql as $$
begin
    perform pg_notify('kiln_builders', new.id::text);
    return null;
end
$$;

create trigger builders_notify after update of paused, enabled on builders
    for each row
    when (old.paused is distinct from new.paused or old.enabled is distinct from new.enabled)
    execute function builders_notify();
