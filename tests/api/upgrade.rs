//! Upgrades keep every record. A store is built the way released versions built it: migration
//! 0001 from its file and the rows that schema allowed, then each later migration from its file
//! with rows its own schema allowed (tests/data/upgrade/NNNN.sql). Today's `tavla migrate` then
//! upgrades it, no table loses a row, and today's service serves what was there to the staff of
//! that time, with their old tokens. Two paths: through every release, and from the first release
//! straight to today. And released migrations are never edited: every file's checksum is compared
//! with migrations/checksums.txt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::helpers::{Backend, TestApp};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ANNA: &str = "upgrade-token-anna";
const MONA: &str = "upgrade-token-mona";
const INTEGRATION: &str = "upgrade-token-ida";

fn engine(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The migration files of an engine, by version.
fn migrations(engine: &str) -> Vec<(i64, PathBuf)> {
    let mut files: Vec<(i64, PathBuf)> =
        std::fs::read_dir(Path::new(ROOT).join("migrations").join(engine))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                (name.split('_').next().unwrap().parse().unwrap(), p)
            })
            .collect();
    files.sort();
    files
}

/// The rows written after migration `version`, if any, with `{now}` filled in.
fn rows_after(version: i64) -> Option<String> {
    let path = Path::new(ROOT).join(format!("tests/data/upgrade/{version:04}.sql"));
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.replace("{now}", &chrono::Utc::now().timestamp_millis().to_string()))
}

/// The newest migration that has rows of its own: stepping ends there, today's binary does the rest.
fn newest_with_rows() -> i64 {
    migrations("sqlite")
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| rows_after(*v).is_some())
        .max()
        .unwrap()
}

async fn connect(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.to_string()
    };
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

/// Applies the migration files one at a time up to `until`, as the releases did (each recorded
/// in sqlx's table with its checksum), writing each release's rows after its migration.
async fn build_old_store(url: &str, engine: &str, until: i64) {
    let pool = connect(url).await;
    let released = tempfile::tempdir().unwrap();
    for (version, file) in migrations(engine)
        .into_iter()
        .take_while(|(v, _)| *v <= until)
    {
        std::fs::copy(&file, released.path().join(file.file_name().unwrap())).unwrap();
        let migrator = sqlx::migrate::Migrator::new(released.path()).await.unwrap();
        migrator
            .run(&pool)
            .await
            .unwrap_or_else(|e| panic!("migration {version}: {e}"));
        if let Some(rows) = rows_after(version) {
            sqlx::raw_sql(&rows)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("rows after {version}: {e}"));
        }
        if version == 2 {
            write_audit_trail(&pool).await;
        }
    }
    pool.close().await;
}

/// The audit trail of release 0002: entries chained as tavla chains them (the format an old
/// trail was written in must still verify).
async fn write_audit_trail(pool: &AnyPool) {
    let anna: i64 = sqlx::query_scalar("select id from staff where username = 'anna'")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut prev = "0".repeat(64);
    for (n, (action, target)) in [
        ("conversation.read", "conversation:1"),
        ("search", "q:soporna"),
        ("conversation.claimed", "conversation:1"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = 1_764_000_000_000i64 + n as i64 * 1000;
        let fields = [
            prev.clone(),
            at.to_string(),
            anna.to_string(),
            "anna".into(),
            action.into(),
            target.into(),
            "10.0.0.7".into(),
            "{}".into(),
        ];
        let mut h = Sha256::new();
        for field in &fields {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field.as_bytes());
        }
        let hash = hex::encode(h.finalize());
        sqlx::query(
            "insert into audit (at, actor_id, actor, action, target, address, detail, prev_hash, hash) \
             values ($1, $2, 'anna', $3, $4, '10.0.0.7', '{}', $5, $6)",
        )
        .bind(at)
        .bind(anna)
        .bind(action)
        .bind(target)
        .bind(&prev)
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
        prev = hash;
    }
}

