-- kiln-sync stores the upstream listing itself, not only the pages it fetched.
--
-- A full sync first writes every project of the listing with the serial the
-- listing gave (listed_serial, one COPY and one upsert for the whole listing),
-- then fetches the pages whose stored serial (upstream_serial, written with the
-- page) is behind. The work left is thus in the database: a sync killed at any
-- point resumes with exactly the pages not yet stored. Rows the listing created
-- have no releases yet; everything that serves projects already asks for
-- releases or artifacts, so they stay invisible until their page is stored.

alter table projects add column listed_serial bigint;

-- The pages still to fetch, found without reading every project.
create index projects_sync_behind on projects (normalized)
    where listed_serial is not null and (upstream_serial is null or upstream_serial < listed_serial);
