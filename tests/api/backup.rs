//! Backups an IT department can rely on: `tavla backup` while webhooks keep arriving, `tavla
//! restore` refused while the service runs and done once it is stopped; the restored store equals
//! the backup table by table, its audit trail holds, and what is derived from it (the search
//! index, live streams) follows the restored store rather than the one it replaced.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::any::AnyPoolOptions;

use crate::events::read_events;
use crate::helpers::{Backend, TestApp, SECRET};
use crate::webhooks::dm_batch;

const PAGE: &str = "700000000000001";

/// Runs `tavla` on the test's store, with nothing listening where it would probe.
async fn tavla(app: &TestApp, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(args)
        .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
        .env("TAVLA_DATA_DIR", &app.settings.data_dir)
        .env("TAVLA_LISTEN", "127.0.0.1:0")
        .env("TAVLA_LOG_LEVEL", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .expect("tavla runs")
}

/// A word no other message has, for the search to find one message by.
fn word(n: usize) -> String {
    // Each digit as two consonants that no Swedish ending rule strips, so two words differ by
    // at least two letters: search's one-typo tolerance never takes one for another.
    const PAIRS: [&str; 10] = ["bb", "cc", "ff", "hh", "jj", "kk", "ll", "mm", "pp", "rr"];
    let letters: String = n
        .to_string()
        .bytes()
        .map(|d| PAIRS[usize::from(d - b'0')])
        .collect();
    format!("zq{letters}")
}

/// Webhooks from a few senders at once until stopped; each acknowledged mid is recorded.
fn load(
    app: &TestApp,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..3)
        .map(|sender| {
            let (url, stop, acked) = (app.url("/webhooks/meta"), stop.clone(), acked.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let mid = format!("m-{sender}-{n}");
                    let text = format!("Fråga {} om bygglov", word(sender * 100_000 + n));
                    let body =
                        dm_batch(&[(PAGE, &format!("person-{sender}-{}", n % 7), &mid, &text)]);
                    let signature = tavla::ingest::signature::sign(SECRET.as_bytes(), &body);
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", signature)
                        .body(body)
                        .send()
                        .await;
                    if response.is_ok_and(|r| r.status() == 200) {
                        acked.lock().unwrap().push(mid);
                    }
                }
            })
        })
        .collect()
}

