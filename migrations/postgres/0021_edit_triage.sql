-- Every text change is triaged: a flag records which revision of the message raised it (null:
-- the message as it first arrived), so a case opened or raised by an edit shows what was flagged.
alter table message_flags add column revision_id bigint references message_revisions (id);
