-- OpenID Connect sign-in. A staff member who signs in through the organisation's identity provider
-- is found by the provider's issuer and subject (never by a name, which a local account may share),
-- and a sign-in that was started but not finished waits in oidc_logins: its state (as a digest),
-- the nonce the ID token must carry and the PKCE verifier, taken once by the callback.
alter table staff add column oidc_issuer text;
alter table staff add column oidc_subject text;
create unique index staff_oidc_subject on staff (oidc_issuer, oidc_subject);

create table oidc_logins (
    state_hash text primary key,
    nonce text not null,
    verifier text not null,
    created_at integer not null
);
create index oidc_logins_created on oidc_logins (created_at);
