-- Internal notes on a conversation: staff's words for colleagues, never sent to the platform.
-- They live and go with their conversation (retention deletes them with it; an erasure that
-- pseudonymises the person's messages masks personal data in them).
create table conversation_notes (
    id bigint generated always as identity primary key,
    conversation_id bigint not null references conversations (id),
    text text not null,
    written_by bigint references staff (id),
    written_at bigint not null
);
create index conversation_notes_conversation on conversation_notes (conversation_id);