async fn wait_for_acks(acked: &Mutex<Vec<String>>, at_least: usize) {
    for _ in 0..600 {
        if acked.lock().unwrap().len() >= at_least {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the load did not reach {at_least} acknowledged webhooks");
}

/// One connection to a SQLite file (ATTACH holds per connection).
async fn open(path: &Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("the file opens")
}

async fn platform_ids(pool: &sqlx::AnyPool) -> Vec<String> {
    sqlx::query_scalar("select platform_id from messages where platform_id is not null")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_table() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let agent = app.token("agent", "agent").await;
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let senders = load(&app, stop.clone(), acked.clone());
    wait_for_acks(&acked, 30).await;

    let before: Vec<String> = acked.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tavla-backup.db");
    let made = tavla(&app, &["backup", file.to_str().unwrap()]).await;
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let during = acked.lock().unwrap().len() - before.len();
    let after_backup = acked.lock().unwrap().len();
    wait_for_acks(&acked, after_backup + 10).await;
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    let after: Vec<String> = acked.lock().unwrap()[after_backup..].to_vec();
    eprintln!(
        "{} webhooks acknowledged before the backup, {during} while it ran, {} after",
        before.len(),
        after.len()
    );

    // The backup is a whole snapshot: everything acknowledged before it, nothing after.
    let backup = open(&file).await;
    let integrity: String = sqlx::query_scalar("pragma integrity_check")
        .fetch_one(&backup)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let broken_keys: Vec<String> =
        sqlx::query_scalar("select \"table\" from pragma_foreign_key_check")
            .fetch_all(&backup)
            .await
            .unwrap();
    assert!(broken_keys.is_empty(), "{broken_keys:?}");
    let in_backup = platform_ids(&backup).await;
    assert!(
        before.iter().all(|m| in_backup.contains(m)),
        "every acknowledged message is in the backup"
    );
    assert!(
        after.iter().all(|m| !in_backup.contains(m)),
        "nothing acknowledged after it"
    );
    let unlogged: i64 = sqlx::query_scalar(
        "select count(*) from messages m where not exists (select 1 from events e \
         where e.kind = 'message.received' and e.message_id = m.id)",
    )
    .fetch_one(&backup)
    .await
    .unwrap();
    assert_eq!(unlogged, 0, "each message's event is in the same snapshot");
    backup.close().await;

    // Not while the service runs.
    let refused = tavla(&app, &["restore", file.to_str().unwrap()]).await;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("stop the service first"),
        "{said}"
    );
    let live_seq = app.store.last_event_seq().await.unwrap();

    app.stop().await;
    app.store.close().await;
    let restored = tavla(&app, &["restore", file.to_str().unwrap()]).await;
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(
        said.contains("the database it replaced is kept as"),
        "{said}"
    );

    compare_every_table(&app, &file).await;
    let verified = tavla(&app, &["audit", "verify"]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    // Served again: the index was rebuilt from the restored store, and follows it.
    app.store = tavla::store::Store::connect(app.settings.database_url.expose())
        .await
        .unwrap();
    app.start().await;
    let first = &before[0];
    let (sender, n) = first[2..].split_once('-').unwrap();
    let first_word = word(sender.parse::<usize>().unwrap() * 100_000 + n.parse::<usize>().unwrap());
    let found = app
        .get_json(&agent, &format!("/api/v1/search?q={first_word}"))
        .await;
    // The message with the word comes first (other made-up words can share a compound part
    // with it and follow, ranked below the exact match).
    let top = found["items"][0]["snippet"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        top.split(|c: char| !c.is_alphanumeric())
            .any(|w| w == first_word),
        "{found}"
    );
    let stream = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&agent)
        .header("last-event-id", live_seq.to_string())
        .send()
        .await
        .unwrap();
    let fresh = dm_batch(&[(PAGE, "person-new", "m-new", "Ny fråga zqnyfraga")]);
    assert_eq!(app.webhook(&fresh).await.status(), 200);
    let events = read_events(stream, 1).await;
    assert_eq!(
        events[0].1, "message.received",
        "a stream resumed from before the restore hears new events"
    );
    for _ in 0..100 {
        let found = app.get_json(&agent, "/api/v1/search?q=zqnyfraga").await;
        if found["items"].as_array().unwrap().len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "a message after the restore is never found: the index does not follow the restored log"
    );
}

/// Every table of the restored store equals the backup's, row for row; the audit trail has one
/// entry more, the restore itself, and its anchor moved to it.
async fn compare_every_table(app: &TestApp, backup: &Path) {
    let db = tavla::store::sqlite_path(app.settings.database_url.expose()).unwrap();
    let pool = open(&db).await;
    sqlx::query("attach database $1 as b")
        .bind(backup.display().to_string())
        .execute(&pool)
        .await
        .unwrap();
    let tables = |schema: &str| {
        format!("select name from {schema}.sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
    };
    let names: Vec<String> = sqlx::query_scalar(&tables("b"))
        .fetch_all(&pool)
        .await
        .unwrap();
    let restored: Vec<String> = sqlx::query_scalar(&tables("main"))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names, restored, "the same tables");
    assert!(names.len() > 20, "{names:?}");
    for table in &names {
        let differ = |a: &str, b: &str| {
            format!("select count(*) from (select * from {a}.\"{table}\" except select * from {b}.\"{table}\")")
        };
        let only_restored: i64 = sqlx::query_scalar(&differ("main", "b"))
            .fetch_one(&pool)
            .await
            .unwrap();
        let only_backup: i64 = sqlx::query_scalar(&differ("b", "main"))
            .fetch_one(&pool)
            .await
            .unwrap();
        let expected = match table.as_str() {
            "audit" => (1, 0),
            "audit_head" => (1, 1),
            _ => (0, 0),
        };
        assert_eq!((only_restored, only_backup), expected, "table {table}");
    }
    let last: String = sqlx::query_scalar("select action from audit order by id desc limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last, "store.restored");
    pool.close().await;
}

/// PostgreSQL is backed up with its own tools, as the README says: `tavla backup` names them,
/// pg_dump copies the database while tavla serves it, pg_restore fills an empty database, and
/// tavla serves that with every table the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_backed_up_with_pg_dump_as_documented() {
    let Some(mut app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    if std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .is_err()
    {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI needs pg_dump (Debian: postgresql-client)"
        );
        eprintln!("skipping: pg_dump is not installed");
        return;
    }
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let agent = app.token("agent", "agent").await;
    for n in 0..3 {
        let body = dm_batch(&[(
            PAGE,
            &format!("person-{n}"),
            &format!("m-{n}"),
            "Hej, när töms soporna?",
        )]);
        assert_eq!(app.webhook(&body).await.status(), 200);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tavla.dump");
    let file = file.to_str().unwrap();
    let refused = tavla(&app, &["backup", file]).await;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("pg_dump --format=custom"),
        "{said}"
    );

    let url = app.settings.database_url.expose().clone();
    let run = |program: &str, args: Vec<String>| {
        let out = std::process::Command::new(program)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        "pg_dump",
        vec![
            "--format=custom".into(),
            format!("--file={file}"),
            url.clone(),
        ],
    );
    let admin = crate::helpers::postgres_admin_url().await.unwrap();
    let name = format!("tavla_test_restored_{}", std::process::id());
    let admin_pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("drop database if exists {name}"))
        .execute(&admin_pool)
        .await
        .unwrap();
    sqlx::query(&format!("create database {name}"))
        .execute(&admin_pool)
        .await
        .unwrap();
    admin_pool.close().await;
    let restored_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    run(
        "pg_restore",
        vec![
            "--no-owner".into(),
            format!("--dbname={restored_url}"),
            file.into(),
        ],
    );

    let (original, restored) = (
        sqlx::AnyPool::connect(&url).await.unwrap(),
        sqlx::AnyPool::connect(&restored_url).await.unwrap(),
    );
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = 'public' \
         and table_type = 'BASE TABLE' order by 1",
    )
    .fetch_all(&original)
    .await
    .unwrap();
    assert!(tables.len() > 20, "{tables:?}");
    for table in &tables {
        let digest = format!(
            "select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from \"{table}\" t"
        );
        let a: String = sqlx::query_scalar(&digest)
            .fetch_one(&original)
            .await
            .unwrap();
        let b: String = sqlx::query_scalar(&digest)
            .fetch_one(&restored)
            .await
            .unwrap();
        assert_eq!(a, b, "table {table}");
    }
    original.close().await;
    restored.close().await;

    app.stop().await;
    app.settings.database_url = restored_url.clone().into();
    app.store = tavla::store::Store::connect(&restored_url).await.unwrap();
    app.start().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(app.conversations(&agent, "queue=dm").await.len(), 3);
}
