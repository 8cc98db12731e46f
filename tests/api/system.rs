//! Health, metrics, the API description, errors in the problem format, security headers.

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::webhooks::dm_batch;

on_both_backends!(health_metrics_and_openapi, |app: TestApp| async move {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let csp = health.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");

    app.register_channel("facebook", "600000000000001", "Kommunen")
        .await;
    let body = dm_batch(&[("600000000000001", "u1", "m1", "Hej")]);
    assert_eq!(app.webhook(&body).await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("tavla_queue_depth{queue=\"dm\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tavla_ingest_commit_seconds_count"));
    assert!(metrics.contains("tavla_http_requests_total{route=\"/webhooks/meta\",status=\"200\"}"));

    let agent = app.token("agent", "agent").await;
    let doc = app.get_json(&agent, "/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/conversations/{id}/claim",
        "/webhooks/meta",
        "/api/v1/events",
        "/api/v1/reports",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }

    let me = app.get_json(&agent, "/api/v1/me").await;
    assert_eq!(me["role"], "agent");
    assert!(me["capabilities"]
        .as_array()
        .unwrap()
        .contains(&"read_dms".into()));

    let missing = app.get(&agent, "/api/v1/nothing-here").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
});
