-- Staff belong to units (Bygglov, Skola, …; administrators set it), and a conversation is handed
-- to a unit or to a named colleague. A handover to a colleague records the colleague's unit at
-- the time (none when they have none), so the reports count it for that unit; `unit` may so be
-- null, which SQLite only allows by building the table anew (nothing refers to it).
alter table staff add column unit text;

create table handovers_new (
    id integer primary key,
    conversation_id integer not null references conversations (id),
    unit text,
    to_staff integer references staff (id),
    note text,
    handed_by integer references staff (id),
    handed_at integer not null
);
insert into handovers_new (id, conversation_id, unit, note, handed_by, handed_at)
    select id, conversation_id, unit, note, handed_by, handed_at from handovers;
drop table handovers;
alter table handovers_new rename to handovers;
create index handovers_conversation on handovers (conversation_id);
create index handovers_to_staff on handovers (to_staff);
create index handovers_unit on handovers (unit);
