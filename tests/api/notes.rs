//! Internal notes on a conversation: written by those who may answer it, read with it by those
//! who may read it (channel limits too, on the live stream as well), never sent to the platform,
//! audited, and disposed of with the conversation.

use serde_json::{json, Value};
use tavla::privacy::retention::run;
use tavla::privacy::rules::{RetentionRules, DAY_MS};

use crate::helpers::{actor, conversation_of, ingest, TestApp};
use crate::on_both_backends;
use futures::StreamExt;

const PAGE_A: &str = "340000000000001";
const PAGE_B: &str = "340000000000002";

fn message(page: &str, id: &str, kind: &str, author: &str, text: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let mut m = json!({"platform": "facebook", "channel": page, "kind": kind, "id": id,
        "author": {"id": author, "name": "Per Persson"}, "text": text, "time": now - 60_000});
    if kind == "comment" {
        m["post_id"] = json!(format!("post-{page}"));
    }
    m
}

async fn channel_id(app: &TestApp, page: &str) -> i64 {
    sqlx::query_scalar("select id from channels where platform_id = $1")
        .bind(page)
        .fetch_one(&app.store.pool)
        .await
        .expect("channel registered")
}

async fn note(app: &TestApp, token: &str, conversation: i64, text: &str) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/v1/conversations/{conversation}/notes"),
        json!({"text": text}),
    )
    .await
}

/// Reads the stream's events until one matches; returns (kind, data) of all read, that one last.
async fn events_until(
    response: reqwest::Response,
    last: impl Fn(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let mut stream = response.bytes_stream();
    let (mut buffer, mut events) = (String::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the awaited event arrives in time")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let kind = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(kind), Some(data)) = (kind, data) {
                let data: Value = serde_json::from_str(data).unwrap();
                let done = last(kind, &data);
                events.push((kind.to_string(), data));
                if done {
                    return events;
                }
            }
        }
    }
}

on_both_backends!(
    an_agent_notes_a_conversation_for_colleagues_only,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE_A, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let colleague = app.token("agent-2", "agent").await;
        ingest(
            &app,
            &admin,
            vec![message(
                PAGE_A,
                "n-dm",
                "dm",
                "p1",
                "Hej, hur går det med bygglovet?",
            )],
        )
        .await;
        let dm = conversation_of(&app, "n-dm").await;
        let outbox = app.count("outbox").await;

        let r = note(
            &app,
            &agent,
            dm,
            "  Ringde upp, väntar på Bygglov. Pnr 811218-9876  ",
        )
        .await;
        assert_eq!(r.status(), 201);
        let written: Value = r.json().await.unwrap();
        assert_eq!(written["written_by"], "agent");
        assert_eq!(
            written["text"], "Ringde upp, väntar på Bygglov. Pnr 811218-9876",
            "trimmed"
        );
        assert_eq!(
            app.count("outbox").await,
            outbox,
            "nothing goes to the platform"
        );

        // A colleague reads it in the conversation, personal data masked as in messages.
        let view = app
            .get_json(&colleague, &format!("/api/v1/conversations/{dm}"))
            .await;
        let notes = view["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["id"], written["id"]);
        assert_eq!(notes[0]["written_by"], "agent");
        let shown = notes[0]["text"].as_str().unwrap();
        assert!(
            shown.starts_with("Ringde upp, väntar på Bygglov."),
            "{shown}"
        );
        assert!(!shown.contains("811218-9876"), "masked: {shown}");
        assert_eq!(
            view["messages"].as_array().unwrap().len(),
            1,
            "a note is no message"
        );

        // Audited with its id and length, not its words.
        let audit = app
            .get_json(&admin, "/api/v1/audit?action=conversation.noted&limit=10")
            .await;
        let items = audit["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["target"], format!("conversation:{dm}"));
        assert!(!items[0].to_string().contains("Bygglov"));

        // Empty and overlong notes are refused with what to do.
        for text in ["   ".to_string(), "x".repeat(4001)] {
            let r = note(&app, &agent, dm, &text).await;
            assert_eq!(r.status(), 422);
            let detail: Value = r.json().await.unwrap();
            assert!(detail["detail"].as_str().unwrap().contains("note"));
        }
        assert_eq!(
            note(&app, &agent, dm, &"x".repeat(4000)).await.status(),
            201
        );

        // An untrained agent may not write one; a communicator may not touch a DM.
        let (_, untrained) = app.untrained_token("agent-new", "agent").await;
        let r = note(&app, &untrained, dm, "Hej").await;
        assert_eq!(r.status(), 403);
        let problem: Value = r.json().await.unwrap();
        assert!(problem["missing_training"]
            .as_array()
            .is_some_and(|m| !m.is_empty()));
        let communicator = app.token("comm", "communicator").await;
        assert_eq!(note(&app, &communicator, dm, "Hej").await.status(), 403);
        let count: i64 = app.count("conversation_notes").await;
        assert_eq!(count, 2);
    }
);

on_both_backends!(
    a_note_stays_inside_the_readers_channel_limit,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE_A, "Kommunen").await;
        app.register_channel("facebook", PAGE_B, "Skolan").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let limited = app.token("comm-b", "communicator").await;
        let limited_id: i64 = sqlx::query_scalar("select id from staff where username = 'comm-b'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let channel_b = channel_id(&app, PAGE_B).await;
        app.store
            .update_staff(limited_id, None, None, Some(&[channel_b]), &actor())
            .await
            .unwrap();
        ingest(
            &app,
            &admin,
            vec![
                message(PAGE_A, "n-ca", "comment", "p1", "När öppnar simhallen?"),
                message(PAGE_B, "n-cb", "comment", "p2", "När börjar skolan?"),
            ],
        )
        .await;
        let (thread_a, thread_b) = (
            conversation_of(&app, "n-ca").await,
            conversation_of(&app, "n-cb").await,
        );
        let stream = app.get(&limited, "/api/v1/events?after=0").await;
        assert_eq!(stream.status(), 200);

        assert_eq!(
            note(&app, &communicator, thread_a, "Hemlig anteckning om A")
                .await
                .status(),
            201
        );
        // Channel A does not exist for the one limited to B: neither the thread nor its notes.
        let r = app
            .get(&limited, &format!("/api/v1/conversations/{thread_a}"))
            .await;
        assert_eq!(r.status(), 404);
        assert!(!r.text().await.unwrap().contains("Hemlig"));
        assert_eq!(note(&app, &limited, thread_a, "Hej").await.status(), 404);
        // On B they read and write as anyone.
        let r = note(&app, &limited, thread_b, "Anteckning om B").await;
        assert_eq!(r.status(), 201);
        let view = app
            .get_json(&limited, &format!("/api/v1/conversations/{thread_b}"))
            .await;
        assert_eq!(view["notes"][0]["text"], "Anteckning om B");

        // The stream: up to the note on B, nothing of A (its comment or its note) came.
        let seen = events_until(stream, |kind, data| {
            kind == "conversation.noted" && data["conversation_id"] == thread_b
        })
        .await;
        assert!(
            seen.iter().all(|(_, d)| d["conversation_id"] != thread_a),
            "nothing of channel A reached the listener limited to B: {seen:?}"
        );
        let noted = seen.last().unwrap();
        assert_eq!(noted.1["payload"]["note_id"], view["notes"][0]["id"]);
        assert!(
            !noted.1.to_string().contains("Anteckning"),
            "no words in events"
        );

        // The unlimited communicator hears of the note on A.
        let all = app.get(&communicator, "/api/v1/events?after=0").await;
        events_until(all, |kind, data| {
            kind == "conversation.noted" && data["conversation_id"] == thread_a
        })
        .await;
    }
);

