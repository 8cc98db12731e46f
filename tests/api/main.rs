//! Black-box tests of tavla over HTTP, each scenario on SQLite and on PostgreSQL.

mod helpers;
mod meta_fixtures;
