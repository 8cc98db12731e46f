//! Black-box tests of tavla over HTTP, each scenario on SQLite and on PostgreSQL.

mod access;
mod admin_powers;
mod console;
mod delivery;
mod events;
mod faq;
mod graph_stub;
mod helpers;
mod ingest_api;
mod leaks;
mod meta_fixtures;
mod moderation;
mod on_call;
mod privacy;
mod queue;
mod reports;
mod routines;
mod search;
mod system;
mod triage;
mod webhooks;