/// Rows in every table (sqlx's own aside).
async fn row_counts(url: &str, engine: &str) -> BTreeMap<String, i64> {
    let pool = connect(url).await;
    let tables = match engine {
        "sqlite" => "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name <> '_sqlx_migrations'",
        _ => "select table_name::text from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations'",
    };
    let names: Vec<String> = sqlx::query_scalar(tables).fetch_all(&pool).await.unwrap();
    let mut counts = BTreeMap::new();
    for name in names {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from \"{name}\""))
            .fetch_one(&pool)
            .await
            .unwrap();
        counts.insert(name, n);
    }
    pool.close().await;
    counts
}

/// Today's binary, as an operator upgrades: `tavla migrate`.
async fn upgrade(url: &str) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .arg("migrate")
        .env("TAVLA_DATABASE_URL", url)
        .env("TAVLA_LOG_LEVEL", "warn")
        .current_dir(ROOT)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "tavla migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the old store up to `until`, upgrades it with today's binary (no table loses a row)
/// and serves it.
async fn upgraded(backend: Backend, until: i64) -> Option<TestApp> {
    TestApp::spawn_prepared(
        backend,
        |_| {},
        |url| async move {
            let engine = engine(backend);
            build_old_store(&url, engine, until).await;
            let before = row_counts(&url, engine).await;
            upgrade(&url).await;
            let after = row_counts(&url, engine).await;
            for (table, rows) in &before {
                assert_eq!(
                    after.get(table),
                    Some(rows),
                    "table {table} after the upgrade"
                );
            }
            assert!(before["messages"] > 0 && before["events"] > 0);
            if until >= 40 {
                faq_placements_carry_their_questions(&url).await;
            }
        },
    )
    .await
}

