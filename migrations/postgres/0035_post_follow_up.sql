-- Post follow-up (issue 21): the channels' own posts as the Graph API gives them, their figures
-- over time, how fetching them went per channel, and web analytics per UTM campaign. Aggregates
-- only: no insight here names a person.
alter table posts add column post_type text;
alter table posts add column permalink text;
-- When the post was last read from the Graph API (null: known from webhooks only).
alter table posts add column fetched_at bigint;

-- One figure of one post at one fetch: the time series the post's view draws.
create table post_insights (
    id bigint generated always as identity primary key,
    post_id bigint not null references posts (id),
    metric text not null,
    value bigint not null,
    measured_at bigint not null,
    unique (post_id, metric, measured_at)
);
create index post_insights_post on post_insights (post_id, metric, measured_at);

-- How the last fetch of a channel's posts went, and when the next may be made (rate limits).
create table post_fetches (
    channel_id bigint primary key references channels (id),
    attempted_at bigint not null,
    succeeded_at bigint,
    problem text,
    not_before bigint not null default 0
);

-- Sessions and goal completions per day and UTM campaign, from a web analytics export.
create table campaign_analytics (
    id bigint generated always as identity primary key,
    day text not null,
    campaign text not null,
    sessions bigint not null,
    goal_completions bigint not null,
    imported_at bigint not null,
    imported_by bigint references staff (id),
    unique (day, campaign)
);
