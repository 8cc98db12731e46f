-- Privacy and records: when a conversation was resolved (retention counts from it), how a message
-- was disposed of, legal holds, stable pseudonyms and the record of each retention run.

alter table conversations add column resolved_at bigint;
update conversations set resolved_at = updated_at where status = 'resolved';

-- null while the record is whole; 'pseudonymised' once its text is masked and its author replaced.
alter table messages add column disposal text;
alter table messages add column disposed_at bigint;

-- A hold keeps records (a message, a conversation or everything by one author) past any rule
-- until it is lifted: a court order, a complaint to IMY, an ongoing request for public records.
create table legal_holds (
    id bigint generated always as identity primary key,
    scope text not null, -- message | conversation | author
    target_id bigint not null,
    reason text not null,
    placed_by text not null,
    placed_at bigint not null,
    lifted_by text,
    lifted_at bigint
);
create index legal_holds_target on legal_holds (scope, target_id, lifted_at);

-- One pseudonym per author, so pseudonymised records of one person still read as one person.
-- No foreign key on author_id: erasure deletes the author and this link with it.
create table pseudonyms (
    author_id bigint primary key,
    pseudonym_author_id bigint not null references authors (id),
    created_at bigint not null
);

create table retention_runs (
    id bigint generated always as identity primary key,
    started_at bigint not null,
    clock bigint not null, -- the "now" the rules were applied at
    dry_run bigint not null,
    actor text not null,
    erased bigint not null,
    pseudonymised bigint not null,
    kept bigint not null,
    finished_at bigint not null
);

-- Retention asks per message for its moderation cases; export and erasure look a person up.
create index moderation_cases_message on moderation_cases (message_id);
create index messages_author on messages (author_id);
create index conversations_person on conversations (person_id);
