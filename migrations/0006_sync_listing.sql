-- kiln-sync stores the upstream listing itself, not only the pages it fetched.
--
-- A full sync first writes every project of the listing with the serial the
-- listing gave (listed_serial, one COPY and one upsert for the whole listing),
-- then fetches the pages whose stored serial (upstream_serial, written with the
-- page) is behind. The work left is thus in the database: a sync killed at any
-- point resumes with exactly the pages not yet stored. Rows the listing created
-- have no releases yet; everything that serves projects already asks for
-- releases or artifacts, so they stay invisible until their page is stored.
-- The pages behind are found by joining the listing kiln-sync holds (a
-- temporary table) with projects, so no index is added: each index costs
-- seconds when a first sync inserts 700,000 projects.

alter table projects add column listed_serial bigint;
