//! Overload: when API requests or event streams fill the instance, callers get 503 or 429 with
//! Retry-After (never a 500), the webhook keeps its own fast path, and the API answers again
//! once the flood is over. The limits come from settings; the tests set small ones.

use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::events::read_events;
use crate::helpers::TestApp;
use crate::webhooks::dm_batch;
use crate::{on_both_backends, on_both_backends_with};

const PAGE: &str = "510000000000001";
const DEADLINE: Duration = Duration::from_secs(20);

/// A request whose body never comes: it holds its place in the API until the request timeout,
/// or until the connection is dropped. Anyone can send these (no sign-in needed).
async fn slow_request(app: &TestApp) -> TcpStream {
    let host = app.address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /api/v1/csp-reports HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/csp-report\r\ncontent-length: 4096\r\n\r\n{{"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// Asks `GET /api/v1/me` until the answer has `status`, or panics after the deadline.
async fn until_me_answers(app: &TestApp, token: &str, status: u16, why: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if app.get(token, "/api/v1/me").await.status().as_u16() == status {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A refusal for overload: 503 or 429, Retry-After, problem JSON that says to try again.
async fn assert_try_again(response: reqwest::Response, status: u16) {
    assert_eq!(response.status().as_u16(), status);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("try again"),
        "{body}"
    );
}

on_both_backends_with!(
    a_flood_is_refused_and_the_webhook_still_lands,
    |s: &mut tavla::settings::Settings| {
        s.api_max_concurrent = 4;
        s.api_queue_wait_ms = 100;
    },
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let agent = app.token("agent", "agent").await;

        // 40 slow requests from anyone take every place in the API.
        let held = join_all((0..40).map(|_| slow_request(&app))).await;
        until_me_answers(&app, &agent, 503, "the API never says it is saturated").await;

        // A flood of ordinary requests meanwhile: refused with 503 and Retry-After, never a 500.
        let flood = join_all((0..40).map(|_| app.get(&agent, "/api/v1/me"))).await;
        let mut refused = 0;
        for response in flood {
            match response.status().as_u16() {
                200 => {}
                503 => {
                    refused += 1;
                    assert_try_again(response, 503).await;
                }
                other => panic!("a flooded API answered {other}"),
            }
        }
        assert!(refused > 0, "the flood was refused");

        // Meta's delivery still lands: acknowledged and stored.
        let webhook = app
            .webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej under belastning")]))
            .await;
        assert_eq!(webhook.status(), 200);
        let stored: i64 = sqlx::query_scalar("select count(*) from messages where text = $1")
            .bind("Hej under belastning")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(stored, 1);

        // The flood ends: the API answers again.
        drop(held);
        until_me_answers(&app, &agent, 200, "the API answers after the flood").await;
    }
);

on_both_backends_with!(
    a_request_that_runs_too_long_is_stopped_but_streams_are_not,
    |s: &mut tavla::settings::Settings| s.request_timeout_seconds = 1,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let agent = app.token("agent", "agent").await;
        let stream = app.get(&agent, "/api/v1/events").await;
        assert_eq!(stream.status(), 200);

        // A request that does not finish is stopped and answered.
        let mut slow = slow_request(&app).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(DEADLINE, async {
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
                let n = slow.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        assert!(read.is_ok(), "a request that never finishes is answered");
        let head = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(head.starts_with("http/1.1 503"), "{head}");
        assert!(head.contains("retry-after:"), "{head}");

        // The event stream is not cut by the request timeout: it still carries what comes later.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let webhook = app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")])).await;
        assert_eq!(webhook.status(), 200);
        let events = read_events(stream, 1).await;
        assert_eq!(events[0].1, "message.received");
    }
);

on_both_backends_with!(
    event_streams_are_capped_per_person_and_in_all,
    |s: &mut tavla::settings::Settings| {
        s.event_streams_per_person = 2;
        s.event_streams_max = 3;
    },
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let anna = app.token("anna", "agent").await;
        let bo = app.token("bo", "agent").await;
        let first = app.get(&anna, "/api/v1/events").await;
        assert_eq!(first.status(), 200);
        let second = app.get(&anna, "/api/v1/events").await;
        assert_eq!(second.status(), 200);
        // A third tab of the same person: too many of hers.
        assert_try_again(app.get(&anna, "/api/v1/events").await, 429).await;
        // Another person still gets one, until the instance is full.
        let third = app.get(&bo, "/api/v1/events").await;
        assert_eq!(third.status(), 200);
        assert_try_again(app.get(&bo, "/api/v1/events").await, 503).await;

        // The streams that are open still carry events, and the webhook is not held up by them.
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
                .await
                .status(),
            200
        );
        let events = read_events(third, 1).await;
        assert_eq!(events[0].1, "message.received");

        // A closed tab frees its place.
        drop(first);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let again = app.get(&anna, "/api/v1/events").await;
            if again.status() == 200 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a closed stream's place is freed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(second);
    }
);

on_both_backends!(
    every_stream_gets_every_event_once_in_order,
    |app: TestApp| async move {
        // Many streams share one reader of the log; one that resumes from an older position
        // reads the log itself, page by page, and then joins the others.
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let agent = app.token("agent", "agent").await;
        let start: i64 = sqlx::query_scalar("select max(seq) from events")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let after = format!("/api/v1/events?after={start}");
        let live = join_all((0..3).map(|_| app.get(&agent, &after))).await;
        let bodies: Vec<Vec<u8>> = (0..12)
            .map(|batch| {
                let ids: Vec<_> = (0..100)
                    .map(|i| (format!("u{batch}-{i}"), format!("m{batch}-{i}")))
                    .collect();
                let items: Vec<_> = ids
                    .iter()
                    .map(|(sender, mid)| (PAGE, sender.as_str(), mid.as_str(), "Hej"))
                    .collect();
                dm_batch(&items)
            })
            .collect();
        for response in join_all(bodies.iter().map(|b| app.webhook(b))).await {
            assert_eq!(response.status(), 200);
        }
        let logged: Vec<i64> =
            sqlx::query_scalar("select seq from events where seq > $1 order by seq")
                .bind(start)
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert!(logged.len() >= 1200);
        let resumed = app.get(&agent, &after).await;
        for stream in live.into_iter().chain(std::iter::once(resumed)) {
            assert_eq!(stream.status(), 200);
            let seqs: Vec<i64> = read_events(stream, logged.len())
                .await
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            assert_eq!(seqs, logged);
        }
    }
);
