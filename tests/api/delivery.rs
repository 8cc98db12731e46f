//! Delivery through the outbox to a stand-in Graph API: success, passing faults with backoff,
//! refusals shown to the agent, timeouts and crashes reconciled without sending twice, several
//! instances on one database, the reply window, echoes, moderation's actions, and no token in
//! any log line.

use std::time::Duration;

use serde_json::{json, Value};
use tavla::settings::Settings;
use tavla::store::channels::NewChannel;
use tavla::store::outbox::OutboxAction;

use crate::graph_stub::{Answer, GraphStub};
use crate::helpers::{actor, Backend, TestApp};

pub const PAGE: &str = "900000000000001";
pub const TOKEN: &str = "EAAGtavlaPageToken0123456789secret";

/// An app that delivers to a stand-in Graph API, a channel whose token is in a secrets file, and
/// an agent with one fresh DM conversation (from `u1`).
pub struct Bench {
    pub app: TestApp,
    pub stub: GraphStub,
    pub agent: String,
    pub conversation: i64,
    /// Holds the token file for as long as the bench lives.
    _secrets: tempfile::TempDir,
}

/// A scenario's `async move` block captures only the fields it names; with a `Drop` it must take
/// the whole bench, so the token file lives as long as the scenario.
impl Drop for Bench {
    fn drop(&mut self) {}
}

pub async fn bench(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<Bench> {
    let stub = GraphStub::start(PAGE).await;
    let url = stub.url.clone();
    let app = TestApp::spawn_with(backend, |s| {
        s.graph_base_url = url;
        s.delivery_workers = 1;
        s.graph_timeout_seconds = 5;
        s.delivery_retry_base_ms = 50;
        s.delivery_retry_max_seconds = 2;
        s.delivery_max_attempts = 5;
        adjust(s);
    })
    .await?;
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("kommunen.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    app.store
        .add_channel(
            &NewChannel {
                platform: Some(tavla::model::Platform::Facebook),
                platform_id: PAGE.into(),
                name: "Kommunen".into(),
                approved: true,
                access_token_file: Some(token_file.to_string_lossy().into_owned()),
                ..Default::default()
            },
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(
        app.webhook(&dm("u1", "in-1", "Hej!", now())).await.status(),
        200
    );
    let agent = app.token("agent", "agent").await;
    let conversation = app.conversations(&agent, "").await[0]["id"]
        .as_i64()
        .unwrap();
    Some(Bench {
        app,
        stub,
        agent,
        conversation,
        _secrets: secrets,
    })
}

/// Runs a delivery scenario on SQLite and on PostgreSQL, with adjusted settings.
macro_rules! delivery_test {
    ($name:ident, $adjust:expr, $scenario:expr) => {
        $crate::on_each_backend!($name, |backend| async move {
            match bench(backend, $adjust).await {
                Some(b) => ($scenario)(b).await,
                None => $crate::helpers::only_postgres_may_be_missing(backend),
            }
        });
    };
}

/// Kept where the delivery tests first had it.
pub use crate::helpers::eventually;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const HOUR: i64 = 3_600_000;

/// A person's DM to the page at `at` ms.
pub fn dm(sender: &str, mid: &str, text: &str, at: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": at, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": PAGE}, "timestamp": at,
        "message": {"mid": mid, "text": text}}]}]}),
    )
    .unwrap()
}

/// The page's echo of a message it sent to `recipient`.
fn echo(recipient: &str, mid: &str, text: &str, metadata: Option<String>) -> Vec<u8> {
    let mut message = json!({"mid": mid, "text": text, "is_echo": true, "app_id": 1234});
    if let Some(m) = metadata {
        message["metadata"] = m.into();
    }
    serde_json::to_vec(&json!({"object": "page", "entry": [{"id": PAGE, "time": now(), "messaging": [{
        "sender": {"id": PAGE}, "recipient": {"id": recipient}, "timestamp": now(), "message": message}]}]}))
    .unwrap()
}

/// A visitor's comment `C_1` on the page's post.
fn comment() -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": now(), "changes": [{
        "field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "C_1",
        "post_id": format!("{PAGE}_77"), "parent_id": format!("{PAGE}_77"),
        "from": {"id": "u2", "name": "Eva"}, "message": "När töms soporna?",
        "created_time": now() / 1000}}]}]}),
    )
    .unwrap()
}

