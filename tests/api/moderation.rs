//! Moderation cases walk their routine: evidence first, nothing destroyed, required steps
//! enforced, a second moderator for S4/S5.

use serde_json::{json, Value};

use crate::helpers::{ingest, TestApp};
use crate::on_both_backends;

pub const PAGE: &str = "900000000000001";

async fn comment(app: &TestApp, id: &str, text: &str) -> i64 {
    comment_at(app, id, text, json!("2026-11-20T21:00:00+01:00")).await
}

/// A comment `id` under the page's post, written at `time` (RFC 3339 or epoch ms), through the
/// ingest API; returns the message.
pub async fn comment_at(app: &TestApp, id: &str, text: &str, time: Value) -> i64 {
    let admin = app.token(&format!("admin-{id}"), "admin").await;
    let body = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment", "id": id,
        "author": {"id": "troll", "name": "Troll Trollsson"}, "text": text, "time": time,
        "post_id": format!("{PAGE}_42")}]});
    assert_eq!(
        app.post(&admin, "/api/v1/messages", body).await.status(),
        200
    );
    sqlx::query_scalar("select id from messages where platform_id = $1")
        .bind(id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

/// A comment under `post` at `time` (epoch ms), as the ingest API takes it.
fn thread_comment(id: String, author: String, text: &str, time: i64, post: &str) -> Value {
    json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": id,
        "author": {"id": author}, "text": text, "time": time, "post_id": post})
}

pub async fn step(app: &TestApp, token: &str, case: i64, body: Value) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/v1/moderation/cases/{case}/steps"),
        body,
    )
    .await
}

