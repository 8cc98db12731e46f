//! Search synonyms in the browser: an administrator adds, changes and removes a group with the
//! keyboard alone, in Swedish and in English (a term with markup shows as text), and an agent's
//! search then says which synonyms it also looked for. axe and the CSP counter stay clean.

use fantoccini::key::Key;

use super::browser::{self, Browser};
use super::{dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_keeps_synonym_groups_by_keyboard_and_searches_follow_them() {
    let app = browser::app().await;
    super::channel(&app).await;
    ingest(
        &app,
        vec![dm(
            "y1",
            "p1",
            "Vera Holm",
            "Soporna har inte hämtats på en vecka.",
            10,
        )],
    )
    .await;
    browser::staff(&app, "adam", "admin").await;
    browser::staff(&app, "sanna", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("adam").await;
    b.goto("/#/synonyms").await;
    b.catch_errors().await;
    b.wait_text("#synonym-groups", "Inga grupper").await;
    b.audit("search synonyms, none yet").await;

    // Add: type the terms and press Enter in the field.
    b.find("#synonym-new").await.click().await.unwrap();
    b.press("sopor, avfall, hushållsavfall, <b>kärl</b>").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("#synonym-status", "Gruppen är tillagd").await;
    let groups = b.wait_text("#synonym-groups", "sopor ~ avfall").await;
    assert!(groups.contains("<b>kärl</b>"), "a term is text: {groups}");
    let made = b
        .js(
            "return document.querySelectorAll('#synonym-groups b').length",
            vec![],
        )
        .await;
    assert_eq!(made, serde_json::json!(0), "no <b> was made");
    b.audit("search synonyms, one group").await;

    // Change: Enter on the group's change button, the field takes focus, Enter saves.
    let id: i64 = sqlx::query_scalar("select id from synonym_groups")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    b.js(
        "document.getElementById(arguments[0]).focus()",
        vec![serde_json::json!(format!("synonym-edit-{id}"))],
    )
    .await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_for("the field to take focus", || async {
        (b.focused_id().await == format!("synonym-field-{id}")).then_some(())
    })
    .await;
    b.audit("changing a synonym group").await;
    b.js(
        "const f = document.getElementById(arguments[0]); f.select();",
        vec![serde_json::json!(format!("synonym-field-{id}"))],
    )
    .await;
    b.press("sopor, avfall, hushållsavfall").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("#synonym-status", "Gruppen är ändrad").await;
    let groups = b.wait_text("#synonym-groups", "hushållsavfall").await;
    assert!(!groups.contains("<b>"), "{groups}");

    // In English too.
    b.find("#top-tools button[lang=en]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#synonyms-heading", "Search synonyms").await;
    b.wait_text("#synonym-groups", "last changed by adam").await;
    b.audit("search synonyms in English").await;

    // An agent's search for avfall finds "soporna" and says why.
    b.find("#top-tools button[lang=sv]")
        .await
        .click()
        .await
        .unwrap();
    sign_out_and_in(&b, "sanna").await;
    b.goto("/#/search/q%3Davfall").await;
    b.wait_text("#search-results", "Soporna").await;
    b.wait_text(
        "#search-synonyms",
        "Sökte också efter: sopor, hushållsavfall",
    )
    .await;
    b.audit("a search widened by synonyms").await;

    // Removed by keyboard: the search no longer widens.
    sign_out_and_in(&b, "adam").await;
    b.goto("/#/synonyms").await;
    b.wait_text("#synonym-groups", "sopor ~ avfall").await;
    b.js(
        "document.getElementById(arguments[0]).focus()",
        vec![serde_json::json!(format!("synonym-remove-{id}"))],
    )
    .await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("#synonym-status", "Gruppen är borttagen").await;
    b.wait_text("#synonym-groups", "Inga grupper").await;
    assert_eq!(b.focused_id().await, "synonym-new");
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// Signs out with the console's button, then in as someone else.
async fn sign_out_and_in(b: &Browser, username: &str) {
    super::actions::click(b, "#top-tools button.secondary").await;
    b.find("#signin-username").await;
    b.sign_in(username).await;
}
