-- Rows the first released schema (0001) allowed, as tavla of that time wrote them: staff with API
-- tokens, a registered channel, a DM conversation with an answer, an edit and a reply still in the
-- outbox, a comment thread under a post, a resolved conversation, a reaction, quarantine, an
-- unrecognised delivery, and the event log of it all. tests/api/upgrade.rs applies it after
-- migration 0001 (the same text on SQLite and PostgreSQL; ids come from look-ups, not constants).

insert into staff (username, role, password_hash, created_at) values ('anna', 'agent', null, 1764000000000);
insert into staff (username, role, password_hash, created_at) values ('mona', 'moderator', null, 1764000000000);
-- Tokens upgrade-token-anna and upgrade-token-mona (SHA-256).
insert into api_tokens (staff_id, token_hash, created_at)
select id, '8898b935375d88e9733bbf56aa61b74c83128f1b61cc5cac09252335a454ba31', 1764000000000 from staff where username = 'anna';
insert into api_tokens (staff_id, token_hash, created_at)
select id, '08b1551c6c111f013b6f99754b5d819fc47296a55bb718c5fbddb20333c20acb', 1764000000000 from staff where username = 'mona';

insert into channels (platform, platform_id, name, unit, purpose, responsible, personal_data_handling, approved, created_at)
values ('facebook', '810000000000001', 'Vallby kommun', 'Kommunikation', 'Information till invånarna',
        'Kommunikationschefen', 'Enligt kommunens GDPR-rutin', 1, 1764000000000);

insert into authors (platform, platform_id, name, first_seen_at) values ('facebook', 'person-karin', 'Karin Andersson', 1764000100000);
insert into authors (platform, platform_id, name, first_seen_at) values ('facebook', 'person-olle', 'Olle Berg', 1764000150000);

insert into posts (channel_id, platform_id, author_id, text, platform_time, removed, created_at)
select id, '810000000000001_9001', null, 'Nu bygger vi om cykelbanan på Storgatan.', 1764000050000, 0, 1764000050000
from channels where platform_id = '810000000000001';

-- Karin's DM conversation: a question, our answer, her edited follow-up, our reply not yet sent.
insert into conversations (channel_id, kind, thread_key, person_id, status, oldest_unanswered_at, last_inbound_at,
    last_outbound_at, last_message_at, message_count, created_at, updated_at)
select c.id, 'dm', 'dm:person-karin', a.id, 'open', 1764000300000, 1764000300000, 1764000400000, 1764000400000, 4,
       1764000100000, 1764000400000
from channels c, authors a where c.platform_id = '810000000000001' and a.platform_id = 'person-karin';
-- Comments under the post.
insert into conversations (channel_id, kind, thread_key, post_id, status, oldest_unanswered_at, last_inbound_at,
    last_message_at, message_count, created_at, updated_at)
select c.id, 'comments', 'post:810000000000001_9001', p.id, 'open', 1764000500000, 1764000500000, 1764000500000, 1,
       1764000500000, 1764000500000
from channels c, posts p where c.platform_id = '810000000000001' and p.platform_id = '810000000000001_9001';
-- Olle's DM conversation, answered and resolved.
insert into conversations (channel_id, kind, thread_key, person_id, status, last_inbound_at, last_message_at,
    message_count, created_at, updated_at)
select c.id, 'dm', 'dm:person-olle', a.id, 'resolved', 1764000150000, 1764000150000, 1, 1764000150000, 1764000160000
from channels c, authors a where c.platform_id = '810000000000001' and a.platform_id = 'person-olle';

insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, platform_time, received_at, raw)
select v.id, v.channel_id, 'dm', 'inbound', 'mid.karin.1', a.id, 'Hej! När töms soporna i Vallby?', 1764000100000, 1764000100500, '{}'
from conversations v, authors a where v.thread_key = 'dm:person-karin' and a.platform_id = 'person-karin';
insert into messages (conversation_id, channel_id, kind, direction, platform_id, sent_by, text, delivery, platform_time, received_at)
select v.id, v.channel_id, 'dm', 'outbound', 'mid.reply.1', s.id, 'Hej Karin! Soporna töms på fredagar.', 'sent', 1764000200000, 1764000200000
from conversations v, staff s where v.thread_key = 'dm:person-karin' and s.username = 'anna';
insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, edited, platform_time, received_at, raw)
select v.id, v.channel_id, 'dm', 'inbound', 'mid.karin.2', a.id, 'Tack! Gäller det hela Vallbyvägen?', 1, 1764000300000, 1764000300500, '{}'
from conversations v, authors a where v.thread_key = 'dm:person-karin' and a.platform_id = 'person-karin';
insert into messages (conversation_id, channel_id, kind, direction, sent_by, text, delivery, platform_time, received_at)
select v.id, v.channel_id, 'dm', 'outbound', s.id, 'Ja, hela Vallbyvägen.', 'pending', 1764000400000, 1764000400000
from conversations v, staff s where v.thread_key = 'dm:person-karin' and s.username = 'anna';
insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, parent_platform_id, platform_time, received_at, raw)
select v.id, v.channel_id, 'comment', 'inbound', '810000000000001_9001_77', a.id, 'Ni borde skämmas. Jag vet var handläggaren bor.',
       '810000000000001_9001', 1764000500000, 1764000500500, '{}'
from conversations v, authors a where v.thread_key = 'post:810000000000001_9001' and a.platform_id = 'person-olle';
insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, platform_time, received_at, raw)
select v.id, v.channel_id, 'dm', 'inbound', 'mid.olle.1', a.id, 'Tack för hjälpen med bygglovet för friggeboden.', 1764000150000, 1764000150500, '{}'
from conversations v, authors a where v.thread_key = 'dm:person-olle' and a.platform_id = 'person-olle';

-- Karin's edit, kept beside the words she first wrote.
insert into message_revisions (message_id, change, revision, text, platform_time, received_at)
select id, 'created', '', 'Tack! Gäller det Vallbyvägen?', 1764000300000, 1764000300500 from messages where platform_id = 'mid.karin.2';
insert into message_revisions (message_id, change, revision, text, platform_time, received_at, raw)
select id, 'edit', '1764000310', 'Tack! Gäller det hela Vallbyvägen?', 1764000310000, 1764000310500, '{}' from messages where platform_id = 'mid.karin.2';

insert into reactions (channel_id, target_platform_id, author_id, reaction, removed, platform_time, received_at)
select c.id, '810000000000001_9001', a.id, 'like', 0, 1764000060000, 1764000060500
from channels c, authors a where c.platform_id = '810000000000001' and a.platform_id = 'person-karin';

insert into quarantine (platform, channel_platform_id, digest, item, received_at)
values ('facebook', '819999999999999', 'upgrade-quarantine-1', '{}', 1764000070000);
insert into unrecognised (channel_id, digest, reason, raw, received_at)
select id, 'upgrade-unrecognised-1', 'an item kind tavla does not know', '{"field": "unknown_feature"}', 1764000080000
from channels where platform_id = '810000000000001';

-- The answer that was sent, and the one still waiting for delivery.
insert into outbox (message_id, action, payload, status, attempts, next_attempt_at, created_at)
select id, 'reply', '{"conversation_kind":"dm","recipient":"person-karin","comment_id":null,"text":"Hej Karin! Soporna töms på fredagar.","tag":null}',
       'sent', 1, 1764000200000, 1764000200000
from messages where platform_id = 'mid.reply.1';
insert into outbox (message_id, action, payload, status, attempts, next_attempt_at, created_at)
select id, 'reply', '{"conversation_kind":"dm","recipient":"person-karin","comment_id":null,"text":"Ja, hela Vallbyvägen.","tag":null}',
       'pending', 0, 1764000400000, 1764000400000
from messages where text = 'Ja, hela Vallbyvägen.';

insert into events (kind, channel_id, conversation_id, message_id, payload, created_at)
select 'message.received', channel_id, conversation_id, id, '{"kind":"dm","state":"visible","change":null}', received_at
from messages where direction = 'inbound' and kind = 'dm';
insert into events (kind, channel_id, conversation_id, message_id, payload, created_at)
select 'message.received', channel_id, conversation_id, id, '{"kind":"comment","state":"visible","change":null}', received_at
from messages where kind = 'comment';
insert into events (kind, channel_id, conversation_id, message_id, payload, created_at)
select 'conversation.replied', channel_id, conversation_id, id, '{}', received_at
from messages where direction = 'outbound';