on_both_backends!(
    an_s4_case_walks_its_routine_with_a_second_moderator,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let message = comment(&app, "c1", "Ni borde alla skjutas, vi vet var ni bor").await;
        let communicator = app.token("comm", "communicator").await;
        let first = app.token("moderator-1", "moderator").await;
        let second = app.token("moderator-2", "moderator").await;
        // Any staff member who reads comments may report; the case gets the S4 routine.
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/messages/{message}/report"),
                json!({"reason": "Hot", "level": "S4"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let case = r.json::<Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();
        assert_eq!(
            app.get(&communicator, "/api/v1/moderation/cases")
                .await
                .status(),
            403
        );
        let queue = app.get_json(&first, "/api/v1/moderation/cases").await;
        assert_eq!(queue["items"][0]["id"], case);
        assert_eq!(queue["items"][0]["level"], "S4");

        // Closing early names what is missing.
        let early = app
            .post(
                &first,
                &format!("/api/v1/moderation/cases/{case}/close"),
                json!({"decision": "Klart"}),
            )
            .await;
        assert_eq!(early.status(), 422);
        let detail = early.text().await.unwrap();
        assert!(
            detail.contains("police_report") && detail.contains("second_confirmation"),
            "{detail}"
        );

        assert_eq!(
            step(&app, &first, case, json!({"step": "remove"}))
                .await
                .status(),
            201
        );
        // Evidence was captured before the removal, and it verifies.
        let view = app
            .get_json(&first, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        let evidence = &view["evidence"][0];
        assert_eq!(evidence["verified"], true);
        assert_eq!(
            evidence["content"]["text"],
            "Ni borde alla skjutas, vi vet var ni bor"
        );
        let steps: Vec<_> = view["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(steps, ["capture_evidence", "remove"]);
        // The message is marked removed, never deleted, and the platform removal is queued.
        let (state, text): (String, Option<String>) = {
            let row: (String, Option<String>) =
                sqlx::query_as("select state, text from messages where id = $1")
                    .bind(message)
                    .fetch_one(&app.store.pool)
                    .await
                    .unwrap();
            row
        };
        assert_eq!(state, "removed");
        assert_eq!(
            text.as_deref(),
            Some("Ni borde alla skjutas, vi vet var ni bor")
        );
        let queued: i64 = sqlx::query_scalar(
            "select count(*) from outbox where message_id = $1 and action = 'remove'",
        )
        .bind(message)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(queued, 1);

        let r = step(&app, &first, case, json!({"step": "police_report"})).await;
        assert_eq!(r.status(), 422, "a police report needs its reference");
        assert_eq!(
            step(
                &app,
                &first,
                case,
                json!({"step": "police_report", "reference": "5000-K123456-26"})
            )
            .await
            .status(),
            201
        );
        assert_eq!(
            step(
                &app,
                &first,
                case,
                json!({"step": "register", "reference": "KS 2026/123"})
            )
            .await
            .status(),
            201
        );
        assert_eq!(
            step(&app, &first, case, json!({"step": "block"}))
                .await
                .status(),
            201
        );
        assert_eq!(
            step(&app, &first, case, json!({"step": "block"}))
                .await
                .status(),
            409,
            "a step is taken once"
        );
        let own = step(&app, &first, case, json!({"step": "second_confirmation"})).await;
        assert_eq!(own.status(), 422);
        assert!(own.text().await.unwrap().contains("second moderator"));
        assert_eq!(
            step(&app, &second, case, json!({"step": "second_confirmation"}))
                .await
                .status(),
            201
        );
        assert_eq!(
            step(&app, &second, case, json!({"step": "teleport"}))
                .await
                .status(),
            422
        );
        // What the message was, in the moderator's judgement: only triage's categories.
        let unknown = app
            .post(
                &first,
                &format!("/api/v1/moderation/cases/{case}/close"),
                json!({"decision": "Borttaget", "categories": ["elakt"]}),
            )
            .await;
        assert_eq!(unknown.status(), 422);
        assert!(unknown.text().await.unwrap().contains("misogyny"));
        let close = app
            .post(
                &first,
                &format!("/api/v1/moderation/cases/{case}/close"),
                json!({"decision": "Borttaget och polisanmält", "categories": ["threat"]}),
            )
            .await;
        assert_eq!(close.status(), 200);
        let decided: Option<String> =
            sqlx::query_scalar("select decided_categories from moderation_cases where id = $1")
                .bind(case)
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(
            decided.as_deref(),
            Some("[\"threat\"]"),
            "kept for training"
        );
        let closed = app
            .get_json(&first, "/api/v1/moderation/cases?status=closed")
            .await;
        assert_eq!(
            closed["items"][0]["routine_version"],
            tavla::moderation::routines::Routines::built_in().version
        );
        // Tampering with the evidence is visible.
        sqlx::query("update evidence set author_name = 'someone else'")
            .execute(&app.store.pool)
            .await
            .unwrap();
        let view = app
            .get_json(&first, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        assert_eq!(view["evidence"][0]["verified"], false);
    }
);

on_both_backends!(s5_keeps_metadata_only, |app: TestApp| async move {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let message = comment(&app, "c5", "[material som inte får sparas]").await;
    let moderator = app.token("moderator", "moderator").await;
    let r = app
        .post(
            &moderator,
            &format!("/api/v1/messages/{message}/report"),
            json!({"reason": "Övergreppsmaterial", "level": "S5"}),
        )
        .await;
    let case = r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        step(&app, &moderator, case, json!({"step": "remove"}))
            .await
            .status(),
        201
    );
    let view = app
        .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
        .await;
    assert!(
        view["evidence"][0]["content"].is_null(),
        "no copy of the content"
    );
    assert_eq!(view["evidence"][0]["author_platform_id"], "troll");
    // The message is there as a placeholder that says why its words are not.
    assert!(view["message"]["text"].is_null());
    assert_eq!(view["message"]["withheld"], "s5");
    assert!(view["case"]["preview"].is_null());
    assert!(
        !view.to_string().contains("material som inte"),
        "no words anywhere: {view}"
    );
});

#[test]
fn routines_print_as_a_document() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(["routines", "print"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("# Rutiner för moderering"));
    for level in ["S0", "S1", "S2", "S3", "S4", "S5"] {
        assert!(text.contains(&format!("## {level}")), "{level}");
    }
    // Who may take each step: S0's reply is the communicators' and agents' too, hiding is not.
    assert!(
        text.contains("| steg | krävs | vem får ta steget |"),
        "{text}"
    );
    assert!(
        text.contains("| Svara (Reply) | vid behov | moderator, kommunikatör, kontaktcenter |"),
        "{text}"
    );
    assert!(text.contains("| Dölj (Hide) | ja | moderator |"), "{text}");
}

#[test]
fn moderation_eval_reports_per_label_figures() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("labelled.tsv");
    std::fs::write(
        &file,
        "text\tlabel\nDu är en jävla idiot\toffensive\nNär öppnar biblioteket?\tnone\nJag ska döda dig\toffensive\nTack för hjälpen!\tnone\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(["moderation", "eval", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["messages"], 4);
    for key in ["precision", "recall", "f1"] {
        let v = last[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(last["labels"]["offensive"]["recall"].as_f64().unwrap() > 0.0);
}

on_both_backends!(
    a_thread_that_catches_fire_is_shown_as_heated,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let moderator = app.token("moderator", "moderator").await;
        let now = chrono::Utc::now().timestamp_millis();
        let mut messages = Vec::new();
        // A quiet thread: two comments yesterday. A heated one: twelve in the last hour.
        for i in 0..2 {
            messages.push(thread_comment(
                format!("quiet-{i}"),
                format!("p{i}"),
                "Bra initiativ",
                now - 20 * 3_600_000,
                "quiet",
            ));
        }
        for i in 0..12 {
            messages.push(thread_comment(
                format!("hot-{i}"),
                format!("h{i}"),
                "Varför bygger ni om korsningen?",
                now - i * 60_000,
                "cykelkorsning",
            ));
        }
        ingest(&app, &admin, messages).await;
        let heated = app.get_json(&moderator, "/api/v1/moderation/heated").await;
        let items = heated["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{heated}");
        assert_eq!(items[0]["post_platform_id"], "cykelkorsning");
        assert_eq!(items[0]["last_hour"], 12);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heated_view_follows_the_operators_threshold() {
    // Six comments in an hour after a quiet day: heated when the operator sets six, not at ten.
    for (min_comments, expected) in [(6, 1), (10, 0)] {
        let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
            s.heated_min_comments = min_comments;
        })
        .await
        else {
            return;
        };
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let moderator = app.token("moderator", "moderator").await;
        let now = chrono::Utc::now().timestamp_millis();
        let messages = (0..6)
            .map(|i| {
                thread_comment(
                    format!("six-{i}"),
                    format!("s{i}"),
                    "Varför stänger badet?",
                    now - i * 60_000,
                    "badet",
                )
            })
            .collect();
        ingest(&app, &admin, messages).await;
        let heated = app.get_json(&moderator, "/api/v1/moderation/heated").await;
        assert_eq!(
            heated["items"].as_array().unwrap().len(),
            expected,
            "heated_min_comments = {min_comments}: {heated}"
        );
    }
}

on_both_backends!(
    a_notice_to_the_poster_goes_out_as_a_private_reply,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let moderator = app.token("moderator", "moderator").await;
        let now = chrono::Utc::now().timestamp_millis();
        let body = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment",
            "id": "c-notice", "author": {"id": "poster-1", "name": "Pelle"},
            "text": "Ni på kommunen är idioter", "time": now - 60_000, "post_id": format!("{PAGE}_7")}]});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", body).await.status(),
            200
        );
        let message: i64 =
            sqlx::query_scalar("select id from messages where platform_id = 'c-notice'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{message}/report"),
                json!({"reason": "Förolämpning", "level": "S2"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let case = r.json::<Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();
        // The case view offers the notices communications wrote.
        let view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        let ids: Vec<_> = view["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect();
        assert!(ids.contains(&"kränkande".to_string()), "{ids:?}");

        let unknown = step(
            &app,
            &moderator,
            case,
            json!({"step": "notify_poster", "template": "påhittad"}),
        )
        .await;
        assert_eq!(unknown.status(), 422);
        assert!(unknown.text().await.unwrap().contains("kränkande"));

        let sent = step(
            &app,
            &moderator,
            case,
            json!({"step": "notify_poster", "template": "kränkande"}),
        )
        .await;
        assert_eq!(sent.status(), 201);
        let sent: Value = sent.json().await.unwrap();
        assert_eq!(sent["notice"]["queued"], true, "{sent}");
        // The private reply waits in the outbox with the notice's Swedish text, to the comment.
        let (action, payload): (String, String) =
            sqlx::query_as("select action, payload from outbox where message_id = $1")
                .bind(sent["notice"]["message_id"].as_i64().unwrap())
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(action, "private_reply");
        let payload: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(payload["comment_id"], "c-notice");
        assert!(payload["text"]
            .as_str()
            .unwrap()
            .starts_with("Hej! Vi har dolt din kommentar"));
        // The step records what was said.
        let view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        let taken = view["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "notify_poster")
            .unwrap()
            .clone();
        assert!(
            taken.to_string().contains("Hej! Vi har dolt din kommentar"),
            "{taken}"
        );
        let again = step(
            &app,
            &moderator,
            case,
            json!({"step": "notify_poster", "text": "Igen"}),
        )
        .await;
        assert_eq!(again.status(), 409, "a step is taken once");
    }
);

on_both_backends!(
    a_notice_given_another_way_is_recorded_without_sending,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let message = comment(&app, "c-phone", "Ni är idioter allihop").await;
        let moderator = app.token("moderator", "moderator").await;
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{message}/report"),
                json!({"reason": "Förolämpning", "level": "S2"}),
            )
            .await;
        let case = r.json::<Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();
        let r = step(
            &app,
            &moderator,
            case,
            json!({"step": "notify_poster",
            "text": "Ringde upp personen och förklarade reglerna", "send": false}),
        )
        .await;
        assert_eq!(r.status(), 201);
        assert_eq!(r.json::<Value>().await.unwrap()["notice"], Value::Null);
        let queued: i64 =
            sqlx::query_scalar("select count(*) from outbox where action = 'private_reply'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(queued, 0);
    }
);

on_both_backends!(
    a_second_report_adds_its_reason_and_can_raise_the_level,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let message = comment(&app, "c-twice", "Varför plogar ni aldrig vår gata?").await;
        let communicator = app.token("comm", "communicator").await;
        let moderator = app.token("moderator", "moderator").await;
        let report = |token: String, body: Value| {
            let app = &app;
            async move {
                let r = app
                    .post(&token, &format!("/api/v1/messages/{message}/report"), body)
                    .await;
                assert_eq!(r.status(), 201);
                r.json::<Value>().await.unwrap()
            }
        };
        let first = report(
            communicator.clone(),
            json!({"reason": "Förolämpning", "level": "S2"}),
        )
        .await;
        let case = first["case_id"].as_i64().unwrap();
        let before = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        assert_eq!(before["case"]["level"], "S2");
        // A milder report later keeps the level and adds its reason.
        let milder = report(moderator.clone(), json!({"reason": "Spam?", "level": "S1"})).await;
        assert_eq!(milder["case_id"], case);
        assert_eq!(milder["level"], before["case"]["level"]);
        // A more severe one raises the case to its level and routine, due sooner.
        let severe = report(
            moderator.clone(),
            json!({"reason": "Hot: skriver att hen vet var personen bor", "level": "S4"}),
        )
        .await;
        assert_eq!(severe["case_id"], case, "still one case for one message");
        assert_eq!(severe["level"], "S4");
        let after = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        assert_eq!(after["case"]["level"], "S4");
        assert_eq!(after["routine"]["level"], "S4");
        assert!(
            after["case"]["due_at"].as_i64().unwrap() < before["case"]["due_at"].as_i64().unwrap()
        );
        let reason = after["case"]["reason"].as_str().unwrap();
        for said in [
            "Förolämpning",
            "Spam?",
            "Hot: skriver att hen vet var personen bor",
        ] {
            assert!(reason.contains(said), "{reason}");
        }
        assert_eq!(severe["reason_kept"], true);
        // A flood of long reports fills the case's reasons; one beyond still counts (here it
        // raises the level) and its reporter is told that the reason was not added (a short
        // one that still fits is added).
        let long = "Lång motivering. ".repeat(117);
        let mut kept = 0;
        let beyond = loop {
            let r = report(moderator.clone(), json!({"reason": long, "level": "S2"})).await;
            if r["reason_kept"] == false {
                break r;
            }
            kept += 1;
            assert!(kept < 20, "the reasons never filled: {r}");
        };
        assert_eq!(
            kept, 9,
            "20,000 characters hold the first reports and nine of these"
        );
        assert!(
            beyond["note"].as_str().unwrap().contains("20000"),
            "{beyond}"
        );
        let last = report(
            moderator.clone(),
            json!({"reason": format!("Hot mot namngiven person. {}", "x".repeat(1900)), "level": "S5"}),
        )
        .await;
        assert_eq!(
            (last["level"].as_str(), last["reason_kept"].as_bool()),
            (Some("S5"), Some(false))
        );
        let full = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        assert_eq!(full["case"]["level"], "S5");
        assert!(full["case"]["reason"].as_str().unwrap().chars().count() < 20_000);
        let open: i64 = sqlx::query_scalar(
            "select count(*) from moderation_cases where message_id = $1 and status = 'open'",
        )
        .bind(message)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(open, 1);
    }
);

