//! What an operator's monitoring sees of delivery in /metrics: attempts that failed, by cause and
//! outcome; the outbox by status; the age of the oldest row still waiting. And /metrics kept off
//! the service's address when it has a listener of its own.

use crate::delivery::{bench, settled, PAGE};
use crate::graph_stub::Answer;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends_with;

/// The value of one sample line, e.g. `tavla_outbox_rows{status="sent"}`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn failures_by_cause(backend: Backend) {
    // A Retry-After of a minute is honoured (not cut to the bench's usual two seconds).
    let Some(b) = bench(backend, |s| s.delivery_retry_max_seconds = 600).await else {
        return;
    };
    // A rate limit, then a refusal: retried once, then failed for good.
    b.stub.script([
        Answer::RateLimited(None),
        Answer::MetaError {
            status: 400,
            code: 551,
            subcode: None,
            message: "(#551) This person isn't available right now.".into(),
        },
    ]);
    let refused = b.reply_ok("Första svaret").await;
    settled(&b.app, refused, "failed").await;
    // A passing fault, then sent.
    b.stub.script([Answer::ServerError]);
    let sent = b.reply_ok("Andra svaret").await;
    settled(&b.app, sent, "sent").await;
    // One that waits: the platform asks for a minute's pause.
    b.stub.script([Answer::RateLimited(Some(60))]);
    let waiting = b.reply_ok("Tredje svaret").await;
    crate::delivery::eventually("the third reply to wait for its retry", || async {
        let row = crate::delivery::outbox(&b.app, waiting).await;
        (row.2 == 1 && row.1 == "pending").then_some(())
    })
    .await;

    let metrics = b.app.metrics().await;
    let failures = |reason: &str, outcome: &str| {
        sample(
            &metrics,
            &format!("tavla_delivery_failures_total{{action=\"reply\",reason=\"{reason}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(failures("rate_limited", "retry"), Some(2.0), "{metrics}");
    assert_eq!(failures("unreachable", "failed"), Some(1.0), "{metrics}");
    assert_eq!(failures("platform_fault", "retry"), Some(1.0), "{metrics}");
    for (status, n) in [("failed", 1.0), ("sent", 1.0), ("pending", 1.0)] {
        let series = format!("tavla_outbox_rows{{status=\"{status}\"}}");
        assert_eq!(sample(&metrics, &series), Some(n), "{series} in {metrics}");
    }
    let oldest = sample(&metrics, "tavla_outbox_oldest_pending_seconds").unwrap();
    assert!(oldest > 0.0, "{metrics}");
}

mod failures_are_counted_by_cause {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::failures_by_cause(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::failures_by_cause(super::Backend::Postgres).await;
    }
}

on_both_backends_with!(
    metrics_on_a_listener_of_their_own,
    |s: &mut tavla::settings::Settings| {
        s.metrics_listen = "127.0.0.1:0".into();
        s.metrics_token = "a-metrics-token-long-enough-4711".into();
    },
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        // On the service's address /metrics does not exist, for anyone.
        let on_service = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("a-metrics-token-long-enough-4711")
            .send()
            .await
            .unwrap();
        assert_eq!(on_service.status(), 404);
        let detail: serde_json::Value = on_service.json().await.unwrap();
        assert!(
            detail["detail"]
                .as_str()
                .unwrap()
                .contains("metrics_listen"),
            "{detail}"
        );
        // On its own address: with the token.
        let metrics_url = format!(
            "{}/metrics",
            app.metrics_address.as_ref().expect("a metrics listener")
        );
        let without = app.client.get(&metrics_url).send().await.unwrap();
        assert_eq!(without.status(), 401);
        let with = app
            .client
            .get(&metrics_url)
            .bearer_auth("a-metrics-token-long-enough-4711")
            .send()
            .await
            .unwrap();
        assert_eq!(with.status(), 200);
        let text = with.text().await.unwrap();
        assert!(
            text.contains("tavla_outbox_oldest_pending_seconds 0"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE tavla_delivery_failures_total counter"),
            "{text}"
        );
        let elsewhere = app
            .client
            .get(format!("{}/healthz", app.metrics_address.as_ref().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            elsewhere.status(),
            404,
            "the metrics listener serves /metrics alone"
        );
    }
);
