-- Foundation: channels, people, posts, conversations, messages with their history, the event log,
-- quarantine, staff with API tokens, and the outbox. Times are milliseconds since the Unix epoch.

create table staff (
    id integer primary key,
    username text not null unique,
    role text not null,
    password_hash text,
    created_at integer not null,
    disabled_at integer
);

create table api_tokens (
    id integer primary key,
    staff_id integer not null references staff (id),
    token_hash text not null unique,
    created_at integer not null,
    revoked_at integer
);

create table channels (
    id integer primary key,
    platform text not null,
    platform_id text not null,
    name text not null,
    unit text,
    purpose text,
    responsible text,
    personal_data_handling text,
    approved integer not null default 0,
    access_token_file text,
    created_at integer not null,
    unique (platform, platform_id)
);

create table authors (
    id integer primary key,
    platform text not null,
    platform_id text not null,
    name text,
    first_seen_at integer not null,
    unique (platform, platform_id)
);

create table posts (
    id integer primary key,
    channel_id integer not null references channels (id),
    platform_id text not null,
    author_id integer references authors (id),
    text text,
    platform_time integer,
    removed integer not null default 0,
    created_at integer not null,
    unique (channel_id, platform_id)
);

create table conversations (
    id integer primary key,
    channel_id integer not null references channels (id),
    kind text not null, -- dm | comments
    thread_key text not null, -- dm:<person platform id> | post:<post platform id>
    person_id integer references authors (id),
    post_id integer references posts (id),
    status text not null default 'open', -- open | waiting | resolved
    oldest_unanswered_at integer,
    last_inbound_at integer,
    last_outbound_at integer,
    last_message_at integer,
    person_read_at integer,
    message_count integer not null default 0,
    claimed_by integer references staff (id),
    claim_expires_at integer,
    created_at integer not null,
    updated_at integer not null,
    unique (channel_id, thread_key)
);
create index conversations_queue on conversations (kind, status, oldest_unanswered_at);

create table messages (
    id integer primary key,
    conversation_id integer not null references conversations (id),
    channel_id integer not null references channels (id),
    kind text not null, -- dm | comment | visitor_post | mention
    direction text not null, -- inbound | outbound
    platform_id text, -- null until an outbound reply is delivered
    author_id integer references authors (id),
    sent_by integer references staff (id),
    text text,
    attachments text not null default '[]',
    parent_platform_id text,
    extra text,
    state text not null default 'visible', -- visible | hidden | removed | deleted
    edited integer not null default 0,
    delivery text, -- outbound only: pending | sent | delivered | failed
    platform_time integer not null,
    received_at integer not null,
    raw text,
    unique (channel_id, platform_id)
);
create index messages_conversation on messages (conversation_id, platform_time);

-- Every edit, hide, unhide, removal and deletion, never overwritten (public records).
create table message_revisions (
    id integer primary key,
    message_id integer not null references messages (id),
    change text not null,
    revision text not null,
    text text,
    platform_time integer not null,
    received_at integer not null,
    raw text,
    unique (message_id, change, revision)
);

create table reactions (
    id integer primary key,
    channel_id integer not null references channels (id),
    target_platform_id text not null,
    author_id integer references authors (id),
    reaction text not null,
    removed integer not null default 0,
    platform_time integer not null,
    received_at integer not null,
    unique (channel_id, target_platform_id, author_id, reaction, removed, platform_time)
);

-- Events for channels nobody has registered or approved: kept, not queued, until released.
create table quarantine (
    id integer primary key,
    platform text not null,
    channel_platform_id text not null,
    digest text not null unique,
    item text not null,
    received_at integer not null,
    released_at integer
);
create index quarantine_channel on quarantine (platform, channel_platform_id, released_at);

-- Acknowledged deliveries we could not understand: kept verbatim.
create table unrecognised (
    id integer primary key,
    channel_id integer references channels (id),
    digest text not null unique,
    reason text not null,
    raw text not null,
    received_at integer not null
);

create table outbox (
    id integer primary key,
    message_id integer not null references messages (id),
    action text not null, -- reply | private_reply | hide | unhide | remove
    payload text not null,
    status text not null default 'pending', -- pending | sending | sent | failed
    attempts integer not null default 0,
    next_attempt_at integer not null,
    last_error text,
    created_at integer not null
);
create index outbox_due on outbox (status, next_attempt_at);

-- The append-only event log: written in the same transaction as the change it records.
create table events (
    seq integer primary key autoincrement,
    kind text not null,
    channel_id integer,
    conversation_id integer,
    message_id integer,
    payload text not null,
    created_at integer not null
);
