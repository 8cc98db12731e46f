//! Administration in the browser: an administrator adds a staff member, signs off training,
//! adds a service account for an integration and rotates and revokes its token, registers and
//! approves a channel (its quarantined message is released), and reads the audit trail. A
//! channel name with an XSS payload shows as text; axe and the CSP counter stay clean.

use serde_json::{json, Value};

use super::actions::{self, click, fill, XSS};
use super::browser::{self, Browser};
use super::ingest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_staff_grants_training_and_approves_a_channel() {
    let app = browser::app().await;
    app.register_channel("facebook", "100000000000001", &format!("Kommunen {XSS}"))
        .await;
    // A message for a page nobody registered waits in quarantine.
    ingest(
        &app,
        vec![json!({
            "platform": "facebook", "channel": "300000000000003", "kind": "comment", "id": "q1",
            "author": {"id": "p1", "name": "Vera"}, "text": "Finns det lediga tider?",
            "time": chrono::Utc::now().timestamp_millis() - 60_000, "post_id": "300000000000003_1",
        })],
    )
    .await;
    browser::staff(&app, "adam", "admin").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("adam").await;
    b.goto("/#/admin").await;
    b.catch_errors().await;
    b.wait_text("#staff-table", "adam").await;
    let channels = b.wait_text("#channel-table", "Kommunen").await;
    assert!(channels.contains("<img src=x"), "{channels}");
    b.wait_text("#admin-quarantine", "300000000000003").await;
    b.audit("the administration view").await;

    // Add a communicator; a too short password is refused in plain words first.
    click(&b, "#staff-add-open").await;
    fill(&b, "#staff-username", "nyinge").await;
    click(&b, "#staff-role-communicator").await;
    fill(&b, "#staff-password", "kort").await;
    click(&b, "#staff-add").await;
    b.wait_text("#staff-add-status", "minst 12 tecken").await;
    fill(&b, "#staff-password", "ett långt lösenord för inge").await;
    click(&b, "#staff-add").await;
    b.wait_text("#person-heading", "nyinge").await;
    b.wait_text("#person-can", "ingenting ännu").await;
    b.audit("a new staff member").await;

    // Sign off the training see_faq needs.
    click(&b, "#person-m-social-media-basics").await;
    click(&b, "#person-training-save").await;
    b.wait_text("#person-status", "social-media-basics").await;
    b.wait_text("#person-can", "Se FAQ-signaler").await;
    let id: i64 = sqlx::query_scalar("select id from staff where username = 'nyinge'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let admin = app.token("kontroll", "admin").await;
    let training = app
        .get_json(&admin, &format!("/api/v1/staff/{id}/training"))
        .await;
    assert!(
        training["training"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("see_faq")),
        "{training}"
    );

    // A person's token is theirs to create: the administrator is offered only revoking.
    assert!(b.text("#person-token-create").await.is_none());

    // An integration gets a service account: its token is shown once and works; a new one
    // ends it; revoked, the new one stops working too.
    click(&b, "#service-add-open").await;
    fill(&b, "#service-name", "crm-import").await;
    click(&b, "#service-add").await;
    let first = b.wait_text("#service-token-value", "tavla_").await;
    let me: Value = app.get_json(first.trim(), "/api/v1/me").await;
    assert_eq!(me["username"], "service:crm-import");
    assert_eq!(me["role"], "integration");
    b.wait_text("#person-heading", "service:crm-import").await;
    b.wait_text("#person-service", "Tjänstekonto").await;
    b.audit("a service account").await;
    click(&b, "#person-token-create").await;
    let token = b.wait_text("#person-token-value", "tavla_").await;
    assert_eq!(app.get(first.trim(), "/api/v1/me").await.status(), 401);
    assert_eq!(app.get(token.trim(), "/api/v1/me").await.status(), 200);
    click(&b, "#person-token-revoke").await;
    b.wait_text("#person-token", "1 nyckel återkallad").await;
    assert_eq!(app.get(token.trim(), "/api/v1/me").await.status(), 401);

    // Register the page of the quarantined message and approve it: the message is released.
    b.goto("/#/admin").await;
    click(&b, "#channel-add-open").await;
    fill(&b, "#channel-platform-id", "300000000000003").await;
    fill(&b, "#channel-name", "Biblioteket").await;
    click(&b, "#channel-add").await;
    b.wait_text("#channel-add-status", "Biblioteket").await;
    let approve = b
        .wait_js(
            "the approve button",
            "const b = [...document.querySelectorAll('#channel-table button')].find(b => b.textContent.includes('Biblioteket'));
             return b ? b.id : null;",
        )
        .await;
    click(&b, &format!("#{}", approve.as_str().unwrap())).await;
    b.wait_text("#channel-status", "1 väntande meddelande släpptes")
        .await;
    b.wait_text("#admin-quarantine", "Inget väntar").await;

    // The audit trail shows what was done.
    click(&b, "#nav a[href='#/audit']").await;
    b.wait_text("#audit-table", "staff.added").await;
    fill(&b, "#audit-action", "token.revoked").await;
    click(&b, "#audit-search").await;
    b.wait_for("only revocations", || async {
        let text = b.text("#audit-table tbody").await?;
        (text.contains("token.revoked") && !text.contains("staff.added")).then_some(())
    })
    .await;
    b.audit("the audit trail").await;

    actions::assert_inert(&b).await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
