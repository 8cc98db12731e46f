-- Release 0026: what the moderator who closed the S4 case judged it to be.
update moderation_cases set decided_categories = '["threat"]' where status = 'closed';
