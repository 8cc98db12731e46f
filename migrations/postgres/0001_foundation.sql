-- Foundation: channels, people, posts, conversations, messages with their history, the event log,
-- quarantine, staff with API tokens, and the outbox. Times are milliseconds since the Unix epoch.

create table staff (
    id bigint generated always as identity primary key,
    username text not null unique,
    role text not null,
    password_hash text,
    created_at bigint not null,
    disabled_at bigint
);

create table api_tokens (
    id bigint generated always as identity primary key,
    staff_id bigint not null references staff (id),
    token_hash text not null unique,
    created_at bigint not null,
    revoked_at bigint
);

create table channels (
    id bigint generated always as identity primary key,
    platform text not null,
    platform_id text not null,
    name text not null,
    unit text,
    purpose text,
    responsible text,
    personal_data_handling text,
    approved bigint not null default 0,
    access_token_file text,
    created_at bigint not null,
    unique (platform, platform_id)
);

create table authors (
    id bigint generated always as identity primary key,
    platform text not null,
    platform_id text not null,
    name text,
    first_seen_at bigint not null,
    unique (platform, platform_id)
);

create table posts (
    id bigint generated always as identity primary key,
    channel_id bigint not null references channels (id),
    platform_id text not null,
    author_id bigint references authors (id),
    text text,
    platform_time bigint,
    removed bigint not null default 0,
    created_at bigint not null,
    unique (channel_id, platform_id)
);

create table conversations (
    id bigint generated always as identity primary key,
    channel_id bigint not null references channels (id),
    kind text not null, -- dm | comments
    thread_key text not null, -- dm:<person platform id> | post:<post platform id>
    person_id bigint references authors (id),
    post_id bigint references posts (id),
    status text not null default 'open', -- open | waiting | resolved
    oldest_unanswered_at bigint,
    last_inbound_at bigint,
    last_outbound_at bigint,
    last_message_at bigint,
    person_read_at bigint,
    message_count bigint not null default 0,
    claimed_by bigint references staff (id),
    claim_expires_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    unique (channel_id, thread_key)
);
create index conversations_queue on conversations (kind, status, oldest_unanswered_at);

create table messages (
    id bigint generated always as identity primary key,
    conversation_id bigint not null references conversations (id),
    channel_id bigint not null references channels (id),
    kind text not null, -- dm | comment | visitor_post | mention
    direction text not null, -- inbound | outbound
    platform_id text, -- null until an outbound reply is delivered
    author_id bigint references authors (id),
    sent_by bigint references staff (id),
    text text,
    attachments text not null default '[]',
    parent_platform_id text,
    extra text,
    state text not null default 'visible', -- visible | hidden | removed | deleted
    edited bigint not null default 0,
    delivery text, -- outbound only: pending | sent | delivered | failed
    platform_time bigint not null,
    received_at bigint not null,
    raw text,
    unique (channel_id, platform_id)
);
create index messages_conversation on messages (conversation_id, platform_time);

-- Every edit, hide, unhide, removal and deletion, never overwritten (public records).
create table message_revisions (
    id bigint generated always as identity primary key,
    message_id bigint not null references messages (id),
    change text not null,
    revision text not null,
    text text,
    platform_time bigint not null,
    received_at bigint not null,
    raw text,
    unique (message_id, change, revision)
);

create table reactions (
    id bigint generated always as identity primary key,
    channel_id bigint not null references channels (id),
    target_platform_id text not null,
    author_id bigint references authors (id),
    reaction text not null,
    removed bigint not null default 0,
    platform_time bigint not null,
    received_at bigint not null,
    unique (channel_id, target_platform_id, author_id, reaction, removed, platform_time)
);

-- Events for channels nobody has registered or approved: kept, not queued, until released.
create table quarantine (
    id bigint generated always as identity primary key,
    platform text not null,
    channel_platform_id text not null,
    digest text not null unique,
    item text not null,
    received_at bigint not null,
    released_at bigint
);
create index quarantine_channel on quarantine (platform, channel_platform_id, released_at);

-- Acknowledged deliveries we could not understand: kept verbatim.
create table unrecognised (
    id bigint generated always as identity primary key,
    channel_id bigint references channels (id),
    digest text not null unique,
    reason text not null,
    raw text not null,
    received_at bigint not null
);

create table outbox (
    id bigint generated always as identity primary key,
    message_id bigint not null references messages (id),
    action text not null, -- reply | private_reply | hide | unhide | remove
    payload text not null,
    status text not null default 'pending', -- pending | sending | sent | failed
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    last_error text,
    created_at bigint not null
);
create index outbox_due on outbox (status, next_attempt_at);

-- The append-only event log: written in the same transaction as the change it records.
create table events (
    seq bigint generated always as identity primary key,
    kind text not null,
    channel_id bigint,
    conversation_id bigint,
    message_id bigint,
    payload text not null,
    created_at bigint not null
);
