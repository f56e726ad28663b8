-- The index's change feed: every change to a project's artifacts gives the project
-- a new index serial (Kiln's X-PyPI-Last-Serial) and notifies channel `kiln_index`
-- with the project's normalized name, so every backend replica drops its cached
-- pages for that project at once, whoever made the change.

create sequence index_serial_seq;

create function artifacts_changed() returns trigger
language plpgsql as $$
declare
    norm text;
begin
    update projects
       set index_serial = nextval('index_serial_seq'), updated_at = now()
     where id = coalesce(new.project_id, old.project_id)
    returning normalized into norm;
    if norm is not null then
        perform pg_notify('kiln_index', norm);
    end if;
    if tg_op = 'UPDATE' and new.project_id is distinct from old.project_id then
        update projects
           set index_serial = nextval('index_serial_seq'), updated_at = now()
         where id = old.project_id
        returning normalized into norm;
        perform pg_notify('kiln_index', norm);
    end if;
    return null;
end
$$;

create trigger artifacts_notify
    after insert or update or delete on artifacts
    for each row execute function artifacts_changed();
