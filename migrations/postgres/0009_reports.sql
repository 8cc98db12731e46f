-- Reports: a covering index so a quarter's figures read index pages, not message rows with their
-- text and raw payloads; and the status changes (resolutions, waiting on the person) by time.
create index messages_report on messages (platform_time, channel_id, kind, direction, conversation_id, delivery);
create index events_status_changes on events (created_at) where kind = 'conversation.status_changed';
