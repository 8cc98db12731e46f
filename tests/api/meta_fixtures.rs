//! Every real Meta payload in ../shared/fixtures/meta lands as a user would expect, on both
//! backends, and a second delivery of it changes nothing.

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// The shared fixture's bytes, or None (with a printed reason) when ../shared is not beside the
/// project. In CI the folder must be there.
fn shared_fixture(name: &str) -> Option<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/meta")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI needs the shared fixture {}: {e}", path.display());
            }
            eprintln!(
                "skipping: the shared fixture {} is not here ({e})",
                path.display()
            );
            None
        }
    }
}

/// A service with the fixtures' pages and Instagram accounts registered, an agent and a
/// communicator.
struct Landed {
    app: TestApp,
    agent: String,
    communicator: String,
}

async fn land(backend: Backend, names: &[&str]) -> Option<Landed> {
    let bodies: Vec<Vec<u8>> = names
        .iter()
        .map(|n| shared_fixture(n))
        .collect::<Option<_>>()?;
    let app = TestApp::spawn(backend).await?;
    for (platform, id) in [
        ("facebook", "1234567890321"),
        ("facebook", "12345654332"),
        ("instagram", "0"),
        ("instagram", "17841452691600098"),
    ] {
        app.register_channel(platform, id, &format!("{platform} {id}"))
            .await;
    }
    for body in &bodies {
        let response = app.webhook(body).await;
        assert_eq!(response.status(), 200, "the delivery is acknowledged");
    }
    // A second delivery of the same payloads stores nothing new.
    let before = snapshot(&app).await;
    for body in &bodies {
        assert_eq!(app.webhook(body).await.status(), 200);
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a redelivery changed the store"
    );
    let agent = app.token("agent", "agent").await;
    let communicator = app.token("communicator", "communicator").await;
    Some(Landed {
        app,
        agent,
        communicator,
    })
}

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "messages",
        "message_revisions",
        "conversations",
        "posts",
        "reactions",
        "unrecognised",
        "quarantine",
        "events",
    ] {
        counts.push(app.count(table).await);
    }
    counts
}

impl Landed {
    /// The only conversation of a queue, with its messages.
    async fn only_conversation(&self, queue: &str) -> Value {
        let token = if queue == "dm" {
            &self.agent
        } else {
            &self.communicator
        };
        let list = self
            .app
            .conversations(token, &format!("queue={queue}"))
            .await;
        assert_eq!(list.len(), 1, "one {queue} conversation: {list:?}");
        let id = list[0]["id"].as_i64().unwrap();
        self.app
            .get_json(token, &format!("/api/v1/conversations/{id}"))
            .await
    }

    /// Nothing of the delivery was kept as unrecognised or quarantined.
    async fn understood(&self) {
        assert_eq!(
            self.app.count("unrecognised").await,
            0,
            "kept as unrecognised"
        );
        assert_eq!(self.app.count("quarantine").await, 0, "quarantined");
    }

    async fn no_conversations(&self) {
        assert!(self.app.conversations(&self.agent, "").await.is_empty());
        assert!(self
            .app
            .conversations(&self.communicator, "")
            .await
            .is_empty());
    }
}

fn only_message(conversation: &Value) -> &Value {
    let messages = conversation["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "one message: {messages:?}");
    &messages[0]
}

fn history(message: &Value) -> Vec<String> {
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["change"].as_str().unwrap().to_string())
        .collect()
}

macro_rules! fixture_test {
    ($name:ident, [$($file:expr),+], $check:expr) => {
        $crate::on_each_backend!($name, |backend| async move {
            // None: the shared fixtures are not here (said on stderr; CI fails instead).
            if let Some(landed) = land(backend, &[$($file),+]).await {
                ($check)(landed).await;
            }
        });
    };
}

fixture_test!(
    page_comment_by_the_page_is_outbound,
    ["feed-comment-add-211.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        assert_eq!(
            c["status"], "waiting",
            "a thread only the page wrote in waits on others"
        );
        assert!(c["oldest_unanswered_at"].is_null());
        let m = only_message(&c);
        assert_eq!(m["direction"], "outbound");
        assert_eq!(m["text"], "and the next one");
        assert_eq!(c["post"]["platform_id"], "1234567890321_901097836652708");
    }
);

