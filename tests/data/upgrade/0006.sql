-- Release 0006 (saved replies; merged clusters).
insert into saved_replies (channel_id, language, title, body, archived, updated_by, updated_at)
values (null, 'sv', 'Sophämtning', 'Soporna töms på fredagar i hela Vallby.', 0, 'anna', 1764000900000);
insert into faq_curation (cluster_id, name, pinned, dismissed, updated_by, updated_at, merged_into)
values (2, 'Tömning', 0, 0, 'anna', 1764000900000, 1);
