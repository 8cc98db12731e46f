-- Triage that learns from moderators: the version of the trained model that scored a message
-- beside its flag (null: the rules alone), so a flag can be traced to the model that helped.
alter table message_flags add column model_version text;
