-- The job queue's working parts.
--
-- Fair share: a job's fair_seq is how many live jobs its project already had when
-- it was queued. Claims order by priority, then fair_seq, then age, so the 500th
-- release of one project waits behind the first release of every other.
--
-- Wake-up: queueing a job notifies `kiln_jobs` with its target id, so every
-- backend replica tries to dispatch at once instead of polling.
--
-- Publication: a build's artifacts are uploaded before the build finishes, but
-- appear in the index only once the job succeeded (published_at set), so a build
-- whose builder vanished mid-way leaves nothing visible, and its rebuild's wheels
-- are the one set the index ever shows.

alter table jobs add column fair_seq integer not null default 0;
drop index jobs_queue;
create index jobs_queue on jobs (target_id, priority desc, fair_seq, id) where state = 'queued';

create function jobs_fair_seq() returns trigger
language plpgsql as $$
begin
    select count(*) into new.fair_seq
      from jobs j join releases r on r.id = j.release_id
     where r.project_id = (select project_id from releases where id = new.release_id)
       and j.state in ('queued', 'assigned', 'running');
    return new;
end
$$;

create trigger jobs_fair_seq before insert on jobs
    for each row execute function jobs_fair_seq();

create function jobs_notify() returns trigger
language plpgsql as $$
begin
    if new.state = 'queued' then
        perform pg_notify('kiln_jobs', new.target_id::text);
    end if;
    return null;
end
$$;

create trigger jobs_notify after insert or update of state on jobs
    for each row execute function jobs_notify();

alter table artifacts add column published_at timestamptz;
create index artifacts_unpublished on artifacts (job_id) where published_at is null;

-- Live build logs: every replica's viewers hear of new chunks.
create function build_log_notify() returns trigger
language plpgsql as $$
begin
    perform pg_notify('kiln_log', new.build_id::text || ':' || new.seq::text);
    return null;
end
$$;

create trigger build_log_notify after insert on build_log_chunks
    for each row execute function build_log_notify();
