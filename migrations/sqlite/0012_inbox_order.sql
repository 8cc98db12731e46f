-- The inbox's first page: conversations of a status in queue order (the oldest unanswered first,
-- then the latest activity), so a page of 50 is read off the index instead of sorting every open
-- conversation; and the queue's total counted from an index alone.
create index conversations_inbox on conversations (status, (case when oldest_unanswered_at is null then 1 else 0 end), oldest_unanswered_at, last_message_at desc, id);
create index conversations_count on conversations (status, kind, channel_id);
