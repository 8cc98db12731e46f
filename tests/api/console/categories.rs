//! The category list in the browser: an administrator adds, renames, archives and restores
//! categories with the keyboard alone, in Swedish and in English (a name with markup shows as
//! text); the store holds what the page said. axe and the CSP counter stay clean.

use fantoccini::key::Key;

use super::browser::{self, Browser};

async fn focus_and_enter(b: &Browser, id: &str) {
    b.js(
        "document.getElementById(arguments[0]).focus()",
        vec![serde_json::json!(id)],
    )
    .await;
    b.press(&Key::Enter.to_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_keeps_the_category_list_by_keyboard() {
    let app = browser::app().await;
    browser::staff(&app, "adam", "admin").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("adam").await;
    b.goto("/#/categories").await;
    b.catch_errors().await;
    b.wait_text("#category-list", "Inga kategorier").await;
    b.audit("categories, none yet").await;

    for name in ["avfall", "<b>skola</b>"] {
        b.find("#category-new").await.click().await.unwrap();
        b.press(name).await;
        b.press(&Key::Enter.to_string()).await;
        b.wait_text("#category-list", name).await;
    }
    b.wait_text("#category-status", "Kategorin är tillagd")
        .await;
    let made = b
        .js(
            "return document.querySelectorAll('#category-list b').length",
            vec![],
        )
        .await;
    assert_eq!(
        made,
        serde_json::json!(0),
        "a name is text, no <b> was made"
    );
    b.audit("categories, two").await;

    let id: i64 = sqlx::query_scalar("select id from categories where name = 'avfall'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    // Rename: Enter on the button, the field takes focus with the name, Enter saves.
    focus_and_enter(&b, &format!("category-rename-{id}")).await;
    b.wait_for("the field to take focus", || async {
        (b.focused_id().await == format!("category-field-{id}")).then_some(())
    })
    .await;
    b.js(
        "document.getElementById(arguments[0]).select()",
        vec![serde_json::json!(format!("category-field-{id}"))],
    )
    .await;
    b.press("avfall och återvinning").await;
    b.press(&Key::Enter.to_string()).await;
    b.wait_text("#category-status", "Namnet är ändrat").await;
    b.wait_text("#category-list", "avfall och återvinning")
        .await;
    assert_eq!(b.focused_id().await, format!("category-rename-{id}"));

    // Archive, then restore, by keyboard; the store follows.
    focus_and_enter(&b, &format!("category-archive-{id}")).await;
    b.wait_text("#category-status", "Kategorin är arkiverad")
        .await;
    b.wait_text("#category-list", "arkiverad").await;
    let archived = |app: &crate::helpers::TestApp| {
        let pool = app.store.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>("select archived_at from categories where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(archived(&app).await);
    b.audit("categories, one archived").await;
    focus_and_enter(&b, &format!("category-archive-{id}")).await;
    b.wait_text("#category-status", "Kategorin erbjuds igen")
        .await;
    assert!(!archived(&app).await);

    // In English too.
    b.find("#top-tools button[lang=en]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#categories-heading", "Categories").await;
    b.wait_text("#category-list", "Archive avfall och återvinning")
        .await;
    b.audit("categories in English").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
