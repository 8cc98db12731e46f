//! Handovers in the conversation view: who the conversation went to, by whom, when, and the note
//! (shown as text, never as markup); and an agent hands it over from the view.

use serde_json::json;

use super::actions::{assert_inert, choose, click, fill, XSS};
use super::browser::{self, Browser};
use super::{channel, dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_and_makes_handovers_in_the_conversation() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![dm(
            "m1",
            "p1",
            "Anna Lindqvist",
            "Får jag bygga en altan?",
            20,
        )],
    )
    .await;
    let conversation: i64 = sqlx::query_scalar("select id from conversations")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    // A colleague handed it over earlier, through the API, with hostile text in the note.
    let bengt = app.token("bengt", "agent").await;
    let earlier = app
        .post(
            &bengt,
            &format!("/api/v1/conversations/{conversation}/handover"),
            json!({"unit": "Miljöförvaltningen", "note": XSS}),
        )
        .await;
    assert_eq!(earlier.status(), 201);
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto(&format!("/#/inbox/{conversation}")).await;
    let list = b
        .wait_text("#handover-list", "Till Miljöförvaltningen, av bengt")
        .await;
    assert!(
        list.contains(XSS),
        "the note is shown as it was written: {list}"
    );
    assert_inert(&b).await;

    click(&b, "#handover summary").await;
    fill(&b, "#handover-unit", "Bygglov").await;
    fill(&b, "#handover-note", "Frågar om bygglov för altan.").await;
    click(&b, "#handover-send").await;
    b.wait_text("#handover-list", "Till Bygglov, av agneta")
        .await;
    b.wait_text("#handover-list", "Frågar om bygglov för altan.")
        .await;
    b.wait_text("#announcer", "överlämnad till Bygglov").await;
    let stored: Vec<(String, String)> = sqlx::query_as(
        "select h.unit, s.username from handovers h join staff s on s.id = h.handed_by order by h.id",
    )
    .fetch_all(&app.store.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            ("Miljöförvaltningen".to_string(), "bengt".to_string()),
            ("Bygglov".to_string(), "agneta".to_string())
        ]
    );
    b.audit("the conversation with handovers").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// The receiver's side: told live that a conversation was handed to them, finds it under
/// "handed to me", sees the service level marked and counted, and hands it on to a colleague.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_is_told_finds_it_handed_to_them_and_hands_it_on() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![
            // Ten hours: past the DMs' service level of eight.
            dm("m1", "p1", "Anna Lindqvist", "Får jag bygga en altan?", 600),
            dm("m2", "p2", "Per Persson", "När töms soporna?", 20),
        ],
    )
    .await;
    let late: i64 =
        sqlx::query_scalar("select conversation_id from messages where platform_id = 'm1'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    let bengt = app.token("bengt", "agent").await;
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto("/#/inbox").await;
    b.wait_text("#queue-past", "1 över servicenivån").await;
    b.wait_text("#queue", "Över servicenivån").await;

    let r = app
        .post(
            &bengt,
            &format!("/api/v1/conversations/{late}/handover"),
            json!({"to": "agneta", "note": "Du känner till ärendet"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    b.wait_text("#handed-notice", "lämnats över till dig").await;

    choose(&b, "#filter-handed", "me").await;
    b.wait_text("#queue", "Överlämnad till agneta").await;
    let shown = b
        .wait_js(
            "the queue to list only what was handed to agneta",
            "const ids = [...document.querySelectorAll('#queue a[data-id]')].map(a => Number(a.dataset.id));
             return ids.length === 1 ? ids : null;",
        )
        .await;
    assert_eq!(shown, json!([late]));
    b.audit("the queue handed to me, with the service level")
        .await;

    b.goto(&format!("/#/inbox/{late}")).await;
    b.wait_text("#handover-list", "Till agneta, av bengt").await;
    click(&b, "#handover summary").await;
    choose(&b, "#handover-to", "bengt").await;
    click(&b, "#handover-send").await;
    b.wait_text("#handover-list", "Till bengt, av agneta").await;
    b.audit("the conversation handed to a colleague").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// Categories in the conversation view: a suggested one added with one press, another ticked,
/// by keyboard, and both saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gives_a_conversation_categories_from_the_view() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![dm("m1", "p1", "Anna Lindqvist", "När töms soporna?", 20)],
    )
    .await;
    let conversation: i64 = sqlx::query_scalar("select id from conversations")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let admin = app.token("admin", "admin").await;
    let mut ids = Vec::new();
    for name in ["avfall", XSS] {
        let r = app
            .post(&admin, "/api/v1/categories", json!({"name": name}))
            .await;
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto(&format!("/#/inbox/{conversation}")).await;
    let section = b.wait_text("#categories", "avfall").await;
    assert!(section.contains(XSS), "a name is shown as text: {section}");
    assert_inert(&b).await;
    // By keyboard: focus the box, Space ticks it.
    b.js(
        &format!(
            "document.getElementById('category-{}').focus(); return true;",
            ids[0]
        ),
        vec![],
    )
    .await;
    b.press(" ").await;
    b.wait_text("#announcer", "Kategorierna är sparade").await;
    b.wait_js(
        "the box to show the saved category",
        &format!(
            "return document.getElementById('category-{}')?.checked ? true : null",
            ids[0]
        ),
    )
    .await;
    let stored: Vec<i64> =
        sqlx::query_scalar("select category_id from conversation_categories order by category_id")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(stored, [ids[0]]);
    b.audit("the conversation with its categories").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// An administrator puts a person in a unit from the staff view, by keyboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_persons_unit() {
    let app = browser::app().await;
    browser::staff(&app, "adam", "admin").await;
    let cecilia = browser::staff(&app, "cecilia", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("adam").await;
    b.goto(&format!("/#/admin/staff/{cecilia}")).await;
    fill(&b, "#person-unit", "Bygglov").await;
    b.press("\u{E007}").await;
    b.wait_for("the unit to be stored", || async {
        let unit: Option<String> = sqlx::query_scalar("select unit from staff where id = $1")
            .bind(cecilia)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        (unit.as_deref() == Some("Bygglov")).then_some(())
    })
    .await;
    b.wait_js(
        "the field to show the unit after the view is drawn again",
        "return document.getElementById('person-unit')?.value === 'Bygglov' ? true : null",
    )
    .await;
    b.audit("a person's unit in the staff view").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// "Report this message" from the conversation: a dialog, by keyboard, and the case opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reports_a_message_from_the_conversation() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![dm("m1", "p1", "Anna Lindqvist", "Jag vet var du bor.", 20)],
    )
    .await;
    let conversation: i64 = sqlx::query_scalar("select id from conversations")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto(&format!("/#/inbox/{conversation}")).await;
    click(&b, "button.report-message").await;
    assert_eq!(b.focused_id().await, "report-reason");
    b.audit("the report dialog").await;
    fill(&b, "#report-reason", "Ett hot mot handläggaren").await;
    b.press("\u{E004}").await;
    assert_eq!(b.focused_id().await, "report-send");
    b.press("\u{E007}").await;
    b.wait_text("#announcer", "rapporterat").await;
    let cases: i64 = sqlx::query_scalar("select count(*) from moderation_cases")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(cases, 1);
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
