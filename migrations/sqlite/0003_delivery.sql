-- Delivery: what the outbox needs to send each row exactly once as far as the platform allows.
-- A row being sent has status 'sending' and next_attempt_at = the end of its lease: a worker that
-- dies mid-send leaves it due again, and the next claim marks it in doubt (it may have arrived).
alter table outbox add column platform_id text; -- the platform's id of what we created
alter table outbox add column in_doubt integer not null default 0; -- an attempt may have reached the platform
alter table outbox add column last_attempt_at integer;
alter table outbox add column sent_at integer;
alter table outbox add column updated_at integer;
create index outbox_message on outbox (message_id);
