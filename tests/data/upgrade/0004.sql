-- Release 0004 (moderation): triage's flags, an open S3 case with its evidence and a step taken, a
-- closed S4 case whose on-call alert went out, and an open S4 case whose alert never did. The
-- cases name a routine version that no store recorded (versions were recorded from 0010 on).
insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, parent_platform_id, platform_time, received_at, raw)
select v.id, v.channel_id, 'comment', 'inbound', '810000000000001_9001_78', a.id, 'Ett olagligt hot, sedan borttaget.',
       '810000000000001_9001', 1764000600000, 1764000600500, '{}'
from conversations v, authors a where v.thread_key = 'post:810000000000001_9001' and a.platform_id = 'person-olle';
insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, parent_platform_id, platform_time, received_at, raw)
select v.id, v.channel_id, 'comment', 'inbound', '810000000000001_9001_79', a.id, 'Ett hot till som ingen har sett än.',
       '810000000000001_9001', 1764000700000, 1764000700500, '{}'
from conversations v, authors a where v.thread_key = 'post:810000000000001_9001' and a.platform_id = 'person-olle';
insert into events (kind, channel_id, conversation_id, message_id, payload, created_at)
select 'message.received', channel_id, conversation_id, id, '{"kind":"comment","state":"visible","change":null}', received_at
from messages where platform_id in ('810000000000001_9001_78', '810000000000001_9001_79');
update conversations set message_count = 3, last_inbound_at = 1764000700000, last_message_at = 1764000700000
where thread_key = 'post:810000000000001_9001';

insert into message_flags (message_id, severity, score, categories, findings, flagged_at)
select id, 'S3', 0.8, '["harassment"]', '[]', received_at from messages where platform_id = '810000000000001_9001_77';
insert into message_flags (message_id, severity, score, categories, findings, flagged_at)
select id, 'S4', 0.9, '["threat"]', '[]', received_at from messages where platform_id in ('810000000000001_9001_78', '810000000000001_9001_79');

insert into moderation_cases (message_id, conversation_id, channel_id, level, categories, source, routine_id,
    routine_version, status, opened_at, due_at)
select id, conversation_id, channel_id, 'S3', '["harassment"]', 'triage', 'S3', '2025-11-01.1', 'open', 1764000500600, 1764086900600
from messages where platform_id = '810000000000001_9001_77';
insert into moderation_cases (message_id, conversation_id, channel_id, level, categories, source, routine_id,
    routine_version, status, opened_at, due_at, closed_at, closed_by, decision, alerted_at, alert_attempts)
select m.id, m.conversation_id, m.channel_id, 'S4', '["threat"]', 'triage', 'S4', '2025-11-01.1', 'closed', 1764000600600,
       1764004200600, 1764001000000, s.id, 'removed', 1764000601000, 1
from messages m, staff s where m.platform_id = '810000000000001_9001_78' and s.username = 'mona';
insert into moderation_cases (message_id, conversation_id, channel_id, level, categories, source, routine_id,
    routine_version, status, opened_at, due_at, alert_attempts)
select id, conversation_id, channel_id, 'S4', '["threat"]', 'triage', 'S4', '2025-11-01.1', 'open', 1764000700600, 1764004300600, 3
from messages where platform_id = '810000000000001_9001_79';

insert into moderation_steps (case_id, step, actor_id, actor, at, detail)
select k.id, 'capture_evidence', s.id, 'mona', 1764000550000, '{}'
from moderation_cases k, messages m, staff s
where k.message_id = m.id and m.platform_id = '810000000000001_9001_77' and s.username = 'mona';
insert into evidence (case_id, message_id, captured_at, captured_by, permalink, author_platform_id, author_name,
    platform_time, content, sha256)
select k.id, m.id, 1764000550000, 'mona', 'https://www.facebook.com/810000000000001_9001_77', 'person-olle', 'Olle Berg',
       m.platform_time, '{"text":"Ni borde skämmas. Jag vet var handläggaren bor.","attachments":[],"raw":{}}',
       '4f1b8e2ad9c2b7a3f0e5d6c1b2a39485766554433221100ffeeddccbbaa99887'
from moderation_cases k, messages m where k.message_id = m.id and m.platform_id = '810000000000001_9001_77';
