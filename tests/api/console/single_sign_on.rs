//! Single sign-on in the browser: with local passwords off, the sign-in page offers only
//! "Logga in med <provider>", reached by keyboard; the stand-in provider signs the person in and
//! sends the browser back, and the console is signed in with a session that can make changes
//! (its CSRF token came in the address's fragment, which the console then removes).

use fantoccini::key::Key;
use serde_json::json;

use super::browser::{self, Browser};
use crate::helpers::{Backend, TestApp};
use crate::oidc::Idp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_through_the_organisations_provider_by_keyboard() {
    let idp = Idp::start().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        idp.configure(s);
        s.local_passwords = false;
    })
    .await
    .expect("sqlite is always there");
    idp.sign_in_browsers_as(&app.address, "agneta", &["tavla-agents"]);
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.goto("/").await;
    b.wait_text("#signin-oidc-link", "Logga in med Kommunens inloggning")
        .await;
    // Passwords are off: the form is hidden, and the link has the focus.
    let form_hidden = b
        .js(
            "return document.querySelector('form.signin').hidden",
            vec![],
        )
        .await;
    assert_eq!(form_hidden, json!(true));
    b.wait_for("the link to have the focus", || async {
        (b.focused_id().await == "signin-oidc-link").then_some(())
    })
    .await;
    b.audit("the sign-in page with single sign-on").await;
    b.press(&Key::Enter.to_string()).await;
    // Back from the provider: signed in as the provider's person, untrained (training first).
    b.find("#nav a").await;
    b.catch_errors().await;
    let hash = b.js("return location.hash", vec![]).await;
    assert!(
        !hash.as_str().unwrap_or("").contains("signed-in"),
        "the CSRF token is taken out of the address: {hash}"
    );
    let (staff_id, role): (i64, String) =
        sqlx::query_as("select id, role from staff where username = 'agneta'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(role, "agent");
    // A change with the session: signing out needs the CSRF token from the fragment.
    super::actions::click(&b, "#top-tools button.secondary").await;
    b.find("#signin-oidc-link").await;
    b.wait_for("the session to end", || async {
        let ended: i64 = sqlx::query_scalar(
            "select count(*) from sessions where staff_id = $1 and ended_at is not null",
        )
        .bind(staff_id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        (ended == 1).then_some(())
    })
    .await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
