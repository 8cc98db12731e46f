//! Changes are ordered by the platform's time, not by arrival: Meta retries for a day and a half,
//! so an older edit, hide or unhide may arrive after a newer one. The newest change decides what
//! the message says and shows; an older one joins the history, in its place by platform time.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_backends;

const PAGE: &str = "920000000000001";
const COMMENT: &str = "920000000000001_77";
/// Seconds, as Meta writes `created_time` in feed changes.
const WRITTEN: i64 = 1_764_000_000;

/// One feed change of the comment, with the time Meta says it happened.
fn comment_change(verb: &str, text: &str, at: i64) -> Vec<u8> {
    feed_change(COMMENT, verb, text, at)
}

fn feed_change(comment_id: &str, verb: &str, text: &str, at: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": at, "changes": [{
        "field": "feed", "value": {"item": "comment", "verb": verb, "comment_id": comment_id,
        "post_id": format!("{PAGE}_1"), "parent_id": format!("{PAGE}_1"), "created_time": at,
        "from": {"id": "user-9", "name": "Signe"}, "message": text}}]}]}),
    )
    .unwrap()
}

/// A DM edit as Messenger sends it (`message_edit` with the edit counter).
fn dm_edit(text: &str, num_edit: u32, at_ms: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": at_ms, "messaging": [{
        "sender": {"id": "user-8"}, "recipient": {"id": PAGE}, "timestamp": at_ms,
        "message_edit": {"mid": "m_edit_1", "text": text, "num_edit": num_edit}}]}]}),
    )
    .unwrap()
}

fn dm_created(text: &str, at_ms: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": at_ms, "messaging": [{
        "sender": {"id": "user-8"}, "recipient": {"id": PAGE}, "timestamp": at_ms,
        "message": {"mid": "m_edit_1", "text": text}}]}]}),
    )
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8]) {
    assert_eq!(app.webhook(body).await.status(), 200);
}