/// The outbox row of a message: (id, status, attempts, last_error, in_doubt).
pub async fn outbox(app: &TestApp, message: i64) -> (i64, String, i64, Option<String>, i64) {
    let row: (i64, String, i64, Option<String>, i64) = sqlx::query_as(
        "select id, status, attempts, last_error, in_doubt from outbox where message_id = $1 order by id desc limit 1",
    )
    .bind(message)
    .fetch_one(&app.store.pool)
    .await
    .unwrap();
    row
}

pub async fn settled(
    app: &TestApp,
    message: i64,
    status: &str,
) -> (i64, String, i64, Option<String>, i64) {
    eventually(
        &format!("message {message}'s delivery to be {status}"),
        || async {
            let row = outbox(app, message).await;
            (row.1 == status).then_some(row)
        },
    )
    .await
}

async fn platform_id(app: &TestApp, message: i64) -> Option<String> {
    sqlx::query_scalar("select platform_id from messages where id = $1")
        .bind(message)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

impl Bench {
    pub async fn reply(&self, conversation: i64, body: Value) -> reqwest::Response {
        self.app
            .post(
                &self.agent,
                &format!("/api/v1/conversations/{conversation}/replies"),
                body,
            )
            .await
    }

    /// Replies in the bench's conversation and returns the new message's id.
    pub async fn reply_ok(&self, text: &str) -> i64 {
        let r = self.reply(self.conversation, json!({ "text": text })).await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["message_id"]
            .as_i64()
            .unwrap()
    }

    async fn our_message(&self, message: i64) -> Value {
        let detail = self
            .app
            .get_json(
                &self.agent,
                &format!("/api/v1/conversations/{}", self.conversation),
            )
            .await;
        detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message)
            .cloned()
            .unwrap()
    }
}

delivery_test!(
    a_dm_reply_is_sent_once_with_the_page_token,
    |_: &mut Settings| {},
    |b: Bench| async move {
        let id = b.reply_ok("Hej! Soporna töms på fredag.").await;
        let (outbox_id, _, attempts, _, _) = settled(&b.app, id, "sent").await;
        assert_eq!(attempts, 1);
        let sent = b.stub.changes();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].path, format!("/{PAGE}/messages"));
        assert_eq!(sent[0].access_token.as_deref(), Some(TOKEN));
        assert_eq!(sent[0].query, None, "nothing, and no token, in the URL");
        assert_eq!(
            sent[0].body,
            json!({"recipient": {"id": "u1"}, "messaging_type": "RESPONSE",
                   "message": {"text": "Hej! Soporna töms på fredag.", "metadata": format!("tavla:outbox:{outbox_id}")}})
        );
        assert_eq!(platform_id(&b.app, id).await.as_deref(), Some("m_1"));
        let ours = b.our_message(id).await;
        assert_eq!(ours["delivery"], "sent");
        assert_eq!(ours["delivery_detail"]["status"], "sent");
        assert!(ours["delivery_detail"]["failure"].is_null());

        // The echo after the record is the same message, not a second one.
        let before = b.app.count("messages").await;
        let echoed = echo(
            "u1",
            "m_1",
            "Hej! Soporna töms på fredag.",
            Some(format!("tavla:outbox:{outbox_id}")),
        );
        assert_eq!(b.app.webhook(&echoed).await.status(), 200);
        assert_eq!(b.app.count("messages").await, before);
    }
);

delivery_test!(
    a_server_fault_is_retried_and_then_sent,
    |_: &mut Settings| {},
    |b: Bench| async move {
        b.stub.script([Answer::ServerError, Answer::ServerError]);
        let id = b.reply_ok("Hej igen").await;
        let (_, _, attempts, last_error, in_doubt) = settled(&b.app, id, "sent").await;
        assert_eq!(attempts, 3);
        assert_eq!(last_error, None, "a success clears the fault");
        assert_eq!(in_doubt, 0, "a 500 proves nothing was done");
        assert_eq!(b.stub.changes().len(), 3);
        assert_eq!(platform_id(&b.app, id).await.as_deref(), Some("m_1"));
        // Operators see it in /metrics: the outbox by status (this store's rows) and the
        // attempts (process-wide counters, which other tests in this process also bump).
        let metrics = b
            .app
            .client
            .get(b.app.url("/metrics"))
            .send()
            .await
            .unwrap();
        let metrics = metrics.text().await.unwrap();
        let value = |series: &str| -> f64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{metrics}"))
        };
        assert_eq!(value("tavla_outbox_rows{status=\"sent\"}"), 1.0);
        assert_eq!(value("tavla_outbox_rows{status=\"pending\"}"), 0.0);
        assert_eq!(value("tavla_outbox_oldest_pending_seconds"), 0.0);
        assert!(value("tavla_delivery_attempts_total{action=\"reply\",outcome=\"retry\"}") >= 2.0);
        assert!(value("tavla_delivery_attempts_total{action=\"reply\",outcome=\"sent\"}") >= 1.0);
    }
);

