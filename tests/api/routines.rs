//! Routines as the README promises: who may take each step, the platform's hide or removal and
//! the notice to the poster written with the step that decides them (both or neither), the
//! notice actually sent, one case per message however many report it, and answering comments
//! only after the training in the routines for hateful posts.

use serde_json::{json, Value};

use crate::delivery::{bench, eventually, Bench, PAGE as DELIVERY_PAGE, TOKEN};
use crate::helpers::{Backend, TestApp};
use crate::moderation::{report, step, PAGE};
use crate::on_both_backends;

const DAY: i64 = 86_400_000;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn comment_at(app: &TestApp, id: &str, text: &str, time: i64) -> i64 {
    crate::moderation::comment_at(app, id, text, json!(time)).await
}

fn step_kinds(view: &Value) -> Vec<String> {
    view["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect()
}

async fn scalar(app: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

on_both_backends!(
    each_step_says_who_may_take_it_and_the_server_holds_to_it,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        // Someone asks about their own case and gives details of it: S0, "own case details".
        let message = comment_at(
            &app,
            "own-1",
            "Hur går det med mitt bygglov? Ärendet gäller Storgatan 4",
            now() - 60_000,
        )
        .await;
        let communicator = app.token("comm", "communicator").await;
        let agent = app.token("agent", "agent").await;
        let moderator = app.token("moderator", "moderator").await;
        let case = report(&app, &communicator, message, "S0", "Egna ärendeuppgifter").await;

        // The communicator who answered records the reply step: S0's reply is theirs too.
        let r = step(
            &app,
            &communicator,
            case,
            json!({"step": "reply", "note": "Svarade i tråden"}),
        )
        .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        // Hiding is a moderator's decision: refused, naming the step and who may take it.
        let r = step(&app, &communicator, case, json!({"step": "hide"})).await;
        assert_eq!(r.status(), 403);
        let problem: Value = r.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("hide") && detail.contains("moderator") && detail.contains("S0"),
            "{detail}"
        );
        // An agent answers DMs, not comments: not this case's steps.
        let r = step(&app, &agent, case, json!({"step": "refer_secure_channel"})).await;
        assert_eq!(r.status(), 403);
        // The moderator hides; refer_secure_channel is open to the moderator as well.
        for kind in ["hide", "refer_secure_channel"] {
            let r = step(&app, &moderator, case, json!({ "step": kind })).await;
            assert_eq!(r.status(), 201, "{kind}: {}", r.text().await.unwrap());
        }
        let view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{case}"))
            .await;
        assert_eq!(
            step_kinds(&view),
            ["reply", "capture_evidence", "hide", "refer_secure_channel"]
        );
        assert_eq!(view["steps"][0]["actor"], "comm");
        // The routine shown with the case says who may take each step.
        let roles = |kind: &str| -> Vec<String> {
            view["routine"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["kind"] == kind)
                .unwrap()["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(roles("hide"), ["moderator"]);
        assert!(roles("reply").contains(&"communicator".to_string()));
        // Nothing refused was recorded.
        assert_eq!(
            scalar(
                &app,
                "select count(*) from moderation_steps where case_id = $1 and actor = 'comm'",
                case
            )
            .await,
            1
        );
    }
);

/// Makes every write to the outbox fail, as a crash or a full disk would between two writes.
async fn break_the_outbox(app: &TestApp) {
    let postgres = app.settings.database_url.expose().starts_with("postgres");
    let statements: &[&str] = if postgres {
        &[
            "create function tavla_test_no_outbox() returns trigger language plpgsql as \
             $$ begin raise exception 'the outbox is unavailable'; end $$",
            "create trigger tavla_test_no_outbox before insert on outbox \
             for each row execute function tavla_test_no_outbox()",
        ]
    } else {
        &[
            "create trigger tavla_test_no_outbox before insert on outbox \
           begin select raise(abort, 'the outbox is unavailable'); end",
        ]
    };
    for sql in statements {
        sqlx::query(sql).execute(&app.store.pool).await.unwrap();
    }
}

async fn mend_the_outbox(app: &TestApp) {
    let postgres = app.settings.database_url.expose().starts_with("postgres");
    let sql = if postgres {
        "drop trigger tavla_test_no_outbox on outbox"
    } else {
        "drop trigger tavla_test_no_outbox"
    };
    sqlx::query(sql).execute(&app.store.pool).await.unwrap();
}

on_both_backends!(
    a_step_and_what_it_sends_to_the_platform_are_written_together,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let message = comment_at(&app, "insult-1", "Ni är idioter allihop", now() - 60_000).await;
        let moderator = app.token("moderator", "moderator").await;
        let case = report(&app, &moderator, message, "S2", "Förolämpning").await;
        let view_path = format!("/api/v1/moderation/cases/{case}");

        // The outbox cannot be written: the removal is refused as a whole.
        break_the_outbox(&app).await;
        let r = step(&app, &moderator, case, json!({"step": "remove"})).await;
        assert_eq!(r.status(), 500, "{}", r.text().await.unwrap());
        let view = app.get_json(&moderator, &view_path).await;
        assert!(step_kinds(&view).is_empty(), "{}", view["steps"]);
        assert_eq!(view["message"]["state"], "visible");
        assert_eq!(
            scalar(
                &app,
                "select count(*) from outbox where message_id = $1",
                message
            )
            .await,
            0
        );
        mend_the_outbox(&app).await;

        // Now both: the step, the local removal and the platform's removal queued.
        let r = step(&app, &moderator, case, json!({"step": "remove"})).await;
        assert_eq!(r.status(), 201);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["platform"]["queued"], true, "{answer}");
        let view = app.get_json(&moderator, &view_path).await;
        assert_eq!(step_kinds(&view), ["capture_evidence", "remove"]);
        assert_eq!(view["message"]["state"], "removed");
        assert_eq!(
            scalar(
                &app,
                "select count(*) from outbox where message_id = $1 and action = 'remove'",
                message
            )
            .await,
            1
        );
        // The case shows the removal waiting for the platform.
        let removal = &view["steps"][1];
        assert_eq!(removal["delivery"]["action"], "remove", "{removal}");
        assert_eq!(removal["delivery"]["status"], "pending", "{removal}");

        // A notice that cannot be sent (the platform allows private replies for 7 days) is
        // refused with the step: nothing says the poster was told.
        let old = comment_at(&app, "insult-old", "Idioter", now() - 8 * DAY).await;
        let old_case = report(&app, &moderator, old, "S2", "Förolämpning").await;
        let r = step(
            &app,
            &moderator,
            old_case,
            json!({"step": "notify_poster", "template": "kränkande"}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let detail = r.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            detail.contains("7 days") && detail.contains("send"),
            "{detail}"
        );
        let view = app
            .get_json(&moderator, &format!("/api/v1/moderation/cases/{old_case}"))
            .await;
        assert!(step_kinds(&view).is_empty());
        assert_eq!(
            scalar(
                &app,
                "select count(*) from outbox o join messages m on m.id = o.message_id \
                 where o.action = 'private_reply' and m.parent_platform_id = \
                 (select platform_id from messages where id = $1)",
                old
            )
            .await,
            0
        );
        // Told another way, and recorded so.
        let r = step(
            &app,
            &moderator,
            old_case,
            json!({"step": "notify_poster", "text": "Ringde och förklarade reglerna", "send": false}),
        )
        .await;
        assert_eq!(r.status(), 201);
    }
);

async fn notice_scenario(b: Bench) {
    let app = &b.app;
    let body = serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": DELIVERY_PAGE, "time": now(), "changes": [{
        "field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "C_notice",
        "post_id": format!("{DELIVERY_PAGE}_9"), "parent_id": format!("{DELIVERY_PAGE}_9"),
        "from": {"id": "u-poster", "name": "Pelle"}, "message": "Ni på kommunen är idioter",
        "created_time": now() / 1000}}]}]}),
    )
    .unwrap();
    assert_eq!(app.webhook(&body).await.status(), 200);
    let message: i64 = sqlx::query_scalar("select id from messages where platform_id = 'C_notice'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let moderator = app.token("moderator", "moderator").await;
    let case = report(app, &moderator, message, "S2", "Förolämpning").await;
    let r = step(
        app,
        &moderator,
        case,
        json!({"step": "notify_poster", "template": "kränkande"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    // The platform receives a private reply to the comment, with the page's token.
    let sent = eventually("the private reply to reach the platform", || async {
        b.stub
            .changes()
            .into_iter()
            .find(|r| r.path == format!("/{DELIVERY_PAGE}/messages"))
    })
    .await;
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.body["recipient"], json!({"comment_id": "C_notice"}));
    assert!(
        sent.body["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hej! Vi har dolt din kommentar"),
        "{}",
        sent.body
    );
    assert_eq!(sent.access_token.as_deref(), Some(TOKEN));
    // The case shows that the notice went out.
    let path = format!("/api/v1/moderation/cases/{case}");
    let notice = eventually("the case to show the notice as sent", || async {
        let view = app.get_json(&moderator, &path).await;
        let notice = view["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "notify_poster")
            .cloned()
            .unwrap();
        (notice["delivery"]["status"] == "sent").then_some(notice)
    })
    .await;
    assert_eq!(notice["delivery"]["action"], "private_reply");
    assert_eq!(notice["delivery"]["attempts"], 1);
    assert_eq!(b.stub.changes().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_to_the_poster_reaches_the_platform_sqlite() {
    notice_scenario(bench(Backend::Sqlite, |_| {}).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_to_the_poster_reaches_the_platform_postgres() {
    if let Some(b) = bench(Backend::Postgres, |_| {}).await {
        notice_scenario(b).await;
    }
}

on_both_backends!(
    reports_that_arrive_together_join_one_case,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let message = comment_at(&app, "many", "Ni borde skämmas", now() - 60_000).await;
        let mut tokens = Vec::new();
        for i in 0..6 {
            tokens.push(app.token(&format!("comm-{i}"), "communicator").await);
        }
        let reports = tokens.iter().enumerate().map(|(i, token)| {
            let app = &app;
            async move {
                let r = app
                    .post(
                        token,
                        &format!("/api/v1/messages/{message}/report"),
                        json!({"reason": format!("Anmälan nummer {i}"), "level": "S2"}),
                    )
                    .await;
                assert_eq!(r.status(), 201);
                r.json::<Value>().await.unwrap()["case_id"]
                    .as_i64()
                    .unwrap()
            }
        });
        let cases = futures::future::join_all(reports).await;
        assert!(cases.iter().all(|c| *c == cases[0]), "{cases:?}");
        let moderator = app.token("moderator", "moderator").await;
        let view = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", cases[0]),
            )
            .await;
        let reason = view["case"]["reason"].as_str().unwrap();
        for i in 0..6 {
            assert!(reason.contains(&format!("Anmälan nummer {i}")), "{reason}");
        }
        assert_eq!(
            scalar(
                &app,
                "select count(*) from moderation_cases where message_id = $1",
                message
            )
            .await,
            1
        );
    }
);

on_both_backends!(
    answering_comments_needs_the_routines_for_hateful_posts,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        comment_at(&app, "q-answer", "När öppnar badhuset?", now() - 60_000).await;
        let (id, communicator) = app.untrained_token("ny-kommunikator", "communicator").await;
        for module in [
            "social-media-basics",
            "tone-and-plain-language",
            "gdpr",
            "image-choice",
        ] {
            app.train(id, module).await;
        }
        let conversation = app.conversations(&communicator, "").await[0]["id"]
            .as_i64()
            .unwrap();
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/conversations/{conversation}/replies"),
                json!({"text": "Badhuset öppnar klockan sju."}),
            )
            .await;
        assert_eq!(r.status(), 403);
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("hateful-posts-routine"),
            "{problem}"
        );
        assert_eq!(
            problem["missing_training"],
            json!(["hateful-posts-routine"])
        );
        app.train(id, "hateful-posts-routine").await;
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/conversations/{conversation}/replies"),
                json!({"text": "Badhuset öppnar klockan sju."}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
);