/// The only message of the only conversation in a queue, as the console shows it.
async fn the_message(app: &TestApp, token: &str, queue: &str) -> Value {
    let list = app.conversations(token, &format!("queue={queue}")).await;
    assert_eq!(list.len(), 1, "one {queue} conversation: {list:?}");
    let view = app
        .get_json(token, &format!("/api/v1/conversations/{}", list[0]["id"]))
        .await;
    let messages = view["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "one message: {messages:?}");
    messages[0].clone()
}

fn history(message: &Value) -> Vec<(String, Option<String>)> {
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["change"].as_str().unwrap().to_string(),
                h["text"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn history_times(message: &Value) -> Vec<i64> {
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["platform_time"].as_i64().unwrap())
        .collect()
}

/// Searches until the marker written last is found, so the index has applied everything before
/// it (one index commit covers every event up to the one it ends at), then runs `query`.
async fn search_after(app: &TestApp, token: &str, marker: &str, query: &str) -> Vec<Value> {
    let mut found = false;
    for _ in 0..200 {
        let r = app
            .get_json(token, &format!("/api/v1/search?q={marker}"))
            .await;
        if !r["items"].as_array().unwrap().is_empty() {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found, "the index never reached the marker {marker}");
    let r = app
        .get_json(token, &format!("/api/v1/search?q={query}"))
        .await;
    r["items"].as_array().unwrap().clone()
}

on_both_backends!(
    a_late_older_edit_joins_the_history_only,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let communicator = app.token("communicator", "communicator").await;
        deliver(
            &app,
            &comment_change("add", "Badhuset stänger kvart i sju", WRITTEN),
        )
        .await;
        // v2 (newest) arrives first, v1 (older) a retry later.
        deliver(
            &app,
            &comment_change("edited", "Badhuset stänger halv nio", WRITTEN + 120),
        )
        .await;
        deliver(
            &app,
            &comment_change("edited", "Badhuset stänger klockan sju", WRITTEN + 60),
        )
        .await;
        // A redelivery of the older edit changes nothing either.
        deliver(
            &app,
            &comment_change("edited", "Badhuset stänger klockan sju", WRITTEN + 60),
        )
        .await;

        let m = the_message(&app, &communicator, "comments").await;
        assert_eq!(
            m["text"], "Badhuset stänger halv nio",
            "the newest edit is the text"
        );
        assert_eq!(m["edited"], true);
        assert_eq!(
            history(&m),
            vec![
                (
                    "created".into(),
                    Some("Badhuset stänger kvart i sju".into())
                ),
                ("edited".into(), Some("Badhuset stänger klockan sju".into())),
                ("edited".into(), Some("Badhuset stänger halv nio".into())),
            ],
            "every version is kept, in the platform's order"
        );
        let times = history_times(&m);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

        // Search follows the current text: v2's words are found, v1's and v0's are not.
        deliver(
            &app,
            &feed_change("920000000000001_78", "add", "markörordet", WRITTEN + 300),
        )
        .await;
        assert_eq!(
            search_after(&app, &communicator, "markörordet", "nio")
                .await
                .len(),
            1,
            "the newest text is searchable"
        );
        assert!(
            search_after(&app, &communicator, "markörordet", "klockan")
                .await
                .is_empty(),
            "an older edit is not the message's text"
        );
        assert!(
            search_after(&app, &communicator, "markörordet", "kvart")
                .await
                .is_empty(),
            "nor is the text before the edits"
        );
    }
);

on_both_backends!(
    a_late_older_unhide_does_not_unhide,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let moderator = app.token("moderator", "moderator").await;
        deliver(
            &app,
            &comment_change("add", "Köp billiga klockor här", WRITTEN),
        )
        .await;
        deliver(
            &app,
            &comment_change("hide", "Köp billiga klockor här", WRITTEN + 120),
        )
        .await;
        // The unhide happened before the hide; it arrives late.
        deliver(
            &app,
            &comment_change("unhide", "Köp billiga klockor här", WRITTEN + 60),
        )
        .await;
        let m = the_message(&app, &moderator, "comments").await;
        assert_eq!(m["state"], "hidden", "the newest change decides visibility");
        let changes: Vec<String> = history(&m).into_iter().map(|(c, _)| c).collect();
        assert_eq!(changes, ["created", "unhidden", "hidden"]);

        // A newer unhide does unhide; equal times: the one received later wins.
        deliver(
            &app,
            &comment_change("unhide", "Köp billiga klockor här", WRITTEN + 180),
        )
        .await;
        assert_eq!(
            the_message(&app, &moderator, "comments").await["state"],
            "visible"
        );
        deliver(
            &app,
            &comment_change("hide", "Köp billiga klockor här", WRITTEN + 180),
        )
        .await;
        assert_eq!(
            the_message(&app, &moderator, "comments").await["state"],
            "hidden"
        );

        // A removal is final whenever it happened: a newer unhide cannot bring it back.
        deliver(&app, &comment_change("remove", "", WRITTEN + 200)).await;
        deliver(
            &app,
            &comment_change("unhide", "Köp billiga klockor här", WRITTEN + 240),
        )
        .await;
        assert_eq!(
            the_message(&app, &moderator, "comments").await["state"],
            "removed"
        );
    }
);

on_both_backends!(
    dm_edits_and_a_late_creation_keep_their_order,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let agent = app.token("agent", "agent").await;
        let t = WRITTEN * 1000;
        // Seen first through its second edit, then the first edit, then the creation itself.
        deliver(
            &app,
            &dm_edit("Hej, jag heter Åsa och bor i Norrby", 2, t + 20_000),
        )
        .await;
        deliver(&app, &dm_edit("Hej, jag heter Åsa", 1, t + 10_000)).await;
        deliver(&app, &dm_created("Hej", t)).await;
        let m = the_message(&app, &agent, "dm").await;
        assert_eq!(m["text"], "Hej, jag heter Åsa och bor i Norrby");
        assert_eq!(
            history(&m),
            vec![
                ("created".into(), Some("Hej".into())),
                ("edited".into(), Some("Hej, jag heter Åsa".into())),
                (
                    "edited".into(),
                    Some("Hej, jag heter Åsa och bor i Norrby".into())
                ),
            ],
            "the creation that arrived last is kept as the first version"
        );
        // The same deliveries again store nothing.
        let revisions = app.count("message_revisions").await;
        deliver(&app, &dm_created("Hej", t)).await;
        deliver(&app, &dm_edit("Hej, jag heter Åsa", 1, t + 10_000)).await;
        assert_eq!(app.count("message_revisions").await, revisions);
    }
);
