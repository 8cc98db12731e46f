-- The on-call alert of each S4/S5 case, as a row of its own: written with the case (or with the
-- report that raises it to S4/S5), claimed by one instance before it is sent, so several
-- instances send it once; retried with backoff until the receiver accepts it, never dropped.
-- Replaces moderation_cases.alerted_at / alert_attempts, which stay only as history.
create table on_call_alerts (
    case_id integer primary key references moderation_cases (id),
    status text not null, -- pending | sending | retrying | sent
    attempts integer not null default 0,
    -- When it is due: the next try, or while sending the end of the sender's lease.
    next_attempt_at integer not null,
    last_error text,
    created_at integer not null,
    sent_at integer,
    updated_at integer not null
);
create index on_call_alerts_due on on_call_alerts (status, next_attempt_at);

-- Alerts already sent are kept as sent; open urgent cases whose alert never went out wait again.
insert into on_call_alerts (case_id, status, attempts, next_attempt_at, created_at, sent_at, updated_at)
select id, case when alerted_at is null then 'pending' else 'sent' end, alert_attempts,
       opened_at, opened_at, alerted_at, coalesce(alerted_at, opened_at)
from moderation_cases
where level in ('S4', 'S5') and (alerted_at is not null or status = 'open');
