-- Release 0021 (edit triage): a flag raised by Karin's edit, naming the revision.
insert into message_flags (message_id, severity, score, categories, findings, flagged_at, revision_id)
select m.id, 'S0', 0.1, '[]', '[]', 1764000310500, r.id
from messages m, message_revisions r
where m.platform_id = 'mid.karin.2' and r.message_id = m.id and r.change = 'edit';
