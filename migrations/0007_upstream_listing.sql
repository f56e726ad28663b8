-- The upstream listing gets a table of its own, and stops making project rows.
--
-- 0006 wrote every listed project into `projects` (listed_serial), so a first
-- sync of a big upstream inserted 700,000 rows there before fetching any page:
-- each row a heap insert and three index inserts, all WAL-logged, about 6 s of
-- the ingest, for rows nothing reads (a project without releases is invisible
-- everywhere). The listing now lives here, replaced whole by each full sync
-- (TRUNCATE and COPY FREEZE in one transaction); a project row is made when its
-- page is stored, as it always was for the page's own fields.
--
-- The pages behind are still found in the database (this table joined with
-- projects.upstream_serial), so a sync killed at any point resumes with exactly
-- the pages not yet stored. No index: every use reads the whole listing (a hash
-- join with projects), and an index would cost each ingest about half a second.
-- kiln-sync enters each normalized name once (its advisory lock keeps it to one
-- writer).

create table upstream_listing (
    normalized text not null,   -- PEP 503 normalized, unique (kiln-sync drops second spellings)
    name       text not null,   -- as the upstream spells it
    serial     bigint           -- _last-serial, if the upstream gives one
);

-- Rows 0006 made from a listing alone stay as they were: invisible, and their
-- page is fetched like any other listed project's. The column goes.
alter table projects drop column listed_serial;