fixture_test!(
    comment_with_photo_keeps_the_photo,
    ["feed-comment-add-with-photo.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["attachments"][0]["kind"], "image");
        assert!(m["attachments"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://scontent"));
        assert_eq!(m["author"]["name"], "Tester");
    }
);

fixture_test!(
    edit_of_an_unseen_comment_is_stored,
    ["feed-comment-edited-25.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["text"], "Let's see the Webhooks in action :D");
        assert_eq!(m["edited"], true);
        assert_eq!(history(m), vec!["edited"]);
    }
);

fixture_test!(
    hidden_comment_is_kept_and_marked,
    ["feed-comment-hide.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["state"], "hidden");
        // Hidden words are for moderators; the communicator sees why they are not shown.
        assert!(m["text"].is_null());
        assert_eq!(m["withheld"], "hidden");
        let kept: String = sqlx::query_scalar("select text from messages")
            .fetch_one(&l.app.store.pool)
            .await
            .unwrap();
        assert_eq!(kept, "and the next one", "hiding never destroys the record");
    }
);

fixture_test!(
    hide_then_unhide_keeps_both_in_history,
    ["feed-comment-hide.json", "feed-comment-unhide.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["state"], "visible");
        assert_eq!(history(m), vec!["hidden", "unhidden"]);
    }
);

fixture_test!(
    removal_of_an_unseen_comment_is_stored,
    ["feed-comment-remove-25.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["state"], "removed");
        assert_eq!(m["platform_id"], "905578656204626_905579239537901");
        assert!(
            c["oldest_unanswered_at"].is_null(),
            "a removed comment needs no answer"
        );
    }
);

fixture_test!(
    visitor_post_enters_the_comment_queue,
    ["feed-post-add-25.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["kind"], "visitor_post");
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["text"], "Let's check this");
        assert_eq!(m["author"]["name"], "John Doe");
        assert!(c["oldest_unanswered_at"].is_i64());
        assert!(
            l.app.conversations(&l.agent, "").await.is_empty(),
            "not a DM"
        );
    }
);

fixture_test!(
    removed_post_is_kept_and_marked,
    ["feed-post-remove-25.json"],
    |l: Landed| async move {
        let removed: i64 = sqlx::query_scalar("select removed from posts where platform_id = $1")
            .bind("1234567890321_901097836652708")
            .fetch_one(&l.app.store.pool)
            .await
            .unwrap();
        assert_eq!(removed, 1);
        l.no_conversations().await;
    }
);

fixture_test!(
    feed_reaction_is_recorded_not_queued,
    ["feed-reaction-add.json"],
    |l: Landed| async move {
        let reaction: String = sqlx::query_scalar("select reaction from reactions")
            .fetch_one(&l.app.store.pool)
            .await
            .unwrap();
        assert_eq!(reaction, "love");
        l.no_conversations().await;
    }
);

fixture_test!(
    instagram_dm_with_unsupported_attachment,
    ["instagram-messaging-attachment-unsupported.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(c["platform"], "instagram");
        assert_eq!(c["person"]["platform_id"], "5614879045272581");
        let m = only_message(&c);
        assert_eq!(m["attachments"][0]["kind"], "unsupported_type");
        assert!(c["oldest_unanswered_at"].is_i64());
    }
);

fixture_test!(
    instagram_seen_updates_the_conversation,
    [
        "instagram-messaging-attachment-unsupported.json",
        "instagram-messaging-seen.json"
    ],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert!(
            c["person_read_at"].is_i64(),
            "seen marks the conversation read: {c}"
        );
        assert_eq!(
            c["messages"].as_array().unwrap().len(),
            1,
            "a read is not a message"
        );
    }
);

fixture_test!(
    instagram_seen_alone_fills_no_queue,
    ["instagram-messaging-seen.json"],
    |l: Landed| async move {
        l.no_conversations().await;
        // Understood as what it is, not set aside: a payload the parser no longer recognised
        // would also leave the queues empty.
        l.understood().await;
    }
);

fixture_test!(
    instagram_comment_with_media_and_parent,
    ["instagram-wh-comments-2021.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        assert_eq!(c["post"]["platform_id"], "76543987");
        let m = only_message(&c);
        assert_eq!(m["text"], "This is an example.");
        assert_eq!(m["author"]["name"], "testuser");
        assert_eq!(m["parent_platform_id"], "987654321");
    }
);

fixture_test!(
    instagram_comment_without_media,
    ["instagram-wh-comments.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["text"], "This is an example.");
        assert_eq!(m["platform_id"], "123456789");
    }
);

fixture_test!(
    instagram_live_comment,
    ["instagram-wh-livecomments.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        assert_eq!(only_message(&c)["text"], "This is an example.");
    }
);

fixture_test!(
    instagram_mention,
    ["instagram-wh-mentions.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["kind"], "mention");
        assert_eq!(m["platform_id"], "17887498072083520");
    }
);

fixture_test!(
    page_mention_in_a_comment,
    ["mention-comment-add.json"],
    |l: Landed| async move {
        let c = l.only_conversation("comments").await;
        let m = only_message(&c);
        assert_eq!(m["kind"], "mention");
        assert_eq!(m["text"], "Just a test message");
    }
);

