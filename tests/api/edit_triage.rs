//! Every text change is triaged (issue 16): a comment posted harmless and edited into a threat
//! opens a case like a new one, an edit raises an open case and never lowers it, an edit outside
//! staffed hours is hidden until reviewed, a second edit reported at the same time is not taken
//! for a redelivery, and FAQ signals follow the new wording.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::{on_both_backends, on_both_backends_with};

const PAGE: &str = "930000000000001";

/// A comment (`verb` add or edited) by one person under one post, at `seconds`.
fn comment(verb: &str, id: &str, text: &str, seconds: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": seconds,
        "changes": [{"field": "feed", "value": {"item": "comment", "verb": verb, "comment_id": id,
        "post_id": format!("{PAGE}_1"), "parent_id": format!("{PAGE}_1"), "created_time": seconds,
        "from": {"id": "user-7", "name": "Någon"}, "message": text}}]}]}),
    )
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8]) {
    assert_eq!(app.webhook(body).await.status(), 200);
}

async fn open_cases(app: &TestApp, moderator: &str) -> Vec<Value> {
    app.get_json(moderator, "/api/v1/moderation/cases").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["status"] == "open")
        .collect()
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

on_both_backends!(
    a_comment_edited_into_a_threat_opens_a_case_that_shows_the_edit,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        let t = now_seconds();
        deliver(
            &app,
            &comment("add", "c1", "Fint att badet öppnar igen!", t),
        )
        .await;
        assert!(open_cases(&app, &moderator).await.is_empty());
        deliver(
            &app,
            &comment(
                "edited",
                "c1",
                "Jag ska döda dig, vi vet var du bor",
                t + 60,
            ),
        )
        .await;
        let open = open_cases(&app, &moderator).await;
        assert_eq!(
            open.len(),
            1,
            "the edit is triaged like a new comment: {open:?}"
        );
        assert_eq!(open[0]["source"], "triage");
        assert!(open[0]["level"].as_str().unwrap() >= "S4", "{open:?}");
        let view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", open[0]["id"]),
            )
            .await;
        let flagged = &view["triage"]["flagged_revision"];
        assert!(
            flagged["id"].is_i64(),
            "the case shows which revision was flagged: {view}"
        );
        assert_eq!(flagged["platform_time"], (t + 60) * 1000);
        assert!(
            view["case"]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("an edit"),
            "{view}"
        );
    }
);

on_both_backends!(
    an_edit_raises_an_open_case_and_a_harmless_edit_never_lowers_it,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        let t = now_seconds();
        deliver(&app, &comment("add", "c2", "Du är en jävla idiot", t)).await;
        let open = open_cases(&app, &moderator).await;
        assert_eq!(open.len(), 1, "an insult opens a case: {open:?}");
        let first_level = open[0]["level"].as_str().unwrap().to_string();
        assert!(first_level.as_str() < "S4", "{open:?}");
        deliver(&app, &comment("edited", "c2", "Jag ska döda dig", t + 30)).await;
        let raised = open_cases(&app, &moderator).await;
        assert_eq!(
            raised.len(),
            1,
            "the same case, not a second one: {raised:?}"
        );
        assert_eq!(raised[0]["id"], open[0]["id"]);
        assert!(raised[0]["level"].as_str().unwrap() >= "S4", "{raised:?}");
        deliver(
            &app,
            &comment("edited", "c2", "Förlåt, jag var arg.", t + 90),
        )
        .await;
        let kept = open_cases(&app, &moderator).await;
        assert_eq!(
            kept[0]["level"], raised[0]["level"],
            "an edit never lowers a case"
        );
        let severity: String =
            sqlx::query_scalar("select f.severity from message_flags f join messages m on m.id = f.message_id where m.platform_id = 'c2'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(Some(severity.as_str()), raised[0]["level"].as_str());
        let audited: i64 = sqlx::query_scalar(
            "select count(*) from audit where action = 'moderation.case_retriaged'",
        )
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(
            audited, 1,
            "the raise is audited as triage's, not as a report"
        );
    }
);

on_both_backends!(
    a_second_edit_reported_at_the_same_time_is_triaged_too,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        let t = now_seconds();
        deliver(&app, &comment("add", "c3", "Hej!", t)).await;
        // Meta may report the comment's own time for each edit: the second must not be taken
        // for a redelivery of the first.
        deliver(&app, &comment("edited", "c3", "Hej hej!", t)).await;
        deliver(&app, &comment("edited", "c3", "Jag ska döda dig", t)).await;
        let open = open_cases(&app, &moderator).await;
        assert_eq!(open.len(), 1, "{open:?}");
        let text: Option<String> =
            sqlx::query_scalar("select text from messages where platform_id = 'c3'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(
            text.as_deref(),
            Some("Jag ska döda dig"),
            "the later edit is the text"
        );
    }
);

on_both_backends_with!(
    an_edit_into_a_threat_outside_staffed_hours_is_hidden_until_reviewed,
    |s: &mut tavla::settings::Settings| {
        // Never staffed: every moment is off-hours.
        s.staffed_from = "00:00".into();
        s.staffed_to = "00:00".into();
    },
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let t = now_seconds();
        deliver(&app, &comment("add", "c4", "Vilket fint väder", t)).await;
        deliver(&app, &comment("edited", "c4", "Jag ska döda dig", t + 5)).await;
        let state: String =
            sqlx::query_scalar("select state from messages where platform_id = 'c4'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(
            state, "hidden",
            "hidden at once, reversibly, until a moderator reviews it"
        );
        let hides: i64 = sqlx::query_scalar("select count(*) from outbox where action = 'hide'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(hides, 1, "and on the platform");
    }
);

on_both_backends!(
    faq_signals_follow_an_edit_to_its_new_wording,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        let t = now_seconds();
        let questions = [
            "Hur länge är Storgatan avstängd?",
            "Hur länge blir Storgatan avstängd för bilar?",
            "Hur länge kommer Storgatan vara avstängd?",
        ];
        for (i, q) in questions.iter().enumerate() {
            let body = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": PAGE, "time": t,
                "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add",
                "comment_id": format!("q{i}"), "post_id": format!("{PAGE}_1"), "created_time": t - i as i64,
                "from": {"id": format!("asker-{i}")}, "message": q}}]}]}))
            .unwrap();
            deliver(&app, &body).await;
        }
        let storgatan = |items: &[Value]| {
            items
                .iter()
                .filter(|c| {
                    c["label"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("Storgatan")
                })
                .map(|c| c["count"].as_i64().unwrap_or(0))
                .max()
                .unwrap_or(0)
        };
        let clusters = |app: &TestApp| {
            let token = communicator.clone();
            let app_url = app.url("/api/v1/faq/clusters?period=week");
            let client = app.client.clone();
            async move {
                let v: Value = client
                    .get(app_url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v["items"].as_array().cloned().unwrap_or_default()
            }
        };
        let mut seen = 0;
        for _ in 0..100 {
            seen = storgatan(&clusters(&app).await);
            if seen == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen, 3, "three questions about Storgatan");
        let edit = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": PAGE, "time": t,
            "changes": [{"field": "feed", "value": {"item": "comment", "verb": "edited",
            "comment_id": "q0", "post_id": format!("{PAGE}_1"), "created_time": t + 60,
            "from": {"id": "asker-0"}, "message": "När öppnar simhallen igen efter renoveringen?"}}]}]}))
        .unwrap();
        deliver(&app, &edit).await;
        for _ in 0..100 {
            seen = storgatan(&clusters(&app).await);
            if seen == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            seen, 2,
            "the edited question left Storgatan's cluster for its new wording"
        );
    }
);
