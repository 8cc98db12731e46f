-- A communicator's split: questions moved out of the cluster clustering put them in. Kept across
-- re-clustering, like the rest of curation.
create table faq_moves (
    message_id integer primary key references messages (id),
    cluster_id integer not null,
    moved_by text not null,
    moved_at integer not null
);
