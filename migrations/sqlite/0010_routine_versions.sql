-- Every version of the routines the service has run with, so an open case keeps walking the
-- routine it was opened under after config/routines.toml changes (DESIGN.md §3).
create table routine_versions (
    version text primary key,
    document text not null, -- the routines as JSON
    first_loaded_at integer not null
);
