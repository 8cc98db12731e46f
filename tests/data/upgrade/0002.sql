-- Release 0002 (staff access): training (completed {now}, so it is valid whenever the test runs),
-- a channel limit, an ended session and a failed sign-in. Audit entries are written by the test,
-- which computes their hash chain (tests/api/upgrade.rs).
insert into training_completions (staff_id, module, completed_at, signed_off_by, signed_off_by_name, created_at)
select s.id, m.module, {now}, null, 'Utbildningsansvarig', {now}
from staff s, (select 'social-media-basics' as module union all select 'tone-and-plain-language'
    union all select 'gdpr' union all select 'hateful-posts-routine' union all select 'image-choice'
    union all select 'contact-centre-1' union all select 'contact-centre-2' union all select 'contact-centre-3') m
where s.username in ('anna', 'mona');
insert into staff_channels (staff_id, channel_id)
select s.id, c.id from staff s, channels c where s.username = 'mona' and c.platform_id = '810000000000001';
insert into sessions (token_hash, staff_id, csrf_token, address, created_at, last_seen_at, ended_at)
select 'upgrade-ended-session', id, 'upgrade-csrf', '10.0.0.7', 1764000000000, 1764000600000, 1764000600000
from staff where username = 'anna';
insert into signin_failures (username, address, at) values ('anna', '10.0.0.9', 1764000000500);
