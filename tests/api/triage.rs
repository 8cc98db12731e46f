//! Triage at ingestion: flags, cases above the threshold, off-hours auto-hide, on-call alerts.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const PAGE: &str = "910000000000001";

fn comment(id: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": 1_764_000_000, "changes": [{
        "field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": id,
        "post_id": format!("{PAGE}_1"), "created_time": 1_764_000_000,
        "from": {"id": "user-1", "name": "Arg Person"}, "message": text}}]}]}),
    )
    .unwrap()
}

async fn cases(app: &TestApp, token: &str) -> Vec<Value> {
    app.get_json(token, "/api/v1/moderation/cases").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

on_both_backends!(
    a_threat_is_flagged_and_opens_a_case_with_reasons,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        assert_eq!(
            app.webhook(&comment("c1", "Jag ska döda dig, vi vet var du bor"))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.webhook(&comment("c2", "När öppnar simhallen igen?"))
                .await
                .status(),
            200
        );
        let moderator = app.token("moderator", "moderator").await;
        let open = cases(&app, &moderator).await;
        assert_eq!(open.len(), 1, "only the threat opens a case: {open:?}");
        assert_eq!(open[0]["source"], "triage");
        assert!(open[0]["level"].as_str().unwrap() >= "S4", "{open:?}");
        let view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", open[0]["id"]),
            )
            .await;
        let findings = view["triage"]["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "the moderator sees why");
        assert!(view["triage"]["categories"]
            .as_array()
            .unwrap()
            .contains(&json!("threat")));
        // Triage is advice: the message stays visible until a moderator acts (staffed hours: the
        // default test schedule is checked below).
        let clean: i64 = sqlx::query_scalar("select count(*) from message_flags f join messages m on m.id = f.message_id where m.platform_id = 'c2'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(clean, 0, "a plain question carries no flag");
        // Moderators can search by flagged severity.
        let mut found = Value::Null;
        for _ in 0..100 {
            found = app.get_json(&moderator, "/api/v1/search?severity=S4").await;
            if found["total"] == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(found["total"], 1, "{found}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_hours_hide_s4_comments_until_reviewed_and_alert_on_call() {
    // A stand-in for a Teams/Slack incoming webhook that records what it is sent.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let stub = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, stub).await.unwrap() });

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        // Never staffed: every moment is off-hours.
        s.staffed_from = "00:00".into();
        s.staffed_to = "00:00".into();
        s.moderation_alert_url = hook.clone().into();
    })
    .await
    .unwrap();
    app.register_channel("facebook", PAGE, "Kommunen").await;
    assert_eq!(
        app.webhook(&comment("c9", "Jag ska döda dig"))
            .await
            .status(),
        200
    );
    let (state, text): (String, Option<String>) =
        sqlx::query_as("select state, text from messages where platform_id = 'c9'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(state, "hidden", "hidden at once, reversibly");
    assert_eq!(
        text.as_deref(),
        Some("Jag ska döda dig"),
        "kept in the store"
    );
    let hide: i64 = sqlx::query_scalar("select count(*) from outbox where action = 'hide'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(hide, 1, "and hidden on the platform through the outbox");
    let moderator = app.token("moderator", "moderator").await;
    let case = &cases(&app, &moderator).await[0];
    let view = app
        .get_json(
            &moderator,
            &format!("/api/v1/moderation/cases/{}", case["id"]),
        )
        .await;
    let steps: Vec<_> = view["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(steps, ["capture_evidence", "hide"]);
    assert_eq!(view["evidence"][0]["verified"], true);

    // The on-call moderator hears of it, without the message's content.
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alerts = received.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["case_id"], case["id"]);
    assert!(
        !alerts[0].to_string().contains("döda"),
        "no content in the alert"
    );
}

on_both_backends!(
    a_threatening_dm_opens_a_case_without_showing_its_words_to_moderators,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let dm = serde_json::to_vec(
            &json!({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": "user-9"}, "recipient": {"id": PAGE}, "timestamp": 1_764_000_000_000i64,
        "message": {"mid": "dm-threat", "text": "Jag ska döda dig"}}]}]}),
        )
        .unwrap();
        assert_eq!(app.webhook(&dm).await.status(), 200);
        let moderator = app.token("moderator", "moderator").await;
        let open = cases(&app, &moderator).await;
        assert_eq!(open.len(), 1, "{open:?}");
        assert!(open[0]["preview"].is_null(), "moderators do not read DMs");
        let view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", open[0]["id"]),
            )
            .await;
        assert!(view["message"].is_null());
        assert!(
            !view.to_string().contains("döda"),
            "no words of the DM anywhere: {view}"
        );
    }
);

