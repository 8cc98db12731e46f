-- FAQ figures counted in the store (issue 17): each stored placement carries when, where (the
-- channel and the post commented on) and by whom its question was asked (a message's time,
-- channel, author and conversation never change), so the figures of a period read the
-- placements of that period through `faq_members_asked_at`, and no count looks up a message.
alter table faq_members add column asked_at integer;
alter table faq_members add column channel_id integer;
alter table faq_members add column author_id integer;
alter table faq_members add column post_id integer;
-- A placement whose message was erased meanwhile keeps nulls and counts nowhere (its event
-- removes it as before; erasure now removes it with the message).
update faq_members set
    asked_at = (select m.platform_time from messages m where m.id = faq_members.message_id),
    channel_id = (select m.channel_id from messages m where m.id = faq_members.message_id),
    author_id = (select m.author_id from messages m where m.id = faq_members.message_id),
    post_id = (select c.post_id from messages m join conversations c on c.id = m.conversation_id
               where m.id = faq_members.message_id);
create index faq_members_asked_at on faq_members (asked_at);