delivery_test!(
    a_rate_limit_backs_off_at_least_as_long_as_asked,
    |_: &mut Settings| {},
    |b: Bench| async move {
        b.stub.script([Answer::RateLimited(Some(1))]);
        let id = b.reply_ok("Tack för att du hörde av dig").await;
        settled(&b.app, id, "sent").await;
        let sent = b.stub.changes();
        assert_eq!(sent.len(), 2);
        // What the worker decided, from the event log: wait at least the Retry-After second.
        let retry: String = sqlx::query_scalar(
            "select payload from events where kind = 'message.delivery_changed' and payload like '%retrying%'",
        )
        .fetch_one(&b.app.store.pool)
        .await
        .unwrap();
        let retry: Value = serde_json::from_str(&retry).unwrap();
        assert!(retry["retry_in_ms"].as_i64().unwrap() >= 1000, "{retry}");
        assert!(
            retry["failure"]
                .as_str()
                .unwrap()
                .contains("limiting how fast"),
            "{retry}"
        );
        assert!(sent[1].at.duration_since(sent[0].at) >= Duration::from_secs(1));
    }
);

delivery_test!(
    a_refusal_is_shown_in_plain_words_and_the_agent_edits_and_retries,
    |_: &mut Settings| {},
    |b: Bench| async move {
        b.stub.script([Answer::MetaError {
            status: 400,
            code: 551,
            subcode: Some(1545041),
            message: "(#551) This person isn't available right now.".into(),
        }]);
        let id = b.reply_ok("Första svaret").await;
        let (_, _, attempts, _, _) = settled(&b.app, id, "failed").await;
        assert_eq!(attempts, 1, "a refusal is not retried by itself");
        assert_eq!(b.stub.changes().len(), 1);
        let ours = b.our_message(id).await;
        assert_eq!(ours["delivery"], "failed");
        let failure = ours["delivery_detail"]["failure"].as_str().unwrap();
        assert!(
            failure
                .contains("Facebook refused it: \"(#551) This person isn't available right now.\""),
            "{failure}"
        );
        assert!(failure.contains("cannot be reached"), "{failure}");

        let communicator = b.app.token("komm", "communicator").await;
        let path = format!("/api/v1/messages/{id}/retry");
        assert_eq!(
            b.app.post(&communicator, &path, json!({})).await.status(),
            403
        );
        assert_eq!(
            b.app
                .post(&b.agent, &path, json!({"recipient": "x"}))
                .await
                .status(),
            422
        );
        let retried = b
            .app
            .post(&b.agent, &path, json!({"text": "Andra svaret"}))
            .await;
        assert_eq!(retried.status(), 200);
        settled(&b.app, id, "sent").await;
        let sent = b.stub.changes();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].body["message"]["text"], "Andra svaret");
        let ours = b.our_message(id).await;
        assert_eq!(ours["text"], "Andra svaret");
        assert_eq!(
            ours["history"][0]["text"], "Första svaret",
            "the old words are kept"
        );
        let again = b.app.post(&b.agent, &path, json!({})).await;
        assert_eq!(again.status(), 409);
        assert!(again
            .text()
            .await
            .unwrap()
            .contains("only a failed delivery"));
        let audited: i64 =
            sqlx::query_scalar("select count(*) from audit where action = 'message.retried'")
                .fetch_one(&b.app.store.pool)
                .await
                .unwrap();
        assert_eq!(audited, 1);
    }
);

