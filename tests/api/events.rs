//! Live updates: the event log as server-sent events, resumable, filtered by what the role may see.

use futures::StreamExt;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::webhooks::dm_batch;

const PAGE: &str = "500000000000001";

/// Reads SSE frames until `count` events have arrived; returns (id, event, data) triples.
pub async fn read_events(
    response: reqwest::Response,
    count: usize,
) -> Vec<(i64, String, serde_json::Value)> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive in time")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, None, None);
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).ok();
                }
            }
            if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                events.push((id, event, data));
            }
        }
    }
    events
}

on_both_backends!(live_updates_stream_and_resume, |app: TestApp| async move {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let agent = app.token("agent", "agent").await;
    let stream = app.get(&agent, "/api/v1/events").await;
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    assert_eq!(
        app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
            .await
            .status(),
        200
    );
    let id = app.conversations(&agent, "").await[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.post(
            &agent,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({})
        )
        .await
        .status(),
        200
    );
    let events = read_events(stream, 2).await;
    assert_eq!(events[0].1, "message.received");
    assert_eq!(events[0].2["conversation_id"], id);
    assert_eq!(events[1].1, "conversation.claimed");

    // Resuming after the first event replays the second.
    let resumed = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&agent)
        .header("last-event-id", events[0].0.to_string())
        .send()
        .await
        .unwrap();
    let replay = read_events(resumed, 1).await;
    assert_eq!(replay[0].0, events[1].0);
});

on_both_backends!(
    live_updates_carry_only_what_the_listener_may_see,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        let stream = app.get(&communicator, "/api/v1/events?after=0").await;
        // A DM (not for communicators), then a comment (for them).
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Privat fråga")]))
                .await
                .status(),
            200
        );
        let admin = app.token("admin", "admin").await;
        let comment = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment",
        "id": "c1", "author": {"id": "u2"}, "text": "Publik fråga", "time": 1, "post_id": "p1"}]});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", comment).await.status(),
            200
        );
        let events = read_events(stream, 1).await;
        assert_eq!(events[0].1, "message.received");
        let conversation: serde_json::Value = app
            .get_json(
                &communicator,
                &format!("/api/v1/conversations/{}", events[0].2["conversation_id"]),
            )
            .await;
        assert_eq!(
            conversation["kind"], "comments",
            "the DM event was not sent to a communicator"
        );
    }
);
