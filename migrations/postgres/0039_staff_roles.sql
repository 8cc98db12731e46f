-- A person may hold several roles (issue 19: in a small municipality one person is communicator
-- and moderator). Each role a row; `staff.role` stays, holding the first of them (in the order
-- agent, communicator, moderator, admin, auditor, integration), for readers written before.
-- Today's single role becomes the person's one row, so nobody gains or loses anything.
create table staff_roles (
    staff_id bigint not null references staff (id),
    role text not null,
    primary key (staff_id, role)
);
insert into staff_roles (staff_id, role) select id, role from staff;
