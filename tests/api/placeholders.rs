//! Saved replies with placeholders: `{förnamn}`, `{namn}` and `{kanal}` filled from the
//! conversation in a preview, a neutral word when the platform gave no name, an unknown
//! placeholder refused when the reply is saved, and no placeholder ever sent.

use serde_json::{json, Value};

use crate::helpers::{conversation_of, TestApp};
use crate::on_both_backends;

const PAGE: &str = "350000000000001";
const OTHER_PAGE: &str = "350000000000002";

fn dm(id: &str, author: Value, text: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({"platform": "facebook", "channel": PAGE, "kind": "dm", "id": id,
        "author": author, "text": text, "time": now - 60_000})
}

async fn save(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post(token, "/api/v1/saved-replies", body).await
}

on_both_backends!(
    a_saved_reply_is_filled_from_the_conversation_before_it_is_sent,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Exempelby kommun")
            .await;
        app.register_channel("facebook", OTHER_PAGE, "Skolan").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let r = app
            .post(
                &admin,
                "/api/v1/messages",
                json!({"messages": [
                    dm("p-named", json!({"id": "u1", "name": "Anna Lindqvist"}), "Hej!"),
                    dm("p-nameless", json!({"id": "u2"}), "Hallå?"),
                ]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (named, nameless) = (
            conversation_of(&app, "p-named").await,
            conversation_of(&app, "p-nameless").await,
        );

        // An unknown placeholder is refused when saved, with the known ones listed.
        let r = save(
            &app,
            &communicator,
            json!({"title": "Tack", "body": "Hej {fornamn}!", "language": "sv"}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let detail = r.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        for word in ["{fornamn}", "{förnamn}", "{namn}", "{kanal}"] {
            assert!(detail.contains(word), "{word} in {detail}");
        }
        let r = save(
            &app,
            &communicator,
            json!({"title": "Tack", "language": "sv",
                   "body": "Hej {förnamn}! Tack för att du skrev till {kanal}."}),
        )
        .await;
        assert_eq!(r.status(), 201);
        let reply = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/saved-replies/{reply}")))
            .bearer_auth(&communicator)
            .json(&json!({"body": "Hej {adress}"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);

        // The preview fills it; without a name a neutral word stands in.
        let preview = |id: i64| format!("/api/v1/conversations/{id}/saved-replies/{reply}/preview");
        let filled = app.get_json(&agent, &preview(named)).await;
        assert_eq!(
            filled["text"],
            "Hej Anna! Tack för att du skrev till Exempelby kommun."
        );
        let filled = app.get_json(&agent, &preview(nameless)).await;
        assert_eq!(
            filled["text"],
            "Hej du! Tack för att du skrev till Exempelby kommun."
        );
        // Only those who may answer the conversation fill replies for it.
        assert_eq!(app.get(&communicator, &preview(named)).await.status(), 403);

        // A placeholder never goes out as it is.
        let outbox = app.count("outbox").await;
        let r = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{named}/replies"),
                json!({"text": "Hej {förnamn}! Tack för att du skrev."}),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(app.count("outbox").await, outbox);
        let r = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{named}/replies"),
                json!({"text": "Hej Anna! Tack för att du skrev till Exempelby kommun."}),
            )
            .await;
        assert_eq!(r.status(), 201);

        // A reply kept for another channel is not filled here.
        let other: i64 = sqlx::query_scalar("select id from channels where platform_id = $1")
            .bind(OTHER_PAGE)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let r = save(
            &app,
            &communicator,
            json!({"title": "Skolan", "language": "sv", "body": "Hej från {kanal}",
                   "channel_id": other}),
        )
        .await;
        let school = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let r = app
            .get(
                &agent,
                &format!("/api/v1/conversations/{named}/saved-replies/{school}/preview"),
            )
            .await;
        assert_eq!(r.status(), 422);
    }
);
