-- Release 0030 (integrations): a conversation handed to a unit, and its delivery to the
-- case-management system, taken.
insert into handovers (conversation_id, unit, note, handed_by, handed_at)
select v.id, 'Bygglov', 'Gäller friggebod', s.id, 1764001500000
from conversations v, staff s where v.thread_key = 'dm:person-olle' and s.username = 'anna';
insert into webhook_outbox (receiver, event, event_seq, payload, status, attempts, next_attempt_at, created_at, sent_at, updated_at)
select 'arendesystem', 'conversation.handed_over', coalesce(max(seq), 0) + 1000,
       '{"event":"conversation.handed_over","handover":{"unit":"Bygglov"}}', 'sent', 1, 1764001500000, 1764001500000,
       1764001500500, 1764001500500
from events;
