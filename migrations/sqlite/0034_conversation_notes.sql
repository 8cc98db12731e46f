-- Internal notes on a conversation: staff's words for colleagues, never sent to the platform.
-- They live and go with their conversation (retention deletes them with it; an erasure that
-- pseudonymises the person's messages masks personal data in them).
create table conversation_notes (
    id integer primary key,
    conversation_id integer not null references conversations (id),
    text text not null,
    written_by integer references staff (id),
    written_at integer not null
);
create index conversation_notes_conversation on conversation_notes (conversation_id);
