//! Other ways in: the ingest API and `tavla import`, with per-line errors and the good lines kept.

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

const PAGE: &str = "400000000000001";

fn message(id: &str, text: &str) -> serde_json::Value {
    json!({"platform": "facebook", "channel": PAGE, "kind": "dm", "id": id,
           "author": {"id": format!("person-{id}"), "name": "Anna"}, "text": text,
           "time": "2026-11-02T09:15:00+01:00"})
}

on_both_backends!(
    ingest_api_keeps_good_items_and_names_bad_ones,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let body = json!({"messages": [
            message("a1", "Hej"),
            {"platform": "facebook", "channel": PAGE, "kind": "comment", "id": "c1", "author": {"id": "p"}, "time": 0},
            message("a2", "Hallå"),
            {"platform": "myspace"},
            {"platform": "instagram", "channel": "unknown-account", "kind": "dm", "id": "q1", "author": {"id": "p"}, "time": 0},
        ]});
        let r = app.post(&admin, "/api/v1/messages", body.clone()).await;
        assert_eq!(r.status(), 200);
        let outcome: serde_json::Value = r.json().await.unwrap();
        assert_eq!(outcome["accepted"], 3);
        assert_eq!(outcome["stored"], 2);
        assert_eq!(outcome["quarantined"], 1);
        let errors = outcome["errors"].as_array().unwrap();
        assert_eq!(
            errors
                .iter()
                .map(|e| e["index"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(errors[0]["error"].as_str().unwrap().contains("post_id"));

        let again: serde_json::Value = app
            .post(&admin, "/api/v1/messages", body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["stored"], 0);
        assert_eq!(again["duplicates"], 3);
        assert_eq!(app.conversations(&agent, "").await.len(), 2);

        assert_eq!(
            app.post(&agent, "/api/v1/messages", json!({"messages": []}))
                .await
                .status(),
            403
        );
        let all_bad = app
            .post(&admin, "/api/v1/messages", json!({"messages": [{"x": 1}]}))
            .await;
        assert_eq!(all_bad.status(), 422);
        let not_json = app
            .client
            .post(app.url("/api/v1/messages"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), 400);
        assert_eq!(
            not_json.headers()["content-type"],
            "application/problem+json"
        );
    }
);

on_both_backends!(
    import_file_reports_bad_lines_and_keeps_the_rest,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("export.jsonl");
        let mut lines = Vec::new();
        for i in 0..1200 {
            lines.push(message(&format!("imp-{i}"), &format!("Fråga nummer {i}")).to_string());
            if i == 500 {
                lines.push("{this is not json".to_string());
            }
            if i == 700 {
                lines.push(json!({"platform": "facebook"}).to_string());
            }
        }
        std::fs::write(&file, lines.join("\n")).unwrap();
        let run = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
                .arg("import")
                .arg(&file)
                .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
                .env("TAVLA_LOG_LEVEL", "warn")
                .output()
                .unwrap()
        };
        let output = run();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "bad lines make the exit code non-zero"
        );
        assert!(stderr.contains("line 502: not JSON"), "{stderr}");
        assert!(stderr.contains("line 703:"), "{stderr}");
        assert!(stderr.contains("1200 stored"), "{stderr}");
        assert_eq!(app.count("messages").await, 1200);

        let again = run();
        assert!(String::from_utf8_lossy(&again.stderr).contains("1200 already there"));
        assert_eq!(app.count("messages").await, 1200);
    }
);

on_both_backends!(
    everything_is_still_there_after_a_restart,
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let batch = json!({"messages": (0..50).map(|i| message(&format!("r-{i}"), "Hej")).collect::<Vec<_>>()});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", batch).await.status(),
            200
        );
        let agent = app.token("agent", "agent").await;
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
        app.restart().await;
        assert_eq!(app.count("messages").await, 50);
        let list = app
            .get_json(&agent, "/api/v1/conversations?limit=200")
            .await;
        assert_eq!(list["total"], 50);
        let detail = app
            .get_json(&agent, &format!("/api/v1/conversations/{id}"))
            .await;
        assert_eq!(
            detail["claim"]["username"], "agent",
            "claims survive a restart"
        );
    }
);

/// One DM from the same person, with the name given (or none).
fn anna_writes(id: &str, name: Option<&str>, text: &str) -> serde_json::Value {
    let mut author = json!({"id": "person-anna"});
    if let Some(name) = name {
        author["name"] = json!(name);
    }
    json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "dm", "id": id,
        "author": author, "text": text, "time": "2026-11-02T09:15:00+01:00"}]})
}

async fn stored_one(app: &TestApp, admin: &str, body: serde_json::Value) {
    let r = app.post(admin, "/api/v1/messages", body).await;
    assert_eq!(r.status(), 200);
    let outcome: serde_json::Value = r.json().await.unwrap();
    assert_eq!(outcome["stored"], 1, "{outcome}");
}

/// The message of the first hit for a word, once the index has it.
async fn hit(app: &TestApp, token: &str, word: &str) -> serde_json::Value {
    crate::helpers::eventually(&format!("a hit for {word}"), || async {
        let v = app
            .get_json(token, &format!("/api/v1/search?q={word}"))
            .await;
        v["items"]
            .as_array()
            .and_then(|i| i.first())
            .map(|h| h["message"].clone())
    })
    .await
}

on_both_backends!(
    an_author_keeps_one_id_and_the_name_last_given_across_restarts,
    |mut app: TestApp| async move {
        // Each restart empties the ingest's cache of authors, so the store decides: a message
        // without a name, or with the name already stored, leaves the author as it is (and
        // finds its id); a new name replaces the old one.
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        stored_one(
            &app,
            &admin,
            anna_writes("n1", Some("Anna Berg"), "blåbärssoppa"),
        )
        .await;
        let first = hit(&app, &agent, "blåbärssoppa").await;
        assert_eq!(first["author_name"], "Anna Berg", "{first}");
        let anna = first["author_id"].clone();
        assert!(anna.is_i64(), "{first}");

        app.restart().await;
        stored_one(&app, &admin, anna_writes("n2", None, "lingonsylt")).await;
        let second = hit(&app, &agent, "lingonsylt").await;
        assert_eq!(second["author_id"], anna);
        assert_eq!(
            second["author_name"], "Anna Berg",
            "a message without a name keeps it"
        );

        app.restart().await;
        stored_one(
            &app,
            &admin,
            anna_writes("n3", Some("Anna Berg"), "hjortronkräm"),
        )
        .await;
        assert_eq!(hit(&app, &agent, "hjortronkräm").await["author_id"], anna);
        stored_one(
            &app,
            &admin,
            anna_writes("n4", Some("Anna Lind"), "krusbärspaj"),
        )
        .await;
        let renamed = hit(&app, &agent, "krusbärspaj").await;
        assert_eq!(renamed["author_id"], anna);
        assert_eq!(renamed["author_name"], "Anna Lind");
        // Every message is the same person's, shown by the name last given.
        let earlier = hit(&app, &agent, "blåbärssoppa").await;
        assert_eq!(earlier["author_id"], anna);
        assert_eq!(earlier["author_name"], "Anna Lind");
    }
);
