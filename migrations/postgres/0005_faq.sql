-- FAQ signals: the clusters themselves are derived (rebuilt from the store at start); what
-- communicators decide about them is not, and survives re-clustering.
create table faq_curation (
    cluster_id bigint primary key,
    name text,
    pinned bigint not null default 0,
    dismissed bigint not null default 0,
    answered_url text,
    answered_at bigint,
    updated_by text not null,
    updated_at bigint not null
);
