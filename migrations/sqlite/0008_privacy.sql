-- Privacy and records: when a conversation was resolved (retention counts from it), how a message
-- was disposed of, legal holds, stable pseudonyms and the record of each retention run.

alter table conversations add column resolved_at integer;
update conversations set resolved_at = updated_at where status = 'resolved';

-- null while the record is whole; 'pseudonymised' once its text is masked and its author replaced.
alter table messages add column disposal text;
alter table messages add column disposed_at integer;

-- A hold keeps records (a message, a conversation or everything by one author) past any rule
-- until it is lifted: a court order, a complaint to IMY, an ongoing request for public records.
create table legal_holds (
    id integer primary key,
    scope text not null, -- message | conversation | author
    target_id integer not null,
    reason text not null,
    placed_by text not null,
    placed_at integer not null,
    lifted_by text,
    lifted_at integer
);
create index legal_holds_target on legal_holds (scope, target_id, lifted_at);

-- One pseudonym per author, so pseudonymised records of one person still read as one person.
-- No foreign key on author_id: erasure deletes the author and this link with it.
create table pseudonyms (
    author_id integer primary key,
    pseudonym_author_id integer not null references authors (id),
    created_at integer not null
);

create table retention_runs (
    id integer primary key,
    started_at integer not null,
    clock integer not null, -- the "now" the rules were applied at
    dry_run integer not null,
    actor text not null,
    erased integer not null,
    pseudonymised integer not null,
    kept integer not null,
    finished_at integer not null
);

-- Retention asks per message for its moderation cases; export and erasure look a person up.
create index moderation_cases_message on moderation_cases (message_id);
create index messages_author on messages (author_id);
create index conversations_person on conversations (person_id);
