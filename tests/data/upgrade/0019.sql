-- Release 0019: the trained model that helped flag a comment.
update message_flags set model_version = 'upgrade-model-1'
where message_id = (select id from messages where platform_id = '810000000000001_9001_77');
