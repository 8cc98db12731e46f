//! The on-call alert for S4/S5 cases: exactly one per case however many instances run, retried
//! until the receiver accepts it, its state on the case; and staffed hours that know closing days
//! (off-hours auto-hide covers them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::delivery::eventually;
use crate::helpers::{Backend, TestApp};
use crate::moderation::{comment_at, report, PAGE};

/// A stand-in for a Teams- or Slack-style incoming webhook: counts the POSTs for each case,
/// refuses the first `fail_first` of them with 500 and answers each after `delay`.
#[derive(Clone)]
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<(i64, u16)>>>,
}

impl Receiver {
    async fn start(fail_first: usize, delay: Duration) -> Receiver {
        let posts: Arc<Mutex<Vec<(i64, u16)>>> = Arc::default();
        let seen = posts.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    let mut seen = seen.lock().unwrap();
                    let status = if seen.len() < fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    seen.push((body["case_id"].as_i64().unwrap_or(-1), status.as_u16()));
                    (status, "")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, posts }
    }

    fn posts(&self) -> Vec<(i64, u16)> {
        self.posts.lock().unwrap().clone()
    }
}

/// Reports a new comment at S4 through `app`; returns the case.
async fn s4_case(app: &TestApp, reporter: &str, id: &str) -> i64 {
    let time = json!(chrono::Utc::now().timestamp_millis() - 60_000);
    let message = comment_at(app, id, "Ni ska få se vad som händer", time).await;
    report(app, reporter, message, "S4", "Hot mot personal").await
}

async fn alert_of(app: &TestApp, token: &str, case: i64) -> Value {
    app.get_json(token, &format!("/api/v1/moderation/cases/{case}"))
        .await["on_call_alert"]
        .clone()
}

async fn one_alert_per_case_with_two_instances(backend: Backend) {
    // Slow answers, so both instances are at work at the same time.
    let receiver = Receiver::start(0, Duration::from_millis(150)).await;
    let url = receiver.url.clone();
    let Some(app) = TestApp::spawn_with(backend, |s| s.moderation_alert_url = url.into()).await
    else {
        return;
    };
    let second = app.second_instance().await;
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let moderator = app.token("moderator", "moderator").await;
    let mut cases = Vec::new();
    for i in 0..6 {
        // Reported through either instance.
        let through = if i % 2 == 0 { &app } else { &second };
        cases.push(s4_case(through, &moderator, &format!("threat-{i}")).await);
    }
    for case in &cases {
        let alert = eventually("every case's alert to be sent", || async {
            let alert = alert_of(&app, &moderator, *case).await;
            (alert["status"] == "sent").then_some(alert)
        })
        .await;
        assert_eq!(alert["attempts"], 1, "{alert}");
        assert!(alert["sent_at"].as_i64().is_some(), "{alert}");
    }
    let mut per_case: HashMap<i64, usize> = HashMap::new();
    for (case, _) in receiver.posts() {
        *per_case.entry(case).or_default() += 1;
    }
    for case in &cases {
        assert_eq!(per_case.get(case), Some(&1), "case {case}: {per_case:?}");
    }
    assert_eq!(
        receiver.posts().len(),
        cases.len(),
        "{:?}",
        receiver.posts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_case_with_two_instances_postgres() {
    one_alert_per_case_with_two_instances(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_case_with_two_instances_sqlite() {
    one_alert_per_case_with_two_instances(Backend::Sqlite).await;
}

async fn an_alert_refused_is_retried_until_accepted(backend: Backend) {
    let receiver = Receiver::start(2, Duration::ZERO).await;
    let url = receiver.url.clone();
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.moderation_alert_url = url.into();
        // Retries after about half a second, then a second: long enough to be seen waiting.
        s.delivery_retry_base_ms = 1000;
        s.delivery_retry_max_seconds = 2;
    })
    .await
    else {
        return;
    };
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let moderator = app.token("moderator", "moderator").await;
    let case = s4_case(&app, &moderator, "threat-retry").await;
    let waiting = eventually("the case to show the alert waiting for a retry", || async {
        let alert = alert_of(&app, &moderator, case).await;
        (alert["status"] == "retrying").then_some(alert)
    })
    .await;
    assert!(waiting["attempts"].as_i64().unwrap() >= 1, "{waiting}");
    assert!(waiting["next_attempt_at"].as_i64().is_some(), "{waiting}");
    assert!(
        waiting["last_error"].as_str().unwrap().contains("500"),
        "{waiting}"
    );
    let sent = eventually("the alert to be accepted", || async {
        let alert = alert_of(&app, &moderator, case).await;
        (alert["status"] == "sent").then_some(alert)
    })
    .await;
    assert_eq!(sent["attempts"], 3, "{sent}");
    assert!(sent["next_attempt_at"].is_null(), "{sent}");
    assert_eq!(
        receiver.posts(),
        vec![(case, 500), (case, 500), (case, 200)],
        "delivered once, after two refusals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_refused_is_retried_until_accepted_sqlite() {
    an_alert_refused_is_retried_until_accepted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_refused_is_retried_until_accepted_postgres() {
    an_alert_refused_is_retried_until_accepted(Backend::Postgres).await;
}

/// Yesterday, today and tomorrow in Swedish time, so a test run at midnight still falls inside.
fn around_today() -> Vec<String> {
    let now = chrono::Utc::now().naive_utc();
    let local = now + tavla::text::swedish_offset(&now);
    (-1..=1)
        .map(|d| (local.date() + chrono::Duration::days(d)).to_string())
        .collect()
}

async fn a_closing_day_is_off_hours(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        // Staffed every hour of every day, except the municipality's closing days.
        s.staffed_days = "mon-sun".into();
        s.staffed_from = "00:00".into();
        s.staffed_to = "24:00".into();
        s.staffed_closed_days = around_today();
    })
    .await
    else {
        return;
    };
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let time = json!(chrono::Utc::now().timestamp_millis() - 60_000);
    comment_at(&app, "closed-day", "Jag ska döda dig", time).await;
    let state: String =
        sqlx::query_scalar("select state from messages where platform_id = 'closed-day'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(state, "hidden", "hidden at once, as outside staffed hours");
    let hide: i64 = sqlx::query_scalar("select count(*) from outbox where action = 'hide'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(hide, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_day_is_off_hours_sqlite() {
    a_closing_day_is_off_hours(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_day_is_off_hours_postgres() {
    a_closing_day_is_off_hours(Backend::Postgres).await;
}
