-- Categories of the contact centre's questions (avfall, bygglov, skola, trafik, …): a list the
-- administrators keep, and the categories staff give a conversation. `faq_cluster` is the FAQ
-- cluster the conversation's newest question was in when it was tagged, so conversations whose
-- question falls in the same cluster are suggested the categories colleagues gave before.
-- The tags go with their conversation (retention, erasure).
create table categories (
    id bigint generated always as identity primary key,
    name text not null unique,
    archived_at bigint,
    created_by bigint references staff (id),
    created_at bigint not null
);

create table conversation_categories (
    conversation_id bigint not null references conversations (id),
    category_id bigint not null references categories (id),
    faq_cluster bigint,
    tagged_by bigint references staff (id),
    tagged_at bigint not null,
    primary key (conversation_id, category_id)
);
create index conversation_categories_category on conversation_categories (category_id);
create index conversation_categories_cluster on conversation_categories (faq_cluster);
