-- Release 0003 (delivery): the sent answer knows its platform id and when it was sent.
update outbox set platform_id = 'mid.reply.1', sent_at = 1764000201000, last_attempt_at = 1764000200500,
    updated_at = 1764000201000
where status = 'sent';
