-- The backend's log sweep (backend/build_logs.c) looks every 20 s for ended
-- builds whose log is still in build_log_chunks: compaction into storage failed
-- (storage down) or never ran (a replica died first, or the reaper ended the
-- build). Normally none are, so a partial index keeps the look cheap however
-- many builds there are.
create index builds_log_pending on builds (finished_at)
    where log_key is null and state <> 'running';
