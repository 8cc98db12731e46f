//! The webhook's gate: handshake, signatures, body limits, batches, idempotency and quarantine.

use serde_json::{json, Value};

use crate::helpers::{TestApp, SECRET, VERIFY_TOKEN};
use crate::on_both_backends;

const PAGE: &str = "200000000000001";
const OTHER_PAGE: &str = "200000000000002";

/// A Messenger delivery with one text message per (page, sender, mid).
pub fn dm_batch(messages: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let entries: Vec<_> = messages
        .iter()
        .map(|(page, sender, mid, text)| {
            json!({
                "id": page, "time": 1_764_000_000_000i64,
                "messaging": [{
                    "sender": {"id": sender}, "recipient": {"id": page},
                    "timestamp": 1_764_000_000_000i64,
                    "message": {"mid": mid, "text": text}
                }]
            })
        })
        .collect();
    serde_json::to_vec(&json!({"object": "page", "entry": entries})).unwrap()
}

async fn nothing_stored(app: &TestApp) {
    assert_eq!(app.count("messages").await, 0);
    assert_eq!(app.count("quarantine").await, 0);
    assert_eq!(
        app.count("events").await,
        app.count("channels").await,
        "only channel registrations logged"
    );
}

on_both_backends!(
    handshake_echoes_the_challenge_only_for_the_right_token,
    |app: TestApp| async move {
        let ok = app
        .client
        .get(app.url(&format!(
            "/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert_eq!(ok.text().await.unwrap(), "1158201444");

        let wrong = app
            .client
            .get(
                app.url("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403);
        assert!(wrong.text().await.unwrap().contains("verify token"));
    }
);

on_both_backends!(
    bad_signatures_are_refused_and_nothing_is_stored,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let body = dm_batch(&[(PAGE, "u1", "m1", "Hej")]);
        let good = tavla::ingest::signature::sign(SECRET.as_bytes(), &body);
        let wrong_secret = tavla::ingest::signature::sign(b"not-the-secret", &body);
        let sha1_only = format!("sha1={}", &good[7..47]);
        let truncated = good[..good.len() - 8].to_string();
        let uppercase_prefix = good.replace("sha256=", "SHA256=");
        for signature in [
            None,
            Some(wrong_secret.as_str()),
            Some(sha1_only.as_str()),
            Some(truncated.as_str()),
            Some(uppercase_prefix.as_str()),
            Some(""),
        ] {
            let response = app.webhook_with_signature(&body, signature).await;
            assert_eq!(response.status(), 401, "signature {signature:?}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        // The body re-serialised (same JSON, other bytes) does not match the signature of the original.
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let reserialised = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(
            app.webhook_with_signature(&reserialised, Some(&good))
                .await
                .status(),
            401
        );
        nothing_stored(&app).await;

        assert_eq!(
            app.webhook_with_signature(&body, Some(&good))
                .await
                .status(),
            200
        );
        assert_eq!(app.count("messages").await, 1);
    }
);

on_both_backends!(
    malformed_and_oversized_bodies_store_nothing,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let malformed = br#"{"object":"page","entry":[{"id":"1""#;
        let r = app.webhook(malformed).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("not valid JSON"));

        let not_a_webhook = br#"{"hello":"world"}"#;
        assert_eq!(app.webhook(not_a_webhook).await.status(), 400);

        let huge_text = "å".repeat(200 * 1024);
        let oversized = dm_batch(&[(PAGE, "u1", "m-big", &huge_text)]);
        assert!(oversized.len() > app.settings.max_body_bytes);
        assert_eq!(app.webhook(&oversized).await.status(), 413);
        nothing_stored(&app).await;
    }
);

on_both_backends!(
    a_batch_for_several_pages_lands_on_each,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", OTHER_PAGE, "Biblioteket")
            .await;
        let body = dm_batch(&[
            (PAGE, "u1", "m1", "Hej kommunen"),
            (OTHER_PAGE, "u2", "m2", "Hej biblioteket"),
            (PAGE, "u3", "m3", "En fråga till"),
        ]);
        assert_eq!(app.webhook(&body).await.status(), 200);
        let agent = app.token("agent", "agent").await;
        let all = app.conversations(&agent, "queue=dm").await;
        assert_eq!(all.len(), 3);
        let channels: Vec<_> = all
            .iter()
            .map(|c| c["channel_name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(channels.iter().filter(|c| *c == "Biblioteket").count(), 1);
        // Twice delivered, stored once.
        assert_eq!(app.webhook(&body).await.status(), 200);
        assert_eq!(app.count("messages").await, 3);
    }
);

on_both_backends!(
    unregistered_channels_are_quarantined_then_released,
    |app: TestApp| async move {
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let body = dm_batch(&[
            (PAGE, "u1", "m1", "Hej, finns ni här?"),
            (PAGE, "u2", "m2", "Hallå"),
        ]);
        assert_eq!(
            app.webhook(&body).await.status(),
            200,
            "acknowledged, not dropped"
        );
        assert_eq!(app.webhook(&body).await.status(), 200);
        assert_eq!(app.count("quarantine").await, 2, "kept once each");
        assert!(app.conversations(&agent, "").await.is_empty(), "not queued");

        let q = app.get_json(&admin, "/api/v1/quarantine").await;
        assert_eq!(q["items"].as_array().unwrap().len(), 2);
        assert_eq!(q["items"][0]["channel_platform_id"], PAGE);
        assert_eq!(app.get(&agent, "/api/v1/quarantine").await.status(), 403);

        // Registered but not approved: still quarantined.
        let r = app
            .post(
                &admin,
                "/api/v1/channels",
                json!({
                    "platform": "facebook", "platform_id": PAGE, "name": "Fritidsgården",
                    "unit": "Fritid", "purpose": "Dialog med unga", "responsible": "Fritidschefen"
                }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let channel: serde_json::Value = r.json().await.unwrap();
        let id = channel["channel"]["id"].as_i64().unwrap();
        assert_eq!(channel["released_from_quarantine"], 0);
        assert!(app.conversations(&agent, "").await.is_empty());

        let approved = app
            .post(&admin, &format!("/api/v1/channels/{id}/approve"), json!({}))
            .await;
        assert_eq!(approved.status(), 200);
        let approved: serde_json::Value = approved.json().await.unwrap();
        assert_eq!(approved["released_from_quarantine"], 2);
        assert_eq!(app.conversations(&agent, "queue=dm").await.len(), 2);
        assert!(app.get_json(&admin, "/api/v1/quarantine").await["items"]
            .as_array()
            .unwrap()
            .is_empty());
    }
);

on_both_backends!(
    hostile_text_is_stored_verbatim_and_bounded,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let hostile = "<script>alert(1)</script>'; drop table messages; --";
        let body = dm_batch(&[(PAGE, "u1", "m1", hostile)]);
        assert_eq!(app.webhook(&body).await.status(), 200);
        let agent = app.token("agent", "agent").await;
        let list = app.conversations(&agent, "").await;
        let detail = app
            .get_json(&agent, &format!("/api/v1/conversations/{}", list[0]["id"]))
            .await;
        assert_eq!(detail["messages"][0]["text"], hostile);
        assert_eq!(app.count("messages").await, 1);
    }
);

/// A comment on post `post` of PAGE at `second`: from a person, or (from None) the page's own
/// reply written on Facebook.
fn feed_comment(post: &str, id: &str, from: Option<&str>, text: &str, second: i64) -> Value {
    let from = match from {
        Some(person) => json!({"id": person, "name": format!("Person {person}")}),
        None => json!({"id": PAGE, "name": "Kommunen"}),
    };
    json!({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": id,
        "post_id": format!("{PAGE}_{post}"), "parent_id": format!("{PAGE}_{post}"),
        "from": from, "message": text, "created_time": second}})
}

on_both_backends!(
    page_replies_in_a_delivery_count_in_their_place,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let t = 1_764_000_000;
        let changes = vec![
            feed_comment("1", "c1", Some("u1"), "När töms soporna?", t),
            feed_comment("1", "c2", Some("u2"), "Och på Storgatan?", t + 20),
            // The page answers at t + 10: the first comment, not the second.
            feed_comment("1", "c3", None, "På tisdag!", t + 10),
            feed_comment("1", "c4", Some("u1"), "Tack!", t + 30),
            // A thread the page starts waits on people.
            feed_comment("2", "c5", None, "Välkomna på öppet hus!", t + 40),
        ];
        let body = serde_json::to_vec(&json!({"object": "page", "entry": [
            {"id": PAGE, "time": t * 1000, "changes": changes}]}))
        .unwrap();
        assert_eq!(app.webhook(&body).await.status(), 200);

        type Row = (String, Option<i64>, Option<i64>, Option<i64>, i64);
        let thread = |post: &'static str| {
            let pool = app.store.pool.clone();
            async move {
                sqlx::query_as::<_, Row>(
                    "select status, oldest_unanswered_at, last_inbound_at, last_outbound_at, \
                     message_count from conversations where thread_key = $1",
                )
                .bind(format!("post:{PAGE}_{post}"))
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        let ms = |s: i64| Some(s * 1000);
        // As one update per message in the delivery's order: the reply stops the clock that c1
        // started (c2 came before the reply was delivered), and c4 starts it again.
        assert_eq!(
            thread("1").await,
            ("open".into(), ms(t + 30), ms(t + 30), ms(t + 10), 4)
        );
        assert_eq!(
            thread("2").await,
            ("waiting".into(), None, None, ms(t + 40), 1)
        );
        let kinds: Vec<String> =
            sqlx::query_scalar("select kind from events where kind like 'message.%' order by seq")
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(
            kinds,
            [
                "message.received",
                "message.received",
                "message.sent",
                "message.received",
                "message.sent"
            ]
        );
        let directions: Vec<String> =
            sqlx::query_scalar("select direction from messages order by id")
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(
            directions,
            ["inbound", "inbound", "outbound", "inbound", "outbound"]
        );

        // Delivered again: stored once, counted once.
        assert_eq!(app.webhook(&body).await.status(), 200);
        assert_eq!(app.count("messages").await, 5);
        assert_eq!(thread("1").await.4, 4);
    }
);