/// 0041 gave the stored placement its question's time, channel, author and post; the one whose
/// message was erased has none, and stays until its event removes it (which the service, once
/// started, does).
async fn faq_placements_carry_their_questions(url: &str) {
    let pool = connect(url).await;
    type Placed = (i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Placed> = sqlx::query_as(
        "select message_id, asked_at, channel_id, author_id, post_id from faq_members \
         order by message_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let comment: Placed = sqlx::query_as(
        "select m.id, m.platform_time, m.channel_id, m.author_id, c.post_id from messages m \
         join conversations c on c.id = m.conversation_id \
         where m.platform_id = '810000000000001_9001_77'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(comment.4.is_some(), "the comment's post: {comment:?}");
    assert_eq!(
        rows,
        [comment, (999_999, None, None, None, None)],
        "0041 filled in each placed question's time, channel, author and post"
    );
    pool.close().await;
}

/// What every upgraded store must still show through the API.
async fn serves_the_old_inbox(app: &TestApp) {
    let me = app.get_json(ANNA, "/api/v1/me").await;
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str()),
        (Some("anna"), Some("agent")),
        "{me}"
    );
    let karin: i64 =
        sqlx::query_scalar("select id from conversations where thread_key = 'dm:person-karin'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    let conversation = app
        .get_json(ANNA, &format!("/api/v1/conversations/{karin}"))
        .await;
    let messages = conversation["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
    for text in [
        "Hej! När töms soporna i Vallby?",
        "Hej Karin! Soporna töms på fredagar.",
        "Tack! Gäller det hela Vallbyvägen?",
        "Ja, hela Vallbyvägen.",
    ] {
        assert!(texts.contains(&text), "{text:?} in {conversation}");
    }
    let waiting = messages
        .iter()
        .find(|m| m["text"] == "Ja, hela Vallbyvägen.")
        .unwrap();
    assert_eq!(waiting["delivery_detail"]["status"], "pending", "{waiting}");
    // The index is derived: built from the upgraded store's log at start.
    for _ in 0..100 {
        // 503 while the index is filled from the store (a fresh index at the first start).
        let response = app.get(ANNA, "/api/v1/search?q=soporna").await;
        if response.status() == 200 {
            let found: serde_json::Value = response.json().await.unwrap();
            if found["items"].as_array().unwrap().len() == 2 {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the upgraded store's messages are never found by search");
}

async fn audit_verifies(app: &TestApp) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(["audit", "verify"])
        .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
        .env("TAVLA_LOG_LEVEL", "warn")
        .current_dir(ROOT)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn through_every_release(backend: Backend) {
    let Some(app) = upgraded(backend, newest_with_rows()).await else {
        return;
    };
    serves_the_old_inbox(&app).await;
    // What the migrations derived from the old rows.
    let resolved: Option<i64> = sqlx::query_scalar(
        "select resolved_at from conversations where thread_key = 'dm:person-olle'",
    )
    .fetch_one(&app.store.pool)
    .await
    .unwrap();
    assert_eq!(
        resolved,
        Some(1_764_000_160_000),
        "0008 dated the resolved conversation"
    );
    let alerts: Vec<(String, String)> = sqlx::query_as(
        "select k.status, a.status from on_call_alerts a join moderation_cases k on k.id = a.case_id order by k.id",
    )
    .fetch_all(&app.store.pool)
    .await
    .unwrap();
    assert_eq!(
        alerts,
        [
            ("closed".into(), "sent".into()),
            ("open".into(), "pending".into())
        ],
        "0020 kept the alerts"
    );
    // The moderator of that time sees her open cases, with the evidence captured then.
    let cases = app.get_json(MONA, "/api/v1/moderation/cases").await;
    let open: Vec<i64> = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(open.len(), 2, "{cases}");
    for id in open {
        let case = app
            .get_json(MONA, &format!("/api/v1/moderation/cases/{id}"))
            .await;
        if case["case"]["level"] == "S3" {
            assert_eq!(case["evidence"].as_array().unwrap().len(), 1, "{case}");
        }
    }
    let integration = app.get_json(INTEGRATION, "/api/v1/me").await;
    assert_eq!(integration["username"], "service:arendesystem");
    audit_verifies(&app).await;
}

async fn from_the_first_release(backend: Backend) {
    let Some(app) = upgraded(backend, 1).await else {
        return;
    };
    // Training was first recorded in 0002: granted after the upgrade, as an operator would.
    let anna: i64 = sqlx::query_scalar("select id from staff where username = 'anna'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    app.train(anna, "all").await;
    serves_the_old_inbox(&app).await;
    audit_verifies(&app).await;
}

crate::on_each_backend!(
    a_store_built_through_every_release_upgrades_whole,
    through_every_release
);
crate::on_each_backend!(
    a_store_of_the_first_release_upgrades_whole,
    from_the_first_release
);

/// A released migration is never edited: databases that ran it would never get the change, and
/// sqlx refuses to start on them. Each file is compared with the list of released checksums.
#[test]
fn released_migrations_are_never_edited() {
    let list = std::fs::read_to_string(Path::new(ROOT).join("migrations/checksums.txt")).unwrap();
    let released: BTreeMap<&str, &str> = list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once(' ').expect("lines are `FILE SHA256`"))
        .collect();
    let mut problems = Vec::new();
    let mut present = Vec::new();
    for engine in ["sqlite", "postgres"] {
        for (_, path) in migrations(engine) {
            let name = format!("{engine}/{}", path.file_name().unwrap().to_string_lossy());
            let sum = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
            match released.get(name.as_str()) {
                Some(listed) if *listed == sum => {}
                Some(listed) => problems.push(format!(
                    "migrations/{name} was changed after its release (its SHA-256 is {sum}, the released one {listed}). \
                     Undo the edit (git checkout -- migrations/{name}) and make the change in a new migration with the next number, in both engines"
                )),
                None => problems.push(format!(
                    "migrations/{name} is not in migrations/checksums.txt: once it is final, add the line `{name} {sum}` \
                     (from then on it is released and never edited)"
                )),
            }
            present.push(name);
        }
    }
    for name in released.keys().filter(|n| !present.iter().any(|p| p == *n)) {
        problems.push(format!(
            "migrations/{name} was released and is gone; restore it (git checkout -- migrations/{name}): databases have run it"
        ));
    }
    let versions = |engine| {
        migrations(engine)
            .into_iter()
            .map(|(v, _)| v)
            .collect::<Vec<_>>()
    };
    if versions("sqlite") != versions("postgres") {
        problems.push(
            "every migration number needs a file in both migrations/sqlite and migrations/postgres"
                .into(),
        );
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
