//! Black-box tests of tavla over HTTP, each scenario on SQLite and on PostgreSQL.

mod access;
mod admin_powers;
mod audit_trail;
mod console;
mod delivery;
mod edit_order;
mod edit_triage;
mod events;
mod faq;
mod graph_stub;
mod hardening;
mod helpers;
mod index_healing;
mod ingest_api;
mod leaks;
mod meta_fixtures;
mod moderation;
mod overload;
mod privacy;
mod queue;
mod reports;
mod search;
mod stream_endings;
mod system;
mod triage;
mod webhooks;
