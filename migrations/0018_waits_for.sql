-- A build requirement the farm itself builds (docs/builds.md, "Build
-- requirements only the farm has"): a build that failed because pip found no
-- wheel of a build requirement, while this farm is building that project for
-- the same target, names it here; when a build of that project for that target
-- succeeds, the waiting job is queued again (backend/jobs.c, jobs_finish).
-- NULL for every other job. Written by each finish of the job.
alter table jobs add column waits_for text;  -- a project's normalized name

create index jobs_waits_for on jobs (waits_for, target_id) where waits_for is not null;
