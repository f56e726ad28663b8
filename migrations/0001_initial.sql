-- Kiln's initial schema.
--
-- Applied by `kilnctl migrate` inside one transaction. Names: plural tables,
-- `id bigint generated always as identity`, timestamps in UTC (timestamptz).
-- Constraints carry the invariants that make double work impossible; the
-- programs rely on them rather than on checking first.

-- ---------------------------------------------------------------------------
-- Upstream mirror (kiln-sync writes, everyone reads)
-- ---------------------------------------------------------------------------

create table projects (
    id              bigint generated always as identity primary key,
    name            text not null,                 -- display name as upstream spells it
    normalized      text not null unique,          -- PEP 503 normalized
    upstream_serial bigint,                        -- _last-serial upstream, if any
    page_etag       text,                          -- for upstreams without serials
    index_serial    bigint not null default 0,     -- Kiln's own serial (X-PyPI-Last-Serial)
    deleted_at      timestamptz,                   -- gone upstream; kept for history
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint projects_normalized_form check (normalized ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$')
);
create index projects_normalized_pattern on projects (normalized text_pattern_ops);

create table git_sources (
    id              bigint generated always as identity primary key,
    project_id      bigint not null references projects on delete cascade,
    url             text not null,
    tag_glob        text not null default '*',
    last_checked_at timestamptz,
    last_error      text,
    created_at      timestamptz not null default now(),
    unique (project_id, url)
);

create table releases (
    id              bigint generated always as identity primary key,
    project_id      bigint not null references projects on delete cascade,
    version         text not null,                 -- as published
    version_normalized text not null,              -- PEP 440 canonical form
    yanked          boolean not null default false,
    yanked_reason   text,
    git_source_id   bigint references git_sources on delete set null,
    git_tag         text,
    git_commit      text check (git_commit ~ '^[0-9a-f]{40}$'),
    deleted_at      timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (project_id, version_normalized),
    constraint releases_git_fields check ((git_source_id is null) = (git_commit is null))
);
create index releases_project on releases (project_id);

create table upstream_files (
    id              bigint generated always as identity primary key,
    release_id      bigint not null references releases on delete cascade,
    filename        text not null,
    kind            text not null check (kind in ('sdist', 'wheel', 'other')),
    url             text not null,
    sha256          text check (sha256 ~ '^[0-9a-f]{64}$'),
    size            bigint check (size >= 0),
    requires_python text,
    yanked          boolean not null default false,
    yanked_reason   text,
    upload_time     timestamptz,
    core_metadata_sha256 text,
    deleted_at      timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (release_id, filename),
    constraint upstream_files_no_path check (filename !~ '[/\\]' and filename not in ('', '.', '..'))
);

-- Where mirroring stands, one row per upstream index, committed with each batch
-- so a killed sync resumes where it stopped.
create table sync_state (
    upstream        text primary key,              -- the upstream index URL
    listing_etag    text,
    last_serial     bigint,
    mode            text,                          -- 'full', 'incremental', 'feed'
    position        jsonb not null default '{}',   -- resumable progress of a running sync
    last_full_sync_at timestamptz,
    last_feed_at    timestamptz,
    updated_at      timestamptz not null default now()
);

-- Which projects are in scope, in order of position; first match wins.
create table scope_rules (
    id              bigint generated always as identity primary key,
    position        integer not null,
    pattern         text not null,                 -- glob over normalized names
    action          text not null check (action in ('allow', 'deny', 'always_source')),
    created_at      timestamptz not null default now(),
    unique (position)
);

-- ---------------------------------------------------------------------------
-- Build targets, builders, tokens
-- ---------------------------------------------------------------------------

create table targets (
    id              bigint generated always as identity primary key,
    name            text not null unique check (name ~ '^[a-z0-9][a-z0-9._-]*$'),
    image           text not null,                 -- Docker image reference
    python_tag      text not null check (python_tag ~ '^cp[0-9]+$'),    -- cp311
    python_version  text not null,                 -- 3.11
    platform        text not null,                 -- linux_x86_64
    enabled         boolean not null default true,
    created_at      timestamptz not null default now()
);

create table builders (
    id              bigint generated always as identity primary key,
    name            text not null unique check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    token_hash      text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    enabled         boolean not null default true,  -- false: token refused
    paused          boolean not null default false, -- true: connected but gets no jobs
    capabilities    jsonb not null default '{}',    -- what its last hello declared
    version         text,
    last_seen_at    timestamptz,
    created_at      timestamptz not null default now()
);

create table api_tokens (
    id              bigint generated always as identity primary key,
    name            text not null unique,
    role            text not null check (role in ('admin')),
    token_hash      text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    enabled         boolean not null default true,
    created_at      timestamptz not null default now()
);

-- ---------------------------------------------------------------------------
-- Planning and the job queue
-- ---------------------------------------------------------------------------

-- What the planner decided for each release x target, and why: the UI shows it.
create table release_plans (
    release_id      bigint not null references releases on delete cascade,
    target_id       bigint not null references targets on delete cascade,
    decision        text not null check (decision in ('planned', 'skipped')),
    reason          text not null,                 -- 'new release', 'no sdist', 'covered by upstream wheel', 'denied by scope'
    decided_at      timestamptz not null default now(),
    primary key (release_id, target_id)
);

create table jobs (
    id              bigint generated always as identity primary key,
    release_id      bigint not null references releases on delete cascade,
    target_id       bigint not null references targets on delete restrict,
    state           text not null default 'queued'
                    check (state in ('queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled')),
    priority        integer not null default 0,
    attempts        integer not null default 0 check (attempts >= 0),
    max_attempts    integer not null default 3 check (max_attempts > 0),
    builder_id      bigint references builders on delete set null,
    lease_token_hash text check (lease_token_hash ~ '^[0-9a-f]{64}$'),
    lease_expires_at timestamptz,
    not_before      timestamptz,                   -- backoff after a transient failure
    failure_reason  text,
    created_at      timestamptz not null default now(),
    assigned_at     timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    constraint jobs_lease_when_held check (
        (state in ('assigned', 'running')) = (lease_token_hash is not null and lease_expires_at is not null)),
    constraint jobs_finished_when_done check (
        (state in ('succeeded', 'failed', 'cancelled')) = (finished_at is not null))
);
-- At most one live job per release x target: a second enqueue cannot double the work.
create unique index jobs_one_active on jobs (release_id, target_id)
    where state in ('queued', 'assigned', 'running');
-- The claim path: next queued job for a target by priority, then age.
create index jobs_queue on jobs (target_id, priority desc, id) where state = 'queued';
-- The lease reaper: held jobs by expiry.
create index jobs_leases on jobs (lease_expires_at) where state in ('assigned', 'running');
create index jobs_release on jobs (release_id);

-- One row per attempt at a job; the log belongs to the attempt.
create table builds (
    id              bigint generated always as identity primary key,
    job_id          bigint not null references jobs on delete cascade,
    attempt         integer not null check (attempt > 0),
    builder_id      bigint references builders on delete set null,
    state           text not null default 'running'
                    check (state in ('running', 'succeeded', 'failed', 'cancelled', 'lost')),
    phase           text,                          -- fetching, building, uploading ...
    exit_code       integer,
    failure_reason  text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    duration_ms     bigint check (duration_ms >= 0),
    log_key         text,                          -- storage key of the compressed log, once complete
    log_size        bigint,
    unique (job_id, attempt)
);
create index builds_job on builds (job_id);
create index builds_started on builds (started_at desc);

-- Live log chunks, sequenced by the builder so reconnects neither lose nor repeat
-- lines; moved into storage (compressed) when the build ends.
create table build_log_chunks (
    build_id        bigint not null references builds on delete cascade,
    seq             integer not null check (seq >= 0),
    data            bytea not null,
    created_at      timestamptz not null default now(),
    primary key (build_id, seq)
);

-- ---------------------------------------------------------------------------
-- Artifacts and downloads
-- ---------------------------------------------------------------------------

create table artifacts (
    id              bigint generated always as identity primary key,
    project_id      bigint not null references projects on delete cascade,
    release_id      bigint not null references releases on delete cascade,
    job_id          bigint references jobs on delete set null,
    build_id        bigint references builds on delete set null,
    filename        text not null unique,          -- a filename names one set of bytes, forever
    sha256          text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    size            bigint not null check (size >= 0),
    python_tags     text[] not null,
    abi_tags        text[] not null,
    platform_tags   text[] not null,
    build_tag       text,
    requires_python text,
    metadata        bytea not null,                -- .dist-info/METADATA, served for PEP 658
    metadata_sha256 text not null check (metadata_sha256 ~ '^[0-9a-f]{64}$'),
    storage_key     text not null unique,
    yanked          boolean not null default false,
    yanked_reason   text,
    created_at      timestamptz not null default now(),
    constraint artifacts_wheel_name check (filename ~ '^[^/\\]+\.whl$')
);
create index artifacts_project on artifacts (project_id);
create index artifacts_release on artifacts (release_id);

create table download_counts (
    artifact_id     bigint not null references artifacts on delete cascade,
    day             date not null,
    count           bigint not null check (count >= 0),
    primary key (artifact_id, day)
);

create table download_agents (
    day             date not null,
    project_id      bigint not null references projects on delete cascade,
    installer       text not null,                 -- pip, uv, unknown ...
    installer_version text not null default '',
    python_version  text not null default '',
    count           bigint not null check (count >= 0),
    primary key (day, project_id, installer, installer_version, python_version)
);