async fn message_id(app: &TestApp, platform_id: &str) -> i64 {
    sqlx::query_scalar("select id from messages where platform_id = $1")
        .bind(platform_id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

async fn flag_model_version(app: &TestApp, platform_id: &str) -> Option<String> {
    sqlx::query_scalar(
        "select f.model_version from message_flags f join messages m on m.id = f.message_id \
         where m.platform_id = $1",
    )
    .bind(platform_id)
    .fetch_one(&app.store.pool)
    .await
    .unwrap()
}

/// Runs `tavla ARGS…` in this process with the test app's database and data directory.
async fn tavla(app: &TestApp, args: &[&str]) {
    use clap::Parser;
    let config = app.settings.data_dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\ndata_dir = {:?}\nlog_level = \"error\"\n",
            app.settings.database_url.expose(),
            app.settings.data_dir.display().to_string()
        ),
    )
    .unwrap();
    let mut argv = vec!["tavla", "--config", config.to_str().unwrap()];
    argv.extend(args);
    tavla::cli::run(tavla::cli::Cli::try_parse_from(argv).unwrap())
        .await
        .expect("the command succeeds");
}

on_both_backends!(
    a_model_trained_on_closed_cases_scores_new_comments_and_its_version_is_kept_with_the_flag,
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        // Before any model: the rules alone, and no model version with the flag.
        app.webhook(&comment("c1", "Din jävla idiot")).await;
        app.webhook(&comment("c2", "När öppnar simhallen igen?"))
            .await;
        assert_eq!(flag_model_version(&app, "c1").await, None);

        // The moderators' decisions: the insult removed (abusive), the question reported and
        // dismissed (not abusive).
        let insult_case = cases(&app, &moderator).await[0]["id"].as_i64().unwrap();
        for body in [
            json!({"step": "remove"}),
            json!({"step": "notify_poster", "template": "kränkande", "send": false}),
        ] {
            let r = app
                .post(
                    &moderator,
                    &format!("/api/v1/moderation/cases/{insult_case}/steps"),
                    body,
                )
                .await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        let question = message_id(&app, "c2").await;
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{question}/report"),
                json!({"reason": "Kolla om det är spam", "level": "S0"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let question_case = r.json::<Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();
        for (case, decision) in [
            (insult_case, "Borttagen: förolämpning"),
            (question_case, "Ingen åtgärd: en vanlig fråga"),
        ] {
            let r = app
                .post(
                    &moderator,
                    &format!("/api/v1/moderation/cases/{case}/close"),
                    json!({"decision": decision}),
                )
                .await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }

        // The store gives both closed cases as lessons, with the moderators' steps.
        let closed = app.store.closed_cases().await.unwrap();
        assert_eq!(closed.len(), 2, "{closed:?}");
        let removed = closed.iter().find(|c| c.case_id == insult_case).unwrap();
        assert!(removed.steps.contains(&"remove".to_string()));
        assert!(removed.categories.contains(&"insult".to_string()));

        // `tavla moderation train --from-cases` writes a model into the data directory ...
        tavla(&app, &["moderation", "train", "--from-cases"]).await;
        let path = tavla::moderation::model::Model::newest_in(&app.settings.data_dir)
            .unwrap()
            .expect("a model file");
        let model = tavla::moderation::model::Model::load(&path).unwrap();
        assert!(path.to_string_lossy().contains(&model.version));
        assert_eq!(model.training().examples, 2);

        // ... which the service loads when it starts, and names with every flag it helps make.
        app.restart().await;
        app.webhook(&comment("c3", "Din idiot, svara nu")).await;
        assert_eq!(
            flag_model_version(&app, "c3").await.as_deref(),
            Some(model.version.as_str())
        );
        assert_eq!(
            flag_model_version(&app, "c1").await,
            None,
            "older flags keep theirs"
        );
        let c3 = json!(message_id(&app, "c3").await);
        let case = cases(&app, &moderator)
            .await
            .into_iter()
            .find(|c| c["message_id"] == c3)
            .expect("a case for the new insult");
        let view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", case["id"]),
            )
            .await;
        assert_eq!(view["triage"]["model_version"], json!(model.version));
    }
);
