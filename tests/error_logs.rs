//! The error-log test (tests/api/error_logs.rs) in a test binary of its own. It captures the
//! service's logs through a tracing dispatcher, and tracing decides globally, per log site and
//! per process, which sites are wanted: beside the API suite's hundreds of tests (one of which
//! installs the command line's global subscriber) its capture was sometimes left empty. Alone
//! in its process, what it captures depends on nothing else.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;

#[path = "api/error_logs.rs"]
mod error_logs;
