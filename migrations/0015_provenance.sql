-- Signed provenance (issue 17, part 3): one DSSE-signed in-toto statement per
-- published wheel, written by the backend with the farm's Ed25519 key
-- (KILN_PROVENANCE_KEY) when the wheel is published, or on the first request
-- for it when the wheel was published before the farm had a key. Kept as the
-- exact bytes that were signed: a statement is never rewritten, so what a
-- client verified once verifies again tomorrow.
create table provenance (
    artifact_id     bigint primary key references artifacts on delete cascade,
    key_id          text not null check (key_id ~ '^[0-9a-f]{64}$'),  -- sha256 of the key's DER SubjectPublicKeyInfo
    statement       bytea not null,                -- the in-toto Statement v1 (JSON), as signed
    signature       bytea not null check (length(signature) = 64),  -- Ed25519 over DSSE PAE(application/vnd.in-toto+json, statement)
    created_at      timestamptz not null default now()
);
