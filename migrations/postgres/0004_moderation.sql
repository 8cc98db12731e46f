-- Moderation: triage results per message, cases that walk a routine, evidence captured before
-- any visibility change, and the steps taken.

create table message_flags (
    message_id bigint primary key references messages (id),
    severity text not null, -- S0..S5
    score double precision not null,
    categories text not null, -- JSON array
    findings text not null, -- JSON array of {category, rule, start, end, matched}
    flagged_at bigint not null
);

create table moderation_cases (
    id bigint generated always as identity primary key,
    message_id bigint not null references messages (id),
    conversation_id bigint not null references conversations (id),
    channel_id bigint not null references channels (id),
    level text not null, -- S0..S5
    categories text not null, -- JSON array
    source text not null, -- triage | report
    reported_by bigint references staff (id),
    reason text,
    routine_id text not null,
    routine_version text not null,
    status text not null default 'open', -- open | closed
    opened_at bigint not null,
    due_at bigint not null,
    closed_at bigint,
    closed_by bigint references staff (id),
    decision text,
    -- S4/S5: when the on-call alert went out (null: not yet), and how often it was tried.
    alerted_at bigint,
    alert_attempts bigint not null default 0
);
create index moderation_cases_queue on moderation_cases (status, level, opened_at);
create unique index moderation_cases_open_message on moderation_cases (message_id) where status = 'open';

create table moderation_steps (
    id bigint generated always as identity primary key,
    case_id bigint not null references moderation_cases (id),
    step text not null,
    actor_id bigint references staff (id),
    actor text not null,
    at bigint not null,
    detail text not null, -- JSON: reference, template, note
    unique (case_id, step)
);

-- Immutable: never updated or deleted by moderation. For S5 only metadata, never the content.
create table evidence (
    id bigint generated always as identity primary key,
    case_id bigint not null references moderation_cases (id),
    message_id bigint not null references messages (id),
    captured_at bigint not null,
    captured_by text not null,
    permalink text,
    author_platform_id text,
    author_name text,
    platform_time bigint not null,
    content text, -- JSON of text, attachments and raw payload; null for S5
    sha256 text not null
);
