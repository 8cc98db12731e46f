-- Categories of the contact centre's questions (avfall, bygglov, skola, trafik, …): a list the
-- administrators keep, and the categories staff give a conversation. `faq_cluster` is the FAQ
-- cluster the conversation's newest question was in when it was tagged, so conversations whose
-- question falls in the same cluster are suggested the categories colleagues gave before.
-- The tags go with their conversation (retention, erasure).
create table categories (
    id integer primary key,
    name text not null unique,
    archived_at integer,
    created_by integer references staff (id),
    created_at integer not null
);

create table conversation_categories (
    conversation_id integer not null references conversations (id),
    category_id integer not null references categories (id),
    faq_cluster integer,
    tagged_by integer references staff (id),
    tagged_at integer not null,
    primary key (conversation_id, category_id)
);
create index conversation_categories_category on conversation_categories (category_id);
create index conversation_categories_cluster on conversation_categories (faq_cluster);
