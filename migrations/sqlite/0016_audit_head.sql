-- The audit trail's head, anchored outside the table it protects: written in the same
-- transaction as each entry, so `tavla audit verify` notices when the newest entries are deleted
-- (a hash chain alone cannot: what is left still links). One row, always.
create table audit_head (
    id integer primary key check (id = 1),
    last_id integer not null, -- the newest entry (0 before the first)
    entries integer not null, -- entries written up to and including it
    hash text not null -- its hash (the chain's genesis before the first)
);
-- Existing trails are anchored at their present last entry.
insert into audit_head (id, last_id, entries, hash)
select 1, coalesce(max(id), 0), count(*),
    coalesce((select hash from audit order by id desc limit 1),
        '0000000000000000000000000000000000000000000000000000000000000000')
from audit;
