-- Post follow-up (issue 21): the channels' own posts as the Graph API gives them, their figures
-- over time, how fetching them went per channel, and web analytics per UTM campaign. Aggregates
-- only: no insight here names a person.
alter table posts add column post_type text;
alter table posts add column permalink text;
-- When the post was last read from the Graph API (null: known from webhooks only).
alter table posts add column fetched_at integer;

-- One figure of one post at one fetch: the time series the post's view draws.
create table post_insights (
    id integer primary key,
    post_id integer not null references posts (id),
    metric text not null,
    value integer not null,
    measured_at integer not null,
    unique (post_id, metric, measured_at)
);
create index post_insights_post on post_insights (post_id, metric, measured_at);

-- How the last fetch of a channel's posts went, and when the next may be made (rate limits).
create table post_fetches (
    channel_id integer primary key references channels (id),
    attempted_at integer not null,
    succeeded_at integer,
    problem text,
    not_before integer not null default 0
);

-- Sessions and goal completions per day and UTM campaign, from a web analytics export.
create table campaign_analytics (
    id integer primary key,
    day text not null,
    campaign text not null,
    sessions integer not null,
    goal_completions integer not null,
    imported_at integer not null,
    imported_by integer references staff (id),
    unique (day, campaign)
);
