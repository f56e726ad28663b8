-- Indexes for the REST API's read side (backend/api_*.c).
--
-- Search needs none: prefix matches use projects_normalized_pattern, and the
-- substring fallback scans names only when prefix matches do not fill a page
-- (a trigram index would need pg_trgm, which needs a superuser to install).

-- GET /api/v1/builds?state=... and ?builder=..., newest first; the builder one
-- also serves `on delete set null` when a builder is removed.
create index builds_state on builds (state, id);
create index builds_builder on builds (builder_id, id);
-- Builds finished in the last 24 hours (GET /api/v1/stats).
create index builds_finished on builds (finished_at) where finished_at is not null;

-- A build's artifacts (GET /api/v1/builds/{id}); also `on delete set null`.
create index artifacts_build on artifacts (build_id);

-- Recent downloads across all artifacts (GET /api/v1/stats).
create index download_counts_day on download_counts (day);
-- A project's installers and Python versions over a period (GET .../downloads).
create index download_agents_project on download_agents (project_id, day);
