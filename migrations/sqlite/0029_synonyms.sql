-- The organisation's search synonyms: groups of terms (a JSON array of strings as an
-- administrator wrote them) that a search for any one of them also looks for. Applied when a
-- search is made, so the index never holds them.
create table synonym_groups (
    id integer primary key,
    terms text not null,
    updated_by text not null,
    updated_at integer not null
);
