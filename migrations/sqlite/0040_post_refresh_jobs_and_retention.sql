-- Post follow-up (issue 21): measurements of posts' figures are disposed of by their time
-- (`post_figures_days` in config/retention.toml), the largest of its tables.
create index post_insights_measured on post_insights (measured_at);

-- Refreshes of the channels' posts (asked for or scheduled), run in the background under the
-- posts-refresh lease by one instance at a time; their progress per channel, readable from any
-- instance. `channels`: JSON, one entry per channel (outcome pending until it is read).
create table post_refresh_jobs (
    id integer primary key,
    requested_by integer references staff (id),
    started_at integer not null,
    finished_at integer,
    -- running, done, failed (the store refused what was fetched), abandoned (its instance stopped)
    state text not null,
    channels text not null,
    instance text not null
);
