//! The queue: order, claims with a lease, reopen on a new message, replies into the outbox.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const PAGE: &str = "300000000000001";

fn dm_at(sender: &str, mid: &str, text: &str, at_ms: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "page", "entry": [{
        "id": PAGE, "time": at_ms,
        "messaging": [{"sender": {"id": sender}, "recipient": {"id": PAGE}, "timestamp": at_ms,
                       "message": {"mid": mid, "text": text}}]
    }]}))
    .unwrap()
}

async fn one_conversation(app: &TestApp) -> (String, i64) {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    // Written just now, so that the reply window (24 hours) is open.
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        app.webhook(&dm_at("u1", "m1", "Hej!", now)).await.status(),
        200
    );
    let agent = app.token("agent-a", "agent").await;
    let id = app.conversations(&agent, "").await[0]["id"]
        .as_i64()
        .unwrap();
    (agent, id)
}

on_both_backends!(oldest_unanswered_comes_first, |app: TestApp| async move {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    for (sender, mid, at) in [
        ("u-new", "m1", 3_000i64),
        ("u-old", "m2", 1_000),
        ("u-mid", "m3", 2_000),
    ] {
        assert_eq!(
            app.webhook(&dm_at(sender, mid, "Hej", 1_764_000_000_000 + at))
                .await
                .status(),
            200
        );
    }
    let agent = app.token("agent", "agent").await;
    let order: Vec<_> = app
        .conversations(&agent, "queue=dm")
        .await
        .iter()
        .map(|c| c["person"]["platform_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, ["u-old", "u-mid", "u-new"]);
    // The communicator's queue holds no DMs; an agent may not ask for comments.
    let communicator = app.token("comm", "communicator").await;
    assert!(app.conversations(&communicator, "").await.is_empty());
    assert_eq!(
        app.get(&agent, "/api/v1/conversations?queue=comments")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get(&agent, "/api/v1/conversations?sort=id;drop")
            .await
            .status(),
        400
    );
});

on_both_backends!(
    twenty_concurrent_claims_have_one_winner,
    |app: TestApp| async move {
        let (_, id) = one_conversation(&app).await;
        let mut tokens = Vec::new();
        for i in 0..20 {
            tokens.push(app.token(&format!("agent-{i}"), "agent").await);
        }
        let claims = tokens.iter().map(|t| {
            app.client
                .post(app.url(&format!("/api/v1/conversations/{id}/claim")))
                .bearer_auth(t)
                .send()
        });
        let responses = futures::future::join_all(claims).await;
        let statuses: Vec<u16> = responses
            .iter()
            .map(|r| r.as_ref().unwrap().status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            19,
            "{statuses:?}"
        );
        let winner = tokens[statuses.iter().position(|s| *s == 200).unwrap()].clone();
        let loser = tokens[statuses.iter().position(|s| *s == 409).unwrap()].clone();
        let conflict: serde_json::Value = app
            .post(
                &loser,
                &format!("/api/v1/conversations/{id}/claim"),
                json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(conflict["holder"].as_str().unwrap().starts_with("agent-"));
        assert!(conflict["detail"]
            .as_str()
            .unwrap()
            .contains("is working on this conversation"));
        // The loser cannot reply or release; the winner can.
        let r = app
            .post(
                &loser,
                &format!("/api/v1/conversations/{id}/replies"),
                json!({"text": "Hej"}),
            )
            .await;
        assert_eq!(r.status(), 409);
        assert_eq!(
            app.post(
                &loser,
                &format!("/api/v1/conversations/{id}/release"),
                json!({})
            )
            .await
            .status(),
            409
        );
        assert_eq!(
            app.post(
                &winner,
                &format!("/api/v1/conversations/{id}/release"),
                json!({})
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            app.post(
                &loser,
                &format!("/api/v1/conversations/{id}/claim"),
                json!({})
            )
            .await
            .status(),
            200
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_can_be_taken_over_sqlite() {
    expired_claim(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_can_be_taken_over_postgres() {
    expired_claim(Backend::Postgres).await;
}

async fn expired_claim(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.claim_lease_seconds = 1).await else {
        return;
    };
    let (first, id) = one_conversation(&app).await;
    let second = app.token("agent-b", "agent").await;
    assert_eq!(
        app.post(
            &first,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.post(
            &second,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({})
        )
        .await
        .status(),
        409
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let list = app.conversations(&second, "").await;
    assert!(
        list[0]["claim"].is_null(),
        "an expired claim is not shown as held"
    );
    assert_eq!(
        app.post(
            &second,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.post(
            &first,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({})
        )
        .await
        .status(),
        409
    );
}

on_both_backends!(
    reply_resolve_and_reopen_on_a_new_message,
    |app: TestApp| async move {
        let (agent, id) = one_conversation(&app).await;
        let path = format!("/api/v1/conversations/{id}");
        let r = app
            .post(
                &agent,
                &format!("{path}/replies"),
                json!({"text": "Hej! Soporna töms på fredag."}),
            )
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(
            app.count("outbox").await,
            1,
            "the reply waits in the outbox"
        );
        let detail = app.get_json(&agent, &path).await;
        assert_eq!(detail["messages"][1]["direction"], "outbound");
        assert_eq!(detail["messages"][1]["delivery"], "pending");
        assert_eq!(detail["messages"][1]["sent_by"], "agent-a");
        assert!(detail["oldest_unanswered_at"].is_null(), "answered");
        assert_eq!(detail["claim"]["username"], "agent-a", "replying claims");

        // A reply may not name its recipient (mass assignment).
        let r = app
            .post(
                &agent,
                &format!("{path}/replies"),
                json!({"text": "x", "recipient": "someone-else"}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post(&agent, &format!("{path}/replies"), json!({"text": "   "}))
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post(
                &agent,
                &format!("{path}/replies"),
                json!({"text": "a".repeat(2001)}),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("2000"));

        let r = app
            .post(
                &agent,
                &format!("{path}/status"),
                json!({"status": "resolved"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let detail = app.get_json(&agent, &path).await;
        assert_eq!(detail["status"], "resolved");
        assert!(detail["claim"].is_null(), "resolving releases the claim");
        assert!(app.conversations(&agent, "status=open").await.is_empty());

        let now = chrono::Utc::now().timestamp_millis();
        assert_eq!(
            app.webhook(&dm_at("u1", "m2", "En sak till!", now + 1000))
                .await
                .status(),
            200
        );
        let detail = app.get_json(&agent, &path).await;
        assert_eq!(detail["status"], "open", "a new inbound message reopens");
        assert!(detail["oldest_unanswered_at"].is_i64());
        assert_eq!(
            app.post(&agent, &format!("{path}/status"), json!({"status": "done"}))
                .await
                .status(),
            422
        );
    }
);

on_both_backends!(
    roles_guard_conversations_by_kind,
    |app: TestApp| async move {
        let (_, id) = one_conversation(&app).await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("aud", "auditor").await;
        let path = format!("/api/v1/conversations/{id}");
        assert_eq!(app.get(&communicator, &path).await.status(), 403);
        assert_eq!(
            app.post(&communicator, &format!("{path}/claim"), json!({}))
                .await
                .status(),
            403
        );
        assert_eq!(
            app.get(&auditor, "/api/v1/conversations").await.status(),
            403
        );
        assert_eq!(
            app.client
                .get(app.url(&path))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        let r = app
            .client
            .get(app.url(&path))
            .bearer_auth("tavla_forged")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            app.get(&communicator, "/api/v1/conversations/999999")
                .await
                .status(),
            404
        );
    }
);

// The platform's limits per kind (Meta: 2,000 characters in a DM, 8,000 in a comment), counted
// in characters: exactly at the limit is sent, one more is refused with the number.
on_both_backends!(
    replies_may_be_as_long_as_the_platform_takes_per_kind,
    |app: TestApp| async move {
        let (agent, dm) = one_conversation(&app).await;
        let r = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{dm}/replies"),
                json!({"text": "å".repeat(2000)}),
            )
            .await;
        assert_eq!(r.status(), 201, "a DM of exactly 2,000 characters");

        let admin = app.token("admin-a", "admin").await;
        let now = chrono::Utc::now().timestamp_millis();
        let body = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment",
            "id": "c1", "author": {"id": "u2"}, "text": "När töms soporna?", "time": now,
            "post_id": format!("{PAGE}_1")}]});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", body).await.status(),
            200
        );
        let communicator = app.token("communicator-a", "communicator").await;
        let thread = app.conversations(&communicator, "queue=comments").await[0]["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/conversations/{thread}/replies");
        let r = app
            .post(&communicator, &path, json!({"text": "å".repeat(8001)}))
            .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("at most 8000"));
        let r = app
            .post(&communicator, &path, json!({"text": "å".repeat(8000)}))
            .await;
        assert_eq!(r.status(), 201, "a comment of exactly 8,000 characters");
    }
);
