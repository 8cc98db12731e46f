-- Release 0014 (service accounts): an integration with its own account and token
-- (upgrade-token-ida, SHA-256).
insert into staff (username, role, password_hash, created_at, kind)
values ('service:arendesystem', 'integration', null, 1764001300000, 'service');
insert into api_tokens (staff_id, token_hash, created_at)
select id, '298aee0201593b4a6fcc234c530d41dc174d46ecdea86bf90d8ba72a62c34e89', 1764001300000
from staff where username = 'service:arendesystem';
