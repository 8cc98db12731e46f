-- Outgoing webhooks to the organisation's own systems (its case-management system): a case closed
-- with a police report, a conversation handed to a unit. What happened is read from the event log
-- by one follower at a time (webhook_cursor: the last event it turned into deliveries, moved in
-- the same transaction as the deliveries it wrote, so none is lost or written twice), and each
-- delivery waits in webhook_outbox until its receiver has taken it, retried with backoff.
create table webhook_cursor (
    id bigint primary key check (id = 1),
    seq bigint not null
);
-- Receivers hear of what happens from now on, not of the history before this version.
insert into webhook_cursor (id, seq) select 1, coalesce(max(seq), 0) from events;

create table webhook_outbox (
    id bigint generated always as identity primary key,
    receiver text not null, -- its name in integrations_file
    event text not null, -- case.closed_with_police_report | conversation.handed_over
    event_seq bigint not null, -- the event it reports
    payload text not null, -- the JSON body sent (no DM text unless the receiver may have it)
    status text not null default 'pending', -- pending | sending | sent | failed
    attempts bigint not null default 0,
    next_attempt_at bigint not null, -- the next try, or while sending the end of the lease
    last_error text,
    created_at bigint not null,
    sent_at bigint,
    updated_at bigint not null,
    unique (receiver, event_seq)
);
create index webhook_outbox_due on webhook_outbox (status, next_attempt_at);

-- A conversation handed to a unit of the organisation (Bygglov, Socialtjänsten, …).
create table handovers (
    id bigint generated always as identity primary key,
    conversation_id bigint not null references conversations (id),
    unit text not null,
    note text,
    handed_by bigint references staff (id),
    handed_at bigint not null
);
create index handovers_conversation on handovers (conversation_id);
