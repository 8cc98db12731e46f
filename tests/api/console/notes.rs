//! Internal notes in the conversation view: in the timeline among the messages, marked as notes,
//! shown as text (never markup), and written from the view by keyboard alone.

use serde_json::json;

use super::actions::{assert_inert, fill, XSS};
use super::browser::{self, Browser};
use super::{channel, dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_and_writes_internal_notes_in_the_timeline() {
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
    // A colleague wrote a note earlier, through the API, with hostile text in it.
    let bengt = app.token("bengt", "agent").await;
    let earlier = app
        .post(
            &bengt,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({"text": XSS}),
        )
        .await;
    assert_eq!(earlier.status(), 201);
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto(&format!("/#/inbox/{conversation}")).await;
    let note = b.wait_text("li.note", "Intern anteckning av bengt").await;
    assert!(note.contains(XSS), "the note is shown as written: {note}");
    assert_inert(&b).await;
    // In the timeline, after the person's message it was written after.
    let order = b
        .js(
            "return [...document.querySelectorAll('ol.messages > li')].map(li => li.classList.contains('note') ? 'note' : 'message')",
            vec![],
        )
        .await;
    assert_eq!(order, json!(["message", "note"]));

    // By keyboard: type, Tab to the button, Enter.
    fill(&b, "#note-text", "Ringde upp, väntar på Bygglov.").await;
    b.press("\u{E004}").await;
    assert_eq!(b.focused_id().await, "note-send");
    b.press("\u{E007}").await;
    b.wait_text("#announcer", "Anteckningen är sparad").await;
    b.wait_text("ol.messages", "Ringde upp, väntar på Bygglov.")
        .await;
    let stored: Vec<(String, String)> = sqlx::query_as(
        "select n.text, s.username from conversation_notes n join staff s on s.id = n.written_by order by n.id",
    )
    .fetch_all(&app.store.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            (XSS.to_string(), "bengt".to_string()),
            (
                "Ringde upp, väntar på Bygglov.".to_string(),
                "agneta".to_string()
            )
        ]
    );
    assert_eq!(app.count("outbox").await, 0, "a note is never sent");
    b.audit("the conversation with notes").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

/// Choosing a saved reply puts it in the reply field filled for this conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_saved_reply_arrives_filled_in_the_reply_field() {
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
    let communicator = app.token("cecilia", "communicator").await;
    let saved = app
        .post(
            &communicator,
            "/api/v1/saved-replies",
            json!({"title": "Tack", "language": "sv",
                   "body": "Hej {förnamn}! Tack för att du skrev till {kanal}."}),
        )
        .await;
    assert_eq!(saved.status(), 201);
    let reply = saved.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.goto(&format!("/#/inbox/{conversation}")).await;
    super::actions::click(&b, "details.library summary").await;
    super::actions::click(&b, &format!("button[data-saved-reply-id='{reply}']")).await;
    let filled = b
        .wait_js(
            "the filled reply in the reply field",
            "const v = document.querySelector('#reply-text').value; return v ? v : null",
        )
        .await;
    assert_eq!(
        filled,
        json!("Hej Anna! Tack för att du skrev till Exempelby kommun.")
    );
    assert_eq!(b.focused_id().await, "reply-text");
    b.close().await;
}
