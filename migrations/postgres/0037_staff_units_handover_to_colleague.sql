-- Staff belong to units (Bygglov, Skola, …; administrators set it), and a conversation is handed
-- to a unit or to a named colleague. A handover to a colleague records the colleague's unit at
-- the time (none when they have none), so the reports count it for that unit.
alter table staff add column unit text;

alter table handovers alter column unit drop not null;
alter table handovers add column to_staff bigint references staff (id);
create index handovers_to_staff on handovers (to_staff);
create index handovers_unit on handovers (unit);
