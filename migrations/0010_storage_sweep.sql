-- Objects that may be in storage without a row (backend/storage_sweep.c).
--
-- Storage and the database cannot change in one transaction. An upload names
-- its key here before it stores the object (due an hour later: its artifact row
-- is inserted before then, dropping this one, or never, if the backend died in
-- between); a statement that drops artifact rows names their keys here, due at
-- once. Each backend replica sweeps the due rows: the object is deleted unless
-- an artifact references its key, then the row. One row per key, so an upload
-- of the same bytes (keys are content addressed) waits for a sweep holding it.
create table storage_pending (
    key             text primary key,
    not_before      timestamptz not null,
    created_at      timestamptz not null default now()
);
create index storage_pending_due on storage_pending (not_before);
