-- What a builder reports of how it built (issue 17, part 3; docs/protocol.md,
-- `finish`): the Docker image the build ran in, the command the container ran
-- with the environment that makes it reproducible, and the build-requirement
-- files the builder fetched with their hashes. The signed provenance names
-- them as reported by the builder (backend/provenance.c); NULL for builds
-- from before this migration, by an older builder, or that did not succeed.
-- (Number 0016 is another change's.)
alter table builds
    add column image_id text check (image_id ~ '^sha256:[0-9a-f]{64}$'),  -- the image the build container ran
    add column image_base text check (image_base ~ '^sha256:[0-9a-f]{64}$'), -- the target image a derived one was made from
    add column image_name text,                   -- the reference the builder ran: the target's image or kiln/derived:<hash>
    add column command jsonb check (jsonb_typeof(command) = 'array'),        -- the container's argv
    add column build_environment jsonb check (jsonb_typeof(build_environment) = 'array'),  -- ["NAME=value", ...]
    add column build_requirements jsonb check (jsonb_typeof(build_requirements) = 'array'); -- [{filename, sha256}]
