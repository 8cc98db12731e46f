-- Release 0015 (sign-in reservations): failures for an unknown name, counted.
insert into signin_failures (username, address, at, kind, attempts)
values ('okand', '10.0.0.66', 1764001400000, 'unknown', 3);
