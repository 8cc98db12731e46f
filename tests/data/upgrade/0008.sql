-- Release 0008 (privacy): a legal hold on Karin's conversation and a dry retention run. (The
-- migration itself sets resolved_at of Olle's resolved conversation.)
insert into legal_holds (scope, target_id, reason, placed_by, placed_at)
select 'conversation', id, 'Begäran om allmän handling, dnr 2025/123', 'mona', 1764001100000
from conversations where thread_key = 'dm:person-karin';
insert into retention_runs (started_at, clock, dry_run, actor, erased, pseudonymised, kept, finished_at)
values (1764001200000, 1764001200000, 1, 'cli:root', 0, 0, 1, 1764001200500);
