//! Delivery with more than one process: two instances on one database never send a row twice,
//! and an instance killed between sending and recording is reconciled by the next one without
//! sending again. The killed one is the real binary, whose log must never hold the token.

use std::collections::HashSet;
use std::process::Stdio;

use tavla::app::Application;
use tokio::io::AsyncReadExt;

use super::*;
use crate::helpers::SECRET;

async fn two_instances_share_the_outbox(backend: Backend) {
    let Some(b) = bench(backend, |s| s.delivery_workers = 3).await else {
        return;
    };
    b.stub.pace(Duration::from_millis(20));
    let other_dir = tempfile::tempdir().unwrap();
    let mut settings = b.app.settings.clone();
    settings.data_dir = other_dir.path().to_path_buf();
    let second = Application::build(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(second.run_until(async move {
        let _ = stopped.await;
    }));

    for i in 0..12 {
        let person = format!("p{i}");
        let body = dm(&person, &format!("in-{person}"), "Fråga", now());
        assert_eq!(b.app.webhook(&body).await.status(), 200);
    }
    let first = b.reply_ok("Först").await;
    for c in b.app.conversations(&b.agent, "limit=50").await {
        let id = c["id"].as_i64().unwrap();
        if id != b.conversation {
            let r = b
                .reply(
                    id,
                    json!({"text": format!("Svar till {}", c["person"]["platform_id"])}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    }
    let then = b.reply_ok("Sedan").await;
    eventually("every row to be sent", || async {
        let left: i64 = sqlx::query_scalar("select count(*) from outbox where status <> 'sent'")
            .fetch_one(&b.app.store.pool)
            .await
            .unwrap();
        (left == 0).then_some(())
    })
    .await;
    let sent = b.stub.changes();
    assert_eq!(sent.len(), 14, "each row once");
    let rows: HashSet<_> = sent
        .iter()
        .map(|r| r.body["message"]["metadata"].clone())
        .collect();
    assert_eq!(rows.len(), 14);
    let max_attempts: i64 = sqlx::query_scalar("select max(attempts) from outbox")
        .fetch_one(&b.app.store.pool)
        .await
        .unwrap();
    assert_eq!(max_attempts, 1);
    // Two replies to one person arrive in the order they were written.
    let position = |text: &str| {
        sent.iter()
            .position(|r| r.body["message"]["text"] == text)
            .unwrap()
    };
    assert!(position("Först") < position("Sedan"));
    assert!(first < then);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_send_a_row_twice_sqlite() {
    two_instances_share_the_outbox(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_send_a_row_twice_postgres() {
    two_instances_share_the_outbox(Backend::Postgres).await;
}

async fn crash_between_send_and_record(backend: Backend) {
    // This instance only takes replies; the binary started below delivers them.
    let Some(mut b) = bench(backend, |s| s.delivery_workers = 0).await else {
        return;
    };
    b.stub.script([
        Answer::MetaError {
            status: 400,
            code: 190,
            subcode: None,
            message: format!("Malformed access token {TOKEN}"),
        },
        Answer::Hold,
    ]);
    let refused = b.reply_ok("Det här vägrar plattformen").await;
    let held = b.reply_ok("Det här kommer fram").await;

    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("TAVLA_DATABASE_URL", b.app.settings.database_url.expose())
        .env("TAVLA_LISTEN", "127.0.0.1:0")
        .env("TAVLA_DATA_DIR", data.path())
        .env("TAVLA_META_APP_SECRET", SECRET)
        .env("TAVLA_GRAPH_BASE_URL", &b.stub.url)
        .env("TAVLA_DELIVERY_WORKERS", "1")
        .env("TAVLA_GRAPH_TIMEOUT_SECONDS", "3")
        .env("TAVLA_DELIVERY_RETRY_BASE_MS", "50")
        .env("TAVLA_LOG_LEVEL", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    eventually("the second reply to reach the platform", || async {
        (b.stub.changes().len() >= 2).then_some(())
    })
    .await;
    // Killed while waiting for the platform's answer: sent, but not recorded.
    child.kill().await.unwrap();
    let log = log.await.unwrap();
    assert!(log.contains("delivery failed"), "{log}");
    assert!(
        !log.contains(TOKEN),
        "a log line holds the page token:\n{log}"
    );
    let (_, status, _, failure, _) = outbox(&b.app, refused).await;
    assert_eq!(status, "failed");
    let failure = failure.unwrap();
    assert!(
        failure.contains("[redacted]") && !failure.contains(TOKEN),
        "{failure}"
    );
    assert!(failure.contains("renew"), "{failure}");
    assert_eq!(
        outbox(&b.app, held).await.1,
        "sending",
        "the crash left it unrecorded"
    );

    // The next instance takes the row over when the dead one's lease runs out, and finds it.
    b.app.settings.delivery_workers = 1;
    b.app.restart().await;
    let (_, _, attempts, _, in_doubt) = settled(&b.app, held, "sent").await;
    assert_eq!((attempts, in_doubt), (2, 1));
    assert_eq!(b.stub.changes().len(), 2, "not sent twice");
    assert!(b
        .stub
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path == format!("/{PAGE}/conversations")));
    assert_eq!(platform_id(&b.app, held).await.as_deref(), Some("m_1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_send_and_record_does_not_send_twice_sqlite() {
    crash_between_send_and_record(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_send_and_record_does_not_send_twice_postgres() {
    crash_between_send_and_record(Backend::Postgres).await;
}
