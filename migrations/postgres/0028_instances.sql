-- Several instances on one database agree, and background work runs once.

-- FAQ clusters as stored state: which cluster each public question is in. Curation (names, pins,
-- merges, answers, saved-reply links) is keyed by cluster id, so the ids are the store's: every
-- instance and every restart shows the same id for the same questions.
create table faq_members (
    message_id bigint primary key,
    cluster_id bigint not null,
    -- The event whose handling placed the question here. Handling a later event may place it
    -- anew; an instance handling the same or an earlier event follows what is stored.
    placed_seq bigint not null,
    placed_at bigint not null
);
create index faq_members_cluster on faq_members (cluster_id);

-- Cluster ids are handed out here (a block at a time per instance), never by a counter in a
-- process. The generation changes with every consolidation, so other instances reload.
create table faq_state (
    id bigint primary key,
    next_cluster_id bigint not null,
    generation bigint not null
);
insert into faq_state (id, next_cluster_id, generation) values (1, 1, 0);

-- Clusters that consolidation merged into another: their questions (and curation) went there.
create table faq_cluster_merges (
    from_id bigint primary key,
    into_id bigint not null,
    merged_at bigint not null
);

-- Background jobs that must run once however many instances run (retention, FAQ consolidation):
-- the instance that takes the lease runs the job; a lease not renewed runs out, so a stopped
-- instance or a dropped request never keeps it.
create table job_leases (
    name text primary key,
    holder text,
    expires_at bigint not null,
    -- When a run last finished, for jobs that run once per interval.
    last_done_at bigint not null
);
