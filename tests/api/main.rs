//! Black-box tests of tavla over HTTP, each scenario on SQLite and on PostgreSQL.

mod access;
mod console;
mod delivery;
mod events;
mod faq;
mod graph_stub;
mod helpers;
mod ingest_api;
mod meta_fixtures;
mod moderation;
mod privacy;
mod queue;
mod reports;
mod search;
mod signin;
mod system;
mod triage;
mod webhooks;
