-- Sign-in attempts are reserved before the password is checked: a 'pending' row counts against the
-- limits until it becomes a failure (or is cleared by a success). Failures for usernames that do
-- not exist are kept one by one only up to a cap per window; beyond it one 'overflow' row per window
-- counts them (attempts), so an anonymous flood stores a bounded amount.
-- kind: pending | failed (a real account) | unknown_pending | unknown (no such account) | overflow
alter table signin_failures add column kind text not null default 'failed';
alter table signin_failures add column attempts bigint not null default 1;
create index signin_failures_pair on signin_failures (username, address, at);
create index signin_failures_kind on signin_failures (kind, at);
