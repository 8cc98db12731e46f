-- Saved replies: a library per channel (null: every channel) and language, kept by communicators
-- and used by agents; a FAQ cluster answered by one suggests it.
create table saved_replies (
    id bigint generated always as identity primary key,
    channel_id bigint references channels (id),
    language text not null,
    title text not null,
    body text not null,
    archived bigint not null default 0,
    updated_by text not null,
    updated_at bigint not null
);

-- A communicator's merge of one FAQ cluster into another, kept across re-clustering.
alter table faq_curation add column merged_into bigint;
