-- Retention of the records beside the messages (config/retention.toml, [other]): reactions by
-- their time, and the look-ups that tell whether anything still refers to a person.
create index reactions_time on reactions (platform_time);
create index reactions_author on reactions (author_id);
create index posts_author on posts (author_id);