async fn report_s2(app: &TestApp, token: &str, message: i64) -> i64 {
    report(app, token, message, "S2", "Förolämpning").await
}

/// Reports a message at `level`; returns its case.
pub async fn report(app: &TestApp, token: &str, message: i64, level: &str, reason: &str) -> i64 {
    let r = app
        .post(
            token,
            &format!("/api/v1/messages/{message}/report"),
            json!({"reason": reason, "level": level}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap()
}

on_both_backends!(
    an_open_case_keeps_the_routine_it_was_opened_under,
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let first = comment(&app, "c-old", "Varför plogar ni inte?").await;
        let moderator = app.token("moderator", "moderator").await;
        let second_moderator = app.token("moderator-2", "moderator").await;
        let old_case = report_s2(&app, &moderator, first).await;
        // A case closed under the shipped routines.
        let done = comment(&app, "c-done", "Ni är idioter").await;
        let closed_case = report_s2(&app, &moderator, done).await;
        for body in [
            json!({"step": "hide"}),
            json!({"step": "notify_poster", "text": "Ringde", "send": false}),
        ] {
            assert_eq!(
                step(&app, &moderator, closed_case, body).await.status(),
                201
            );
        }
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/moderation/cases/{closed_case}/close"),
                json!({"decision": "Dold, personen informerad"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let shipped = std::fs::read_to_string("config/routines.toml").unwrap();
        let version = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{old_case}"))
            .await["case"]["routine_version"]
            .as_str()
            .unwrap()
            .to_string();
        // The municipality changes S2 (the notice to the poster is no longer a step), S4 (a new
        // title, due sooner) and the wording of a notice.
        let changed: String = shipped
            .lines()
            .filter(|l| !l.contains("kind = \"notify_poster\""))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace(
                "Uppenbart brottsligt enligt BBS-lagen",
                "Brott enligt BBS-lagen (ny lydelse)",
            )
            .replace("due_minutes = 60\n", "due_minutes = 30\n")
            .replace(
                "Hej! Vi har dolt din kommentar eftersom den innehöll kränkande ord.",
                "Hej! Din kommentar är dold (ny lydelse).",
            );
        for new in ["ny lydelse)", "due_minutes = 30", "Din kommentar är dold"] {
            assert!(changed.contains(new), "the test edits the routines: {new}");
        }
        assert!(!changed.contains("notify_poster\""));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("routines.toml");

        // Changed routines under the same version are refused at start, with what to do.
        std::fs::write(&file, &changed).unwrap();
        app.stop().await;
        app.settings.routines_file = file.clone();
        let refused = tavla::app::Application::build(app.settings.clone()).await;
        let error = refused
            .err()
            .expect("changed routines with the old version")
            .to_string();
        assert!(error.contains("new `version`"), "{error}");

        std::fs::write(
            &file,
            changed.replace(&format!("version = \"{version}\""), "version = \"test-2\""),
        )
        .unwrap();
        app.start().await;
        let steps = |view: &Value| -> Vec<String> {
            view["routine"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["kind"].as_str().unwrap().to_string())
                .collect()
        };
        let old_view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{old_case}"))
            .await;
        assert_eq!(old_view["case"]["routine_version"], version.as_str());
        assert!(steps(&old_view).contains(&"notify_poster".to_string()));
        assert!(old_view["missing"].to_string().contains("notify_poster"));
        // The case shows its routine as staff read it, in the text of its version, and the
        // notices of its version.
        let text = old_view["routine_text"].as_str().unwrap();
        assert!(
            text.contains("## S2") && text.contains("Meddela den som skrev"),
            "{text}"
        );
        assert!(old_view["notices"]
            .to_string()
            .contains("eftersom den innehöll kränkande ord"));
        // The closed case still shows what applied when it was handled.
        let closed_view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{closed_case}"),
            )
            .await;
        assert_eq!(closed_view["case"]["routine_version"], version.as_str());
        assert!(steps(&closed_view).contains(&"notify_poster".to_string()));
        assert!(closed_view["routine_text"]
            .as_str()
            .unwrap()
            .contains("Meddela den som skrev"));

        let second = comment(&app, "c-new", "Varför sandar ni inte?").await;
        let new_case = report_s2(&app, &moderator, second).await;
        let new_view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{new_case}"))
            .await;
        assert_eq!(new_view["case"]["routine_version"], "test-2");
        assert!(!steps(&new_view).contains(&"notify_poster".to_string()));
        assert!(new_view["notices"]
            .to_string()
            .contains("Din kommentar är dold"));
        // The old case still takes the step its routine has, with its version's notice; the
        // new one refuses it.
        let taken = step(
            &app,
            &moderator,
            old_case,
            json!({"step": "notify_poster", "template": "kränkande", "send": false}),
        )
        .await;
        assert_eq!(taken.status(), 201);
        let old_view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{old_case}"))
            .await;
        assert!(
            old_view["steps"]
                .to_string()
                .contains("eftersom den innehöll kränkande ord"),
            "{}",
            old_view["steps"]
        );
        let refused = step(
            &app,
            &moderator,
            new_case,
            json!({"step": "notify_poster", "text": "Hej", "send": false}),
        )
        .await;
        assert_eq!(refused.status(), 422);

        // Raised to S4, the old case walks its own version's S4 routine: the old title, due
        // within the old hour.
        let before_raise = chrono::Utc::now().timestamp_millis();
        let r = app
            .post(
                &second_moderator,
                &format!("/api/v1/messages/{first}/report"),
                json!({"reason": "Hot", "level": "S4"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let raised = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{old_case}"))
            .await;
        assert_eq!(raised["case"]["level"], "S4");
        assert_eq!(raised["case"]["routine_version"], version.as_str());
        assert_eq!(
            raised["routine"]["title_sv"],
            "Uppenbart brottsligt enligt BBS-lagen (olaga hot, hets mot folkgrupp …)"
        );
        let due = raised["case"]["due_at"].as_i64().unwrap();
        assert!(
            due >= before_raise + 60 * 60_000,
            "due within the old routine's hour, not the new half hour"
        );
    }
);

on_both_backends!(
    a_case_or_message_that_is_not_there_answers_not_found,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        let missing = 987_654;
        let r = step(&app, &moderator, missing, json!({"step": "hide"})).await;
        assert_eq!(r.status(), 404, "a step on a missing case");
        let detail = r.json::<Value>().await.unwrap()["detail"].to_string();
        assert!(detail.contains(&missing.to_string()), "{detail}");
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/moderation/cases/{missing}/close"),
                json!({"decision": "Dold"}),
            )
            .await;
        assert_eq!(r.status(), 404, "closing a missing case");
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{missing}/report"),
                json!({"reason": "Hot", "level": "S2"}),
            )
            .await;
        assert_eq!(r.status(), 404, "reporting a missing message");
    }
);
