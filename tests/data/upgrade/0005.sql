-- Release 0005 (FAQ curation): a named, pinned cluster.
insert into faq_curation (cluster_id, name, pinned, dismissed, updated_by, updated_at)
values (1, 'Sophämtning', 1, 0, 'anna', 1764000800000);
