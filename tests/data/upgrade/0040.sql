-- Release 0040 (FAQ placements before they carried their question's time): the post's comment
-- placed in cluster 1, and a placement whose message was erased before its event removed it.
insert into faq_members (message_id, cluster_id, placed_seq, placed_at)
select id, 1, 0, 1764002000000 from messages where platform_id = '810000000000001_9001_77';
insert into faq_members (message_id, cluster_id, placed_seq, placed_at)
values (999999, 1, 0, 1764002000000);
update faq_state set next_cluster_id = 2, generation = 1 where id = 1;
