-- Moderation: triage results per message, cases that walk a routine, evidence captured before
-- any visibility change, and the steps taken.

create table message_flags (
    message_id integer primary key references messages (id),
    severity text not null, -- S0..S5
    score real not null,
    categories text not null, -- JSON array
    findings text not null, -- JSON array of {category, rule, start, end, matched}
    flagged_at integer not null
);

create table moderation_cases (
    id integer primary key,
    message_id integer not null references messages (id),
    conversation_id integer not null references conversations (id),
    channel_id integer not null references channels (id),
    level text not null, -- S0..S5
    categories text not null, -- JSON array
    source text not null, -- triage | report
    reported_by integer references staff (id),
    reason text,
    routine_id text not null,
    routine_version text not null,
    status text not null default 'open', -- open | closed
    opened_at integer not null,
    due_at integer not null,
    closed_at integer,
    closed_by integer references staff (id),
    decision text,
    -- S4/S5: when the on-call alert went out (null: not yet), and how often it was tried.
    alerted_at integer,
    alert_attempts integer not null default 0
);
create index moderation_cases_queue on moderation_cases (status, level, opened_at);
create unique index moderation_cases_open_message on moderation_cases (message_id) where status = 'open';

create table moderation_steps (
    id integer primary key,
    case_id integer not null references moderation_cases (id),
    step text not null,
    actor_id integer references staff (id),
    actor text not null,
    at integer not null,
    detail text not null, -- JSON: reference, template, note
    unique (case_id, step)
);

-- Immutable: never updated or deleted by moderation. For S5 only metadata, never the content.
create table evidence (
    id integer primary key,
    case_id integer not null references moderation_cases (id),
    message_id integer not null references messages (id),
    captured_at integer not null,
    captured_by text not null,
    permalink text,
    author_platform_id text,
    author_name text,
    platform_time integer not null,
    content text, -- JSON of text, attachments and raw payload; null for S5
    sha256 text not null
);
