-- Release 0007 (FAQ moves): a question moved to a cluster by hand.
insert into faq_moves (message_id, cluster_id, moved_by, moved_at)
select id, 1, 'anna', 1764001000000 from messages where platform_id = 'mid.karin.1';