delivery_test!(
    a_timeout_is_looked_up_before_sending_again,
    |s: &mut Settings| s.graph_timeout_seconds = 1,
    |b: Bench| async move {
        // A comment thread: the reply goes to the comment, and the look-up lists its replies.
        assert_eq!(b.app.webhook(&comment()).await.status(), 200);
        let communicator = b.app.token("komm", "communicator").await;
        let thread = b.app.conversations(&communicator, "queue=comments").await[0]["id"]
            .as_i64()
            .unwrap();
        b.stub.script([Answer::Late(Duration::from_secs(3))]);
        let r = b
            .app
            .post(
                &communicator,
                &format!("/api/v1/conversations/{thread}/replies"),
                json!({"text": "På fredag!"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["message_id"]
            .as_i64()
            .unwrap();
        let (_, _, attempts, _, in_doubt) = settled(&b.app, id, "sent").await;
        assert_eq!((attempts, in_doubt), (2, 1));
        let sent = b.stub.changes();
        assert_eq!(sent.len(), 1, "found, not sent again");
        assert_eq!(sent[0].path, "/C_1/comments");
        assert_eq!(sent[0].body, json!({"message": "På fredag!"}));
        assert!(b.stub.requests().iter().any(|r| r.method == "GET"
            && r.path == "/C_1/comments"
            && r.access_token.as_deref() == Some(TOKEN)));
        assert_eq!(platform_id(&b.app, id).await.as_deref(), Some("c_1"));
    }
);

delivery_test!(
    the_reply_window_refuses_late_replies_and_takes_human_agent_within_a_week,
    |_: &mut Settings| {},
    |b: Bench| async move {
        let detail = b
            .app
            .get_json(
                &b.agent,
                &format!("/api/v1/conversations/{}", b.conversation),
            )
            .await;
        let left = detail["reply_window"]["seconds_left"].as_i64().unwrap();
        assert!((86_000..=86_400).contains(&left), "{left}");
        assert!(
            detail["reply_window"]["human_agent_closes_at"]
                .as_i64()
                .unwrap()
                > detail["reply_window"]["closes_at"].as_i64().unwrap()
        );

        for (sender, hours) in [("u-yesterday", 25), ("u-last-week", 8 * 24)] {
            assert_eq!(
                b.app
                    .webhook(&dm(
                        sender,
                        &format!("in-{sender}"),
                        "Hallå?",
                        now() - hours * HOUR
                    ))
                    .await
                    .status(),
                200
            );
        }
        let id_of = |sender: &'static str| {
            let app = &b.app;
            let agent = b.agent.clone();
            async move {
                app.conversations(&agent, "")
                    .await
                    .iter()
                    .find(|c| c["person"]["platform_id"] == sender)
                    .unwrap()["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let yesterday = id_of("u-yesterday").await;
        let refused = b
            .reply(yesterday, json!({"text": "Förlåt dröjsmålet"}))
            .await;
        assert_eq!(refused.status(), 422);
        let problem: Value = refused.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("24-hour reply window closed") && detail.contains("HUMAN_AGENT"),
            "{detail}"
        );
        assert_eq!(problem["reply_window"]["seconds_left"], 0);
        assert!(
            problem["reply_window"]["human_agent_seconds_left"]
                .as_i64()
                .unwrap()
                > 0
        );
        assert_eq!(
            b.reply(yesterday, json!({"text": "x", "tag": "ACCOUNT_UPDATE"}))
                .await
                .status(),
            422
        );

        let tagged = b
            .reply(
                yesterday,
                json!({"text": "Förlåt dröjsmålet", "tag": "HUMAN_AGENT"}),
            )
            .await;
        assert_eq!(tagged.status(), 201);
        let id = tagged.json::<Value>().await.unwrap()["message_id"]
            .as_i64()
            .unwrap();
        settled(&b.app, id, "sent").await;
        let sent = b.stub.changes();
        assert_eq!(sent[0].body["messaging_type"], "MESSAGE_TAG");
        assert_eq!(sent[0].body["tag"], "HUMAN_AGENT");

        let last_week = id_of("u-last-week").await;
        let closed = b
            .reply(last_week, json!({"text": "Hej", "tag": "HUMAN_AGENT"}))
            .await;
        assert_eq!(closed.status(), 422);
        assert!(closed
            .text()
            .await
            .unwrap()
            .contains("7 days after the person's last message"));
        assert_eq!(b.stub.changes().len(), 1, "nothing refused was sent");
    }
);

delivery_test!(
    an_echo_that_beats_the_answer_is_matched_to_our_message,
    |s: &mut Settings| s.graph_timeout_seconds = 2,
    |b: Bench| async move {
        // The platform does it but its answer never comes; its echo does.
        b.stub.script([Answer::Hold]);
        let id = b.reply_ok("Välkommen till biblioteket").await;
        let (outbox_id, ..) = outbox(&b.app, id).await;
        eventually("the send to reach the platform", || async {
            (!b.stub.changes().is_empty()).then_some(())
        })
        .await;
        let before = b.app.count("messages").await;
        let echoed = echo(
            "u1",
            "m_1",
            "Välkommen till biblioteket",
            Some(format!("tavla:outbox:{outbox_id}")),
        );
        assert_eq!(b.app.webhook(&echoed).await.status(), 200);
        assert_eq!(
            b.app.count("messages").await,
            before,
            "the echo is our message"
        );
        assert_eq!(platform_id(&b.app, id).await.as_deref(), Some("m_1"));
        assert_eq!(outbox(&b.app, id).await.1, "sent");
        assert_eq!(
            b.app.webhook(&echoed).await.status(),
            200,
            "a redelivered echo"
        );
        assert_eq!(b.app.count("messages").await, before);

        // Words the page wrote in Meta's own inbox are the page's, stored as outbound.
        assert_eq!(
            b.app
                .webhook(&echo("u1", "m_meta", "Skrivet i Meta Business Suite", None))
                .await
                .status(),
            200
        );
        assert_eq!(b.app.count("messages").await, before + 1);
        assert_eq!(b.stub.changes().len(), 1);
    }
);

delivery_test!(
    hides_removals_and_private_replies_go_through_the_outbox,
    |_: &mut Settings| {},
    |b: Bench| async move {
        assert_eq!(b.app.webhook(&comment()).await.status(), 200);
        let comment_id: i64 =
            sqlx::query_scalar("select id from messages where platform_id = 'C_1'")
                .fetch_one(&b.app.store.pool)
                .await
                .unwrap();
        let state = || async {
            let s: String = sqlx::query_scalar("select state from messages where id = $1")
                .bind(comment_id)
                .fetch_one(&b.app.store.pool)
                .await
                .unwrap();
            s
        };
        let done = |n: usize| {
            let stub = b.stub.clone();
            async move {
                eventually("the platform to be asked", || async {
                    (stub.changes().len() >= n).then_some(())
                })
                .await;
                stub.changes()[n - 1].clone()
            }
        };
        for (n, action, expected_state) in [
            (1, OutboxAction::Hide, "hidden"),
            (2, OutboxAction::Unhide, "visible"),
        ] {
            let outbox_id = b
                .app
                .store
                .enqueue_visibility(comment_id, action, &actor())
                .await
                .unwrap();
            let sent = done(n).await;
            assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/C_1"));
            assert_eq!(
                sent.body,
                json!({"is_hidden": action == OutboxAction::Hide})
            );
            eventually("the row to be sent", || async {
                let s: String = sqlx::query_scalar("select status from outbox where id = $1")
                    .bind(outbox_id)
                    .fetch_one(&b.app.store.pool)
                    .await
                    .unwrap();
                (s == "sent").then_some(())
            })
            .await;
            assert_eq!(state().await, expected_state);
        }
        let staff: i64 = sqlx::query_scalar("select id from staff where username = 'agent'")
            .fetch_one(&b.app.store.pool)
            .await
            .unwrap();
        let private = b
            .app
            .store
            .enqueue_private_reply(comment_id, staff, "Vi svarar dig här i stället", &actor())
            .await
            .unwrap();
        let sent = done(3).await;
        assert_eq!(sent.path, format!("/{PAGE}/messages"));
        assert_eq!(sent.body["recipient"], json!({"comment_id": "C_1"}));
        assert_eq!(sent.body["message"]["text"], "Vi svarar dig här i stället");
        settled(&b.app, private, "sent").await;
        let thread: String = sqlx::query_scalar(
            "select c.thread_key from messages m join conversations c on c.id = m.conversation_id where m.id = $1",
        )
        .bind(private)
        .fetch_one(&b.app.store.pool)
        .await
        .unwrap();
        assert_eq!(
            thread, "dm:u2",
            "the private reply opens a DM thread with the commenter"
        );

        b.app
            .store
            .enqueue_visibility(comment_id, OutboxAction::Remove, &actor())
            .await
            .unwrap();
        let sent = done(4).await;
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("DELETE", "/C_1")
        );
        eventually("the comment to be marked removed", || async {
            (state().await == "removed").then_some(())
        })
        .await;
        let history: i64 =
            sqlx::query_scalar("select count(*) from message_revisions where message_id = $1")
                .bind(comment_id)
                .fetch_one(&b.app.store.pool)
                .await
                .unwrap();
        assert_eq!(history, 3, "hide, unhide and removal are kept as history");
        assert_eq!(
            b.app.count("messages").await,
            3,
            "the removed comment is kept"
        );
    }
);

#[path = "delivery_instances.rs"]
mod instances;
