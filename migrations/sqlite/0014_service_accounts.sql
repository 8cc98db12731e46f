-- Service accounts: an integration (the ingest API, an export) gets an account of its own, so
-- what it does is audited under its own name, never a person's. A service account has no
-- password (it cannot sign in) and its token is rotated by an administrator.
alter table staff add column kind text not null default 'person' check (kind in ('person', 'service'));