on_both_backends!(
    notes_go_with_their_conversation_and_are_masked_when_the_person_is,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE_A, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("dpo", "auditor").await;
        ingest(
            &app,
            &admin,
            vec![
                message(PAGE_A, "n-dm", "dm", "p1", "Hej, gäller mitt bygglov."),
                message(
                    PAGE_A,
                    "n-c",
                    "comment",
                    "p2",
                    "Varför stänger biblioteket?",
                ),
            ],
        )
        .await;
        let (dm, thread) = (
            conversation_of(&app, "n-dm").await,
            conversation_of(&app, "n-c").await,
        );
        assert_eq!(
            note(&app, &agent, dm, "Han gav pnr 811218-9876 i telefon")
                .await
                .status(),
            201
        );
        assert_eq!(
            note(&app, &communicator, thread, "Biblioteket svarar")
                .await
                .status(),
            201
        );

        // The person's export carries the note on their DM, masked; not the thread's.
        let export = app.get_json(&auditor, "/api/v1/privacy/authors/p1").await;
        let notes = export["people"][0]["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["conversation_id"], dm);
        assert!(notes[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Han gav pnr"));
        assert!(!export.to_string().contains("811218-9876"));

        // The thread was also handed to a unit: the handover goes with the thread too.
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/conversations/{thread}/handover"),
                json!({"unit": "Kultur", "note": "Biblioteket svarar"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        for (token, id) in [(&communicator, thread), (&agent, dm)] {
            let r = app
                .post(
                    token,
                    &format!("/api/v1/conversations/{id}/status"),
                    json!({"status": "resolved"}),
                )
                .await;
            assert_eq!(r.status(), 200);
        }
        // Retention: a year on, the comment thread goes, and its note with it.
        let rules = RetentionRules::built_in();
        let later = chrono::Utc::now().timestamp_millis() + 365 * DAY_MS + DAY_MS;
        let r = run(&app.store, &rules, later, false, &actor())
            .await
            .unwrap();
        assert_eq!(r.deleted, 1);
        let left: Vec<i64> = sqlx::query_scalar("select conversation_id from conversation_notes")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(left, [dm], "the thread's note went with the thread");
        assert_eq!(
            app.count("handovers").await,
            0,
            "the thread's handover went too"
        );
        // Two years on the DM is pseudonymised: kept, and the note with it, masked.
        let r = run(&app.store, &rules, later + 365 * DAY_MS, false, &actor())
            .await
            .unwrap();
        assert_eq!(r.pseudonymised, 1);
        let text: String = sqlx::query_scalar("select text from conversation_notes")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert!(text.starts_with("Han gav pnr"), "{text}");
        assert!(!text.contains("811218-9876"), "{text}");
    }
);
