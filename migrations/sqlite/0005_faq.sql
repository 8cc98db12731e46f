-- FAQ signals: the clusters themselves are derived (rebuilt from the store at start); what
-- communicators decide about them is not, and survives re-clustering.
create table faq_curation (
    cluster_id integer primary key,
    name text,
    pinned integer not null default 0,
    dismissed integer not null default 0,
    answered_url text,
    answered_at integer,
    updated_by text not null,
    updated_at integer not null
);