fixture_test!(
    delivery_marks_earlier_outbound_delivered,
    [
        "messaging-message-basic-echo.json",
        "messaging-delivery-basic.json"
    ],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        let m = only_message(&c);
        assert_eq!(m["direction"], "outbound");
        assert_eq!(m["delivery"], "delivered");
    }
);

fixture_test!(
    delivery_alone_fills_no_queue,
    ["messaging-delivery-basic.json"],
    |l: Landed| async move {
        l.no_conversations().await;
        // Understood as what it is, not set aside: a payload the parser no longer recognised
        // would also leave the queues empty.
        l.understood().await;
    }
);

fixture_test!(
    echo_is_stored_as_outbound,
    ["messaging-message-basic-echo.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(c["person"]["platform_id"], "987654321432");
        assert_eq!(c["status"], "waiting");
        let m = only_message(&c);
        assert_eq!(m["direction"], "outbound");
        assert_eq!(m["text"], "hello, world!");
    }
);

fixture_test!(
    dm_enters_the_queue,
    ["messaging-message-basic.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(c["status"], "open");
        assert_eq!(c["oldest_unanswered_at"], 1457764197627i64);
        let m = only_message(&c);
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["text"], "hello, world!");
        assert!(
            l.app.conversations(&l.communicator, "").await.is_empty(),
            "a DM is not a comment"
        );
    }
);

fixture_test!(
    dm_edit_of_an_unseen_message,
    ["messaging-message-edits.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        let m = only_message(&c);
        assert_eq!(m["edited"], true);
        assert_eq!(m["text"], "hello, world!");
    }
);

fixture_test!(
    dm_edit_keeps_the_original_text,
    [
        "messaging-message-basic.json",
        "messaging-message-edits.json"
    ],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        let m = only_message(&c);
        assert_eq!(m["edited"], true);
        assert_eq!(history(m), vec!["created", "edited"]);
        assert_eq!(m["history"][0]["text"], "hello, world!");
    }
);

fixture_test!(
    dm_deletion_is_kept_and_marked,
    ["messaging-message-isdeleted.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(only_message(&c)["state"], "deleted");
    }
);

fixture_test!(
    dm_with_image_attachment,
    ["messaging-message-media-attachment.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        let m = only_message(&c);
        assert!(m["text"].is_null());
        assert_eq!(m["attachments"][0]["kind"], "image");
        assert_eq!(m["attachments"][0]["url"], "IMAGE_URL");
    }
);

fixture_test!(
    dm_quick_reply,
    ["messaging-message-quickreply.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(only_message(&c)["text"], "quick reply text");
        let extra: String = sqlx::query_scalar("select extra from messages")
            .fetch_one(&l.app.store.pool)
            .await
            .unwrap();
        assert!(extra.contains("PAYLOAD_QUICK_REPLY"), "{extra}");
    }
);

fixture_test!(
    dm_reply_to_a_message,
    ["messaging-message-reply-1.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(
            only_message(&c)["parent_platform_id"],
            "very_long_id_representing_the_original_message"
        );
    }
);

fixture_test!(
    dm_sticker,
    ["messaging-message-sticker.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(only_message(&c)["attachments"][0]["kind"], "sticker");
    }
);

fixture_test!(
    dm_postback_is_an_inbound_message,
    ["messaging-postback-basic.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        let m = only_message(&c);
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["text"], "USER_DEFINED_PAYLOAD");
    }
);

fixture_test!(
    dm_reaction_is_recorded_not_queued,
    ["messaging-reaction-1.json"],
    |l: Landed| async move {
        let n: i64 =
            sqlx::query_scalar("select count(*) from reactions where target_platform_id = $1")
                .bind("original_message_id")
                .fetch_one(&l.app.store.pool)
                .await
                .unwrap();
        assert_eq!(n, 1);
        l.no_conversations().await;
    }
);

fixture_test!(
    dm_read_sets_the_watermark,
    ["messaging-message-basic.json", "messaging-read-basic.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(c["person_read_at"], 1458668856253i64);
    }
);

fixture_test!(
    standby_echo_is_stored_as_outbound,
    ["standby-message-basic-echo.json"],
    |l: Landed| async move {
        let c = l.only_conversation("dm").await;
        assert_eq!(only_message(&c)["direction"], "outbound");
    }
);

fixture_test!(
    unknown_change_is_acknowledged_and_kept,
    ["unknown-change-value.json"],
    |l: Landed| async move {
        assert_eq!(l.app.count("unrecognised").await, 1);
        assert_eq!(l.app.count("messages").await, 0);
        l.no_conversations().await;
    }
);
