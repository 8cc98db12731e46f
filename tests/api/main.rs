//! Black-box tests of tavla over HTTP, each scenario on SQLite and on PostgreSQL.

mod access;
mod events;
mod helpers;
mod ingest_api;
mod meta_fixtures;
mod queue;
mod search;
mod system;
mod webhooks;
