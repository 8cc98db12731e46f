//! Moderation in the browser: an S4 case walked step by step by keyboard-reachable forms, the
//! plain-words refusals (a police report without its reference, closing too early, confirming
//! one's own removal), a second moderator confirming, and closing. The message carries an XSS
//! payload that must show as text; axe and the CSP counter stay clean.

use serde_json::{json, Value};

use super::actions::{self, click, fill, XSS};
use super::browser::{self, Browser};
use super::{channel, ingest, PAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_moderators_walk_an_s4_case_to_closing() {
    // An on-call receiver nobody answers: the case shows its alert being retried.
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.moderation_alert_url = "http://127.0.0.1:9/jour".to_string().into();
    })
    .await
    .expect("sqlite is always there");
    channel(&app).await;
    let text = format!("Ni borde alla skjutas, vi vet var ni bor {XSS}");
    ingest(
        &app,
        vec![json!({
            "platform": "facebook", "channel": PAGE, "kind": "comment", "id": "hot1",
            "author": {"id": "troll", "name": format!("Troll {XSS}")}, "text": text,
            "time": chrono::Utc::now().timestamp_millis() - 60_000, "post_id": format!("{PAGE}_1"),
        })],
    )
    .await;
    let message: i64 = sqlx::query_scalar("select id from messages where platform_id = 'hot1'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let reporter = app.token("rapportor", "communicator").await;
    let r = app
        .post(
            &reporter,
            &format!("/api/v1/messages/{message}/report"),
            json!({"reason": format!("Hot {XSS}"), "level": "S4"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let case = r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap();
    // A second case with a register step, to move to while a draft is typed.
    ingest(
        &app,
        vec![json!({
            "platform": "facebook", "channel": PAGE, "kind": "comment", "id": "hot2",
            "author": {"id": "troll2", "name": "Troll två"}, "text": "Vi vet var du bor, akta dig",
            "time": chrono::Utc::now().timestamp_millis() - 30_000, "post_id": format!("{PAGE}_1"),
        })],
    )
    .await;
    let second: i64 = sqlx::query_scalar("select id from messages where platform_id = 'hot2'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let r = app
        .post(
            &reporter,
            &format!("/api/v1/messages/{second}/report"),
            json!({"reason": "Hot", "level": "S4"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let other = r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap();
    browser::staff(&app, "mona", "moderator").await;
    browser::staff(&app, "mats", "moderator").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("mona").await;
    b.goto("/#/moderation").await;
    b.catch_errors().await;
    let queue = b.wait_text("#mod-queue", "S4").await;
    assert!(queue.contains("<img src=x"), "the preview is text: {queue}");
    assert!(queue.contains("ska vara klart om"), "{queue}");
    b.audit("the moderation queue").await;

    click(&b, &format!("#mod-queue a[data-id='{case}']")).await;
    b.wait_text("#case-text", "<img src=x onerror").await;
    b.wait_text("#case-steps", "Bekräftelse av en andra moderator")
        .await;
    b.wait_text("#case-missing", "Kvar innan ärendet kan stängas")
        .await;
    b.wait_text("#case-alert", "Jourlarm").await;
    b.audit("an S4 case").await;

    // A draft belongs to its case: a reference half typed here is not in another case's form.
    fill(&b, "#step-register-reference", "KS-utkast").await;
    b.goto(&format!("/#/moderation/{other}")).await;
    b.wait_text("#case-heading", &format!("Ärende {other}"))
        .await;
    let draft = b
        .js(
            "return document.querySelector('#step-register-reference')?.value ?? null",
            vec![],
        )
        .await;
    assert_eq!(draft, json!(""), "another case's form starts empty");
    b.goto(&format!("/#/moderation/{case}")).await;
    b.wait_text("#case-heading", &format!("Ärende {case}"))
        .await;

    // Evidence first; removal, registration.
    click(&b, "#step-capture_evidence-do").await;
    b.wait_text("#case-status", "Säkra bevis").await;
    b.wait_text("#case-verified", "oförändrat").await;
    click(&b, "#step-remove-do").await;
    b.wait_text("#step-remove", "Klart: mona").await;
    b.wait_text("#case-state", "borttagen").await;
    // The removal goes to the platform through the outbox (no delivery runs in tests).
    b.wait_text("#step-remove-delivery", "väntar på att skickas")
        .await;
    fill(&b, "#step-register-reference", "KS 2026/118").await;
    click(&b, "#step-register-do").await;
    b.wait_text("#step-register", "KS 2026/118").await;

    // A police report needs its reference: said before anything is sent.
    click(&b, "#step-police_report-do").await;
    b.wait_text("#case-status", "diarienummer").await;
    fill(&b, "#step-police_report-reference", "5000-K123456-26").await;
    // A colleague records the optional incident report meanwhile: the live update re-renders
    // the case, and the reference being typed stays.
    let colleague = app.token("kollega", "moderator").await;
    let r = app
        .post(
            &colleague,
            &format!("/api/v1/moderation/cases/{case}/steps"),
            json!({"step": "incident_report"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    b.wait_text("#step-incident_report", "Klart: kollega").await;
    click(&b, "#step-police_report-do").await;
    b.wait_text("#step-police_report", "5000-K123456-26").await;
    click(&b, "#step-block-do").await;
    b.wait_text("#step-block", "Klart: mona").await;

    // Closing now is refused, and the page says what is missing in the routine's words.
    fill(
        &b,
        "#case-decision",
        "Hot: borttaget, registrerat, polisanmält, blockerat.",
    )
    .await;
    click(&b, "#case-close").await;
    b.wait_text("#case-close-status", "kan inte stängas ännu")
        .await;
    b.wait_text("#case-close-status", "Bekräftelse av en andra moderator")
        .await;
    // The one who removed it cannot confirm it.
    click(&b, "#step-second_confirmation-do").await;
    b.wait_text("#case-status", "annan moderator").await;
    b.audit("a case with a refusal shown").await;
    actions::assert_inert(&b).await;

    // The second moderator, at another computer, confirms and closes.
    b.close().await;
    let b = Browser::start(&app).await.expect("a second browser");
    b.sign_in("mats").await;
    b.goto(&format!("/#/moderation/{case}")).await;
    b.wait_text("#case-steps", "Klart: mona").await;
    click(&b, "#step-second_confirmation-do").await;
    b.wait_text("#step-second_confirmation", "Klart: mats")
        .await;
    b.wait_text("#case-missing", "Allt som rutinen kräver är gjort")
        .await;
    fill(
        &b,
        "#case-decision",
        "Hot: borttaget, registrerat, polisanmält, blockerat.",
    )
    .await;
    b.js(
        "document.querySelector('#case-judgement').value = 'threat'",
        vec![],
    )
    .await;
    click(&b, "#case-close").await;
    b.wait_text("#case-closed", "Beslut").await;

    let token = app.token("kontroll", "moderator").await;
    let detail = app
        .get_json(&token, &format!("/api/v1/moderation/cases/{case}"))
        .await;
    assert_eq!(detail["case"]["status"], "closed", "{detail}");
    let judged: Option<String> =
        sqlx::query_scalar("select decided_categories from moderation_cases where id = $1")
            .bind(case)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(
        judged.as_deref(),
        Some("[\"threat\"]"),
        "the moderator's judgement"
    );
    assert!(detail["missing"].as_array().unwrap().is_empty());
    let steps: Vec<&str> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in [
        "capture_evidence",
        "remove",
        "register",
        "police_report",
        "block",
        "second_confirmation",
    ] {
        assert!(steps.contains(&step), "{step} in {steps:?}");
    }
    actions::assert_inert(&b).await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
