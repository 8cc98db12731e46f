//! The whole inbox flow by keyboard: sign in, next conversation, claim, reply, resolve; the
//! reply lands in the outbox and the status in the store. Also: the accessibility audit of the
//! sign-in page, the inbox and the training view, and live updates.

use fantoccini::key::Key;
use serde_json::Value;

use super::browser::{self, Browser};
use super::{channel, dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_claims_replies_and_resolves_by_keyboard() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![
            dm(
                "m1",
                "p1",
                "Anna Lindqvist",
                "När töms soporna i Norrby?",
                30,
            ),
            dm(
                "m2",
                "p2",
                "Mehmet Yilmaz",
                "Hur söker jag parkeringstillstånd?",
                10,
            ),
        ],
    )
    .await;
    let agneta = browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };

    b.goto("/").await;
    b.find("#signin-username").await;
    b.audit("the sign-in page").await;
    // A wrong password is said in plain words, and focus stays in the form.
    b.find("#signin-username")
        .await
        .send_keys("agneta")
        .await
        .unwrap();
    b.find("#signin-password")
        .await
        .send_keys("fel lösenord")
        .await
        .unwrap();
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("#signin-errors", "Fel användarnamn eller lösenord")
        .await;
    b.find("#signin-password")
        .await
        .send_keys(browser::PASSWORD)
        .await
        .unwrap();
    b.press(&Key::Enter.to_string()).await;
    b.find("#nav a").await;
    b.catch_errors().await;

    // The oldest waiting person comes first.
    let first = b.wait_text("#queue", "Anna Lindqvist").await;
    assert!(
        first.find("Anna").unwrap() < first.find("Mehmet").unwrap(),
        "{first}"
    );
    b.wait_text("#queue-count", "2 av 2").await;
    b.audit("the inbox").await;

    b.find("#inbox-heading").await;
    b.press("j").await;
    b.wait_text("#conversation", "När töms soporna i Norrby?")
        .await;
    b.wait_text("#reply-window", "Svarsfönstret är öppet").await;
    b.wait_text("#announcer", "Konversation 1 av 2").await;
    b.press("c").await;
    b.wait_text("#claim-state", "Du har tagit konversationen")
        .await;
    assert_eq!(
        b.focused_id().await,
        "reply-text",
        "claiming moves to the reply"
    );
    b.audit("an open conversation").await;

    b.press("Hej Anna! Soporna töms på fredag i stället.").await;
    b.press(&format!("{}{}", Key::Control, Key::Enter)).await;
    b.wait_text("#conversation .messages", "Soporna töms på fredag")
        .await;
    b.wait_text("#announcer", "utkorgen").await;
    // The reply is in the outbox, sent by the agent, waiting for delivery.
    let conversation: i64 =
        sqlx::query_scalar("select conversation_id from messages where platform_id = 'm1'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    let token = app.token("kontroll", "agent").await;
    let detail = app
        .get_json(&token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let reply: &Value = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "outbound")
        .expect("the reply is stored");
    assert_eq!(reply["text"], "Hej Anna! Soporna töms på fredag i stället.");
    assert_eq!(reply["sent_by"], "agneta");
    assert_eq!(reply["delivery"], "pending");

    // e resolves (focus is back on the page, not in the field) and moves on to the next person.
    b.js("document.activeElement.blur()", vec![]).await;
    b.press("e").await;
    b.wait_text("#announcer", "löst").await;
    b.wait_text("#conversation", "Hur söker jag parkeringstillstånd?")
        .await;
    let status: String = sqlx::query_scalar("select status from conversations where id = $1")
        .bind(conversation)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(status, "resolved");
    b.wait_text("#queue-count", "1 av 1").await;

    // The help lists the shortcuts.
    b.js("document.activeElement.blur()", vec![]).await;
    b.press("?").await;
    b.wait_text("dialog.help", "Ctrl+Enter").await;
    b.audit("the keyboard help").await;
    b.press(&Key::Escape.to_string()).await;

    // A new message arrives live, without reloading.
    ingest(
        &app,
        vec![dm(
            "m3",
            "p3",
            "Karin Berg",
            "Har biblioteket öppet på lördag?",
            0,
        )],
    )
    .await;
    b.wait_text("#queue", "Karin Berg").await;

    // Swedish by default, English by the switch (kept after a reload).
    b.find("#top-tools button[lang=en]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#inbox-heading", "Inbox").await;
    b.client.refresh().await.unwrap();
    b.wait_text("#inbox-heading", "Inbox").await;

    let nav = b.text("#nav").await.unwrap_or_default();
    assert!(!nav.contains("FAQ"), "an agent has no FAQ signals: {nav}");
    // A role change ends the session: a reload must not keep showing the inbox from the
    // remembered identity, but ask to sign in; signed in again, agneta is a communicator.
    let admin = app.token("chefen", "admin").await;
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/staff/{agneta}")))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"role": "communicator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.client.refresh().await.unwrap();
    b.find("#signin-username").await;
    assert!(b.text("#inbox-heading").await.is_none(), "no inbox shown");
    assert!(b.text("#queue").await.is_none(), "no queue shown");
    b.sign_in("agneta").await;
    b.wait_text("#nav", "FAQ").await;

    b.goto("/#/training").await;
    b.wait_text("#training-heading", "My training").await;
    b.audit("the training view").await;

    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrained_newcomer_sees_what_training_is_missing() {
    let app = browser::app().await;
    let hash = tavla::access::hash_password(browser::PASSWORD).unwrap();
    app.store
        .add_staff("nyanstalld", "agent", Some(&hash), &crate::helpers::actor())
        .await
        .unwrap();
    // Someone else guessed this account's password five times: the page says until when.
    browser::staff(&app, "utelast", "agent").await;
    for _ in 0..5 {
        let r = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&serde_json::json!({"username": "utelast", "password": "gissning"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.goto("/").await;
    b.find("#signin-username")
        .await
        .send_keys("utelast")
        .await
        .unwrap();
    b.find("#signin-password")
        .await
        .send_keys(browser::PASSWORD)
        .await
        .unwrap();
    b.press(&Key::Enter.to_string()).await;
    let locked = b
        .wait_text("#signin-errors", "För många misslyckade inloggningar")
        .await;
    assert!(locked.contains("min (kl. "), "{locked}");
    b.audit("the sign-in page with an error").await;

    b.sign_in("nyanstalld").await;
    let text = b
        .wait_text("#training-missing", "Läsa direktmeddelanden")
        .await;
    assert!(text.contains("GDPR"), "{text}");
    let nav = b.text("#nav").await.unwrap();
    assert!(
        !nav.contains("Inkorg"),
        "no inbox before the training: {nav}"
    );
    b.audit("the training view of a newcomer").await;

    // Trained meanwhile (the session goes on): a reload starts from the remembered identity and
    // follows what the service says now, so the inbox joins the navigation.
    let newcomer: i64 = sqlx::query_scalar("select id from staff where username = 'nyanstalld'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    app.train(newcomer, "all").await;
    b.client.refresh().await.unwrap();
    b.wait_text("#nav", "Inkorg").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
