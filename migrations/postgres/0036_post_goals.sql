-- Post follow-up (issue 21): campaigns (a set of posts, named as their UTM campaign), goals on a
-- post or a campaign, and communicators' notes on a post's evaluation.
create table campaigns (
    id bigint generated always as identity primary key,
    name text not null unique,
    created_by bigint references staff (id),
    created_at bigint not null
);

create table campaign_posts (
    campaign_id bigint not null references campaigns (id),
    post_id bigint not null references posts (id),
    primary key (campaign_id, post_id)
);

-- A goal: a metric and a target by a date, or the communication plan's words for it.
create table post_goals (
    id bigint generated always as identity primary key,
    post_id bigint references posts (id),
    campaign_id bigint references campaigns (id),
    metric text not null,
    target bigint,
    audience text,
    plan_text text,
    due_at bigint not null,
    created_by bigint references staff (id),
    created_at bigint not null
);
create index post_goals_post on post_goals (post_id);
create index post_goals_campaign on post_goals (campaign_id);

-- What worked and what to do differently, for the monthly social-media group.
create table post_evaluation_notes (
    id bigint generated always as identity primary key,
    post_id bigint not null references posts (id),
    text text not null,
    written_by bigint references staff (id),
    written_at bigint not null
);
create index post_evaluation_notes_post on post_evaluation_notes (post_id);
create index post_evaluation_notes_written on post_evaluation_notes (written_at);
