-- Reports read a period's messages once, oldest first (ties by id), with only the columns that
-- index holds: time, id, conversation, channel, kind, direction, state and delivery. The earlier
-- report index lacked the state and the order by id, so each report sorted and read every row.
drop index messages_report;
create index messages_report_pass on messages (platform_time, id, conversation_id, channel_id, kind, direction, state, delivery);
