-- What the moderator who closed a case judged it to be (JSON array of triage's categories; an
-- empty array: nothing wrong with it; null: not said). Training learns from this first.
alter table moderation_cases add column decided_categories text;
