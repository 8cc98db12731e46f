-- Staff access: sessions, sign-in limits, training records, channel scopes and the audit trail.

create table sessions (
    id bigint generated always as identity primary key,
    token_hash text not null unique,
    staff_id bigint not null references staff (id),
    csrf_token text not null,
    address text,
    created_at bigint not null,
    last_seen_at bigint not null,
    ended_at bigint
);
create index sessions_staff on sessions (staff_id);

create table signin_failures (
    id bigint generated always as identity primary key,
    username text not null,
    address text not null,
    at bigint not null
);
create index signin_failures_username on signin_failures (username, at);
create index signin_failures_address on signin_failures (address, at);

create table training_completions (
    id bigint generated always as identity primary key,
    staff_id bigint not null references staff (id),
    module text not null,
    completed_at bigint not null,
    signed_off_by bigint references staff (id),
    signed_off_by_name text not null,
    created_at bigint not null
);
create index training_completions_staff on training_completions (staff_id, module);

-- No rows for a staff member: every channel. Rows: only those channels.
create table staff_channels (
    staff_id bigint not null references staff (id),
    channel_id bigint not null references channels (id),
    primary key (staff_id, channel_id)
);

-- Append-only; each entry carries the hash of the previous one (tavla audit verify).
create table audit (
    id bigint generated always as identity primary key,
    at bigint not null,
    actor_id bigint,
    actor text not null,
    action text not null,
    target text,
    address text,
    detail text not null,
    prev_hash text not null,
    hash text not null
);
create index audit_actor on audit (actor_id, id);
create index audit_action on audit (action, id);
