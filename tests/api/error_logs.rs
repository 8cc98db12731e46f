//! Issue 22 item 6: an error in the logs says which route it came from. A real service whose
//! store breaks under it (a table renamed away, as a botched manual change or a damaged database
//! would leave it) answers 500 with an error id, and the log line with that id names the method
//! and the matched route (never the raw path). Refusals (4xx) are logged at debug, not as errors.
//!
//! The service runs on a runtime of this test's own whose threads all log into the test's
//! capture (not a global subscriber: the other tests of this binary log elsewhere).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// Log output kept in memory for the assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The one log capture of this module and the dispatcher that writes into it, made once and
/// never dropped: tracing keeps a global cache of which log sites are wanted, computed over the
/// dispatchers alive at the time, and dispatchers made and dropped by tests running at once left
/// a run with nothing captured at all.
fn capture() -> &'static (tracing::Dispatch, Captured) {
    static CAPTURE: std::sync::OnceLock<(tracing::Dispatch, Captured)> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_env_filter("tavla=debug")
                .with_ansi(false)
                .finish(),
        );
        (dispatch, captured)
    })
}

/// Runs `scenario` on a runtime whose every thread (workers and blocking ones) logs into the
/// capture it is given, one scenario at a time (they share the capture).
fn with_captured_logs<F, Fut>(scenario: F)
where
    F: FnOnce(Captured) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (dispatch, captured) = capture();
    captured.0.lock().unwrap().clear();
    let on_each_thread = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // For the thread's whole life: the guard is never dropped.
            std::mem::forget(tracing::dispatcher::set_default(&on_each_thread));
        })
        .build()
        .expect("a runtime");
    let _guard = tracing::dispatcher::set_default(dispatch);
    runtime.block_on(scenario(captured.clone()));
}

async fn a_broken_store_is_logged_with_the_route(backend: Backend, captured: Captured) {
    let Some(app) = TestApp::spawn(backend).await else {
        crate::helpers::only_postgres_may_be_missing(backend);
        return;
    };
    let agent = app.token("agent1", "agent").await;

    // A refusal first: 404 for a conversation there is not, at debug with its route.
    let missing = app.get(&agent, "/api/v1/conversations/999999").await;
    assert_eq!(missing.status(), 404);
    let log = captured.text();
    let refused = log
        .lines()
        .find(|l| l.contains("request refused") && l.contains("status=404"))
        .unwrap_or_else(|| panic!("no line for the 404 in:\n{log}"));
    assert!(
        refused.contains("DEBUG") && refused.contains("route=/api/v1/conversations/{id}"),
        "{refused}"
    );
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "a refusal is not an error:\n{log}"
    );

    // The store breaks under the service: the saved replies' table is gone.
    let pool = sqlx::AnyPool::connect(app.settings.database_url.expose())
        .await
        .expect("the test's own connection");
    sqlx::query("alter table saved_replies rename to saved_replies_gone")
        .execute(&pool)
        .await
        .expect("rename");
    let answer = app.get(&agent, "/api/v1/saved-replies").await;
    assert_eq!(answer.status(), 500);
    let body: Value = answer.json().await.expect("a problem document");
    let id = body["error_id"].as_str().expect("an error id").to_string();
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("saved_replies"),
        "no internals in the answer: {body}"
    );
    let log = captured.text();
    let lines: Vec<_> = log.lines().filter(|l| l.contains(&id)).collect();
    assert_eq!(lines.len(), 1, "the fault is logged once:\n{log}");
    let line = lines[0];
    assert!(
        line.contains("ERROR")
            && line.contains("route=/api/v1/saved-replies")
            && line.contains("method=GET")
            && line.contains("status=500")
            && line.contains("saved_replies"),
        "the line has the level, route, status and cause: {line}"
    );
    sqlx::query("alter table saved_replies_gone rename to saved_replies")
        .execute(&pool)
        .await
        .expect("rename back");
    pool.close().await;
}

mod a_broken_store_is_logged_with_the_route {
    use super::*;

    #[test]
    fn sqlite() {
        with_captured_logs(|logs| a_broken_store_is_logged_with_the_route(Backend::Sqlite, logs));
    }

    #[test]
    fn postgres() {
        with_captured_logs(|logs| a_broken_store_is_logged_with_the_route(Backend::Postgres, logs));
    }
}
