//! Several roles per person in the browser (issue 19 item 4): an administrator ticks a second
//! role for a person by keyboard alone (Tab to the checkbox, Space, Enter on the button), sees
//! what each role gives and which training it still lacks; the person's own page shows the same.
//! axe stays clean on both.

use super::browser::{self, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_gives_a_second_role_by_keyboard_and_each_role_shows_what_it_gives() {
    let app = browser::app().await;
    browser::staff(&app, "adam", "admin").await;
    // Maja is a communicator, trained for everything but choosing images, which answering
    // comments needs and moderating does not.
    let maja = browser::staff(&app, "maja", "communicator").await;
    sqlx::query("delete from training_completions where staff_id = $1 and module = 'image-choice'")
        .bind(maja)
        .execute(&app.store.pool)
        .await
        .unwrap();
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("adam").await;
    b.goto(&format!("/#/admin/staff/{maja}")).await;
    b.wait_text("#person-heading", "maja").await;
    b.wait_text("#person-gives", "kommunikatör").await;
    let ticked = b
        .js(
            "return document.getElementById('person-role-communicator').checked",
            vec![],
        )
        .await;
    assert_eq!(ticked, serde_json::json!(true));

    // By keyboard: from the communicator checkbox, Tab to the moderator's, Space, then to Save.
    b.js(
        "document.getElementById('person-role-communicator').focus()",
        vec![],
    )
    .await;
    b.press("\u{E004}").await; // Tab
    assert_eq!(b.focused_id().await, "person-role-moderator");
    b.press(" ").await;
    b.js(
        "document.getElementById('person-roles-save').focus()",
        vec![],
    )
    .await;
    b.press("\u{E007}").await; // Enter
    b.wait_text("#person-status", "sparad").await;
    let gives = b.wait_text("#person-gives", "moderator").await;
    assert!(
        gives.contains("Moderera"),
        "what the moderator role gives: {gives}"
    );
    assert!(
        gives.contains("väntar på utbildning: Bildval"),
        "answering comments still waits for its training: {gives}"
    );
    assert!(
        gives.contains("klar att användas"),
        "moderating is ready: {gives}"
    );
    let roles: Vec<String> =
        sqlx::query_scalar("select role from staff_roles where staff_id = $1 order by role")
            .bind(maja)
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(roles, ["communicator", "moderator"]);
    b.audit("the person's roles as checkboxes").await;
    b.close().await;

    // Maja's own page shows what each of her roles gives.
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("maja").await;
    b.goto("/#/training").await;
    let own = b.wait_text("#training-roles", "moderator").await;
    assert!(
        own.contains("kommunikatör") && own.contains("klar att användas"),
        "{own}"
    );
    b.audit("my roles and what they give").await;
    browser::assert_no_csp_violations(&app).await;
}
