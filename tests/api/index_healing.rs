//! The search index is derived from the store, so damage to it heals: an index that cannot be
//! opened at start (a truncated meta.json, a lost segment file) is set aside and rebuilt from the
//! store while the service answers, `tavla reindex` rebuilds instead of failing, and damage found
//! while running is healed the same way. Meanwhile search answers 503 with Retry-After and how
//! far the rebuild is, never a partial result.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_backends;

const PAGE: &str = "930000000000001";
/// A word every seeded message has.
const COMMON: &str = "stadsbiblioteket";

async fn ingest(app: &TestApp, admin: &str, from: usize, to: usize) {
    let messages: Vec<Value> = (from..to)
        .map(|i| {
            json!({"platform": "facebook", "channel": PAGE, "kind": "dm", "id": format!("m{i}"),
                "author": {"id": format!("person{i}")}, "time": 1_764_000_000_000i64 + i as i64,
                "text": format!("Har {COMMON} öppet på söndag? fråga{i}")})
        })
        .collect();
    let r = app
        .post(admin, "/api/v1/messages", json!({ "messages": messages }))
        .await;
    assert_eq!(r.status(), 200);
}

/// Messages from `from` to `to`, and an agent who reads DMs.
async fn seeded(app: &TestApp, n: usize) -> String {
    app.register_channel("facebook", PAGE, "Biblioteket").await;
    let admin = app.token("admin", "admin").await;
    ingest(app, &admin, 0, n).await;
    let agent = app.token("agent", "agent").await;
    every_message_found(app, &agent, n).await;
    agent
}

/// Searches until every message is found. Each answer on the way is either a result or a 503
/// that says the index is being rebuilt, with Retry-After and progress.
async fn every_message_found(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let mut seen_rebuilding = Vec::new();
    for _ in 0..400 {
        let r = app.get(token, &format!("/api/v1/search?q={COMMON}")).await;
        match r.status().as_u16() {
            200 => {
                let body: Value = r.json().await.unwrap();
                if body["total"] == n {
                    return seen_rebuilding;
                }
            }
            503 => {
                assert!(r.headers().contains_key("retry-after"), "Retry-After");
                let problem: Value = r.json().await.unwrap();
                let detail = problem["detail"].as_str().unwrap();
                assert!(detail.contains("rebuilt from the store"), "{detail}");
                assert!(problem["rebuilding"]["done"].is_u64(), "{problem}");
                assert!(problem["rebuilding"]["total"].is_u64(), "{problem}");
                seen_rebuilding.push(problem);
            }
            other => panic!("search answered {other}: {}", r.text().await.unwrap()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("search never found all {n} messages again");
}

fn index_dir(app: &TestApp) -> PathBuf {
    app.settings.data_dir.join("search")
}

/// The copies of damaged indexes set aside beside the index.
fn set_aside(app: &TestApp) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(&app.settings.data_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("search.damaged-"))
        })
        .collect();
    found.sort();
    found
}

fn truncate_meta(dir: &Path) {
    let meta = dir.join("meta.json");
    let len = std::fs::metadata(&meta).expect("meta.json").len();
    let file = std::fs::OpenOptions::new().write(true).open(&meta).unwrap();
    file.set_len(len / 2).unwrap();
}

/// Deletes the largest file of a segment (named by its 32-hex-digit id).
fn lose_a_segment_file(dir: &Path) {
    let victim = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().into_string().unwrap();
            name.len() > 33 && name[..32].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a segment file");
    std::fs::remove_file(victim.path()).unwrap();
}

on_both_backends!(
    a_truncated_meta_json_is_set_aside_and_rebuilt,
    |mut app: TestApp| async move {
        let agent = seeded(&app, 30).await;
        app.stop().await;
        truncate_meta(&index_dir(&app));
        app.start().await;
        every_message_found(&app, &agent, 30).await;
        let aside = set_aside(&app);
        assert_eq!(aside.len(), 1, "the damaged index is kept for inspection");
        assert!(aside[0].join("meta.json").exists());
    }
);

on_both_backends!(
    a_lost_segment_file_is_set_aside_and_rebuilt_and_one_copy_is_kept,
    |mut app: TestApp| async move {
        let agent = seeded(&app, 30).await;
        for _ in 0..2 {
            app.stop().await;
            lose_a_segment_file(&index_dir(&app));
            app.start().await;
            every_message_found(&app, &agent, 30).await;
        }
        assert_eq!(set_aside(&app).len(), 1, "older copies are removed");
        // Healed, it follows the log again.
        let admin = app.token("admin2", "admin").await;
        ingest(&app, &admin, 30, 35).await;
        every_message_found(&app, &agent, 35).await;
    }
);

on_both_backends!(
    reindex_rebuilds_a_damaged_index,
    |mut app: TestApp| async move {
        let agent = seeded(&app, 20).await;
        app.stop().await;
        lose_a_segment_file(&index_dir(&app));
        truncate_meta(&index_dir(&app));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
            .arg("reindex")
            .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
            .env("TAVLA_DATA_DIR", &app.settings.data_dir)
            .env("TAVLA_LOG_LEVEL", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("20 of 20 messages indexed"), "{stderr}");
        assert!(
            stderr.contains("set aside"),
            "the operator is told: {stderr}"
        );
        assert_eq!(set_aside(&app).len(), 1);
        app.start().await;
        let rebuilding = every_message_found(&app, &agent, 20).await;
        assert!(rebuilding.is_empty(), "reindex left a whole index");
    }
);

on_both_backends!(
    an_index_lost_while_running_is_rebuilt,
    |app: TestApp| async move {
        let agent = seeded(&app, 30).await;
        // The folder goes (a clean-up run wild): the open files live on until the next commit,
        // which cannot write its segment and meets the damage.
        std::fs::remove_dir_all(index_dir(&app)).unwrap();
        let admin = app.token("admin2", "admin").await;
        ingest(&app, &admin, 30, 31).await;
        every_message_found(&app, &agent, 31).await;
        assert!(
            index_dir(&app).join("meta.json").exists(),
            "a fresh index in its place"
        );
    }
);
