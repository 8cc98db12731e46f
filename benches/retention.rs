//! Retention benchmark: `cargo bench --bench retention` (BENCH_MESSAGES, default 100,000).
//!
//! A SQLite store with BENCH_MESSAGES messages in resolved conversations, half direct messages
//! (pseudonymised after two years by the shipped rules) and half comments (deleted after one),
//! one in ten carrying a personnummer, one conversation in fifty under a legal hold, and one
//! reaction per message by its author. Measures the dry run, the run that deletes the comments
//! (and, by `[other]`, the reactions and the people nothing refers to any more), the idempotent
//! second run and the run that pseudonymises the DMs, each with the real retention function and
//! the shipped rules.

use std::time::Instant;

use tavla::privacy::retention::run;
use tavla::privacy::rules::{RetentionRules, DAY_MS};
use tavla::store::audit::Actor;
use tavla::store::Store;

const RESOLVED_AT: i64 = 1_735_689_600_000; // 2025-01-01
const PER_CONVERSATION: usize = 5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}/bench.db", dir.path().display())).await?;
    store.migrate().await?;
    let started = Instant::now();
    seed(&store, n).await?;
    println!(
        "seeded {n} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rules = RetentionRules::built_in();
    let actor = Actor {
        staff_id: None,
        name: "bench".into(),
        address: None,
    };
    for (label, at, dry) in [
        ("dry run after one year", RESOLVED_AT + 400 * DAY_MS, true),
        (
            "run after one year (comments deleted)",
            RESOLVED_AT + 400 * DAY_MS,
            false,
        ),
        (
            "second run at the same moment",
            RESOLVED_AT + 400 * DAY_MS,
            false,
        ),
        (
            "run after two years (DMs pseudonymised)",
            RESOLVED_AT + 800 * DAY_MS,
            false,
        ),
    ] {
        let t = Instant::now();
        let r = run(&store, &rules, at, dry, &actor).await?;
        let s = t.elapsed().as_secs_f64();
        let done = r.deleted + r.pseudonymised;
        println!(
            "{label}: {s:.2} s, deleted {}, pseudonymised {}, kept {}, beside them {:?}{}",
            r.deleted,
            r.pseudonymised,
            r.kept_count,
            r.other,
            if done > 0 && !dry {
                format!(", {:.0} records/s", done as f64 / s)
            } else {
                String::new()
            }
        );
    }
    store.close().await;
    Ok(())
}

async fn seed(store: &Store, n: usize) -> anyhow::Result<()> {
    let mut tx = store.pool.begin().await?;
    let channel: i64 = sqlx::query_scalar(
        "insert into channels (platform, platform_id, name, approved, created_at) values ('facebook', 'bench', 'Kommunen', 1, $1) returning id",
    )
    .bind(RESOLVED_AT)
    .fetch_one(&mut *tx)
    .await?;
    let conversations = n.div_ceil(PER_CONVERSATION);
    let mut written = 0;
    for c in 0..conversations {
        let dm = c % 2 == 0;
        let author: i64 = sqlx::query_scalar(
            "insert into authors (platform, platform_id, name, first_seen_at) values ('facebook', $1, $2, $3) returning id",
        )
        .bind(format!("person{c}"))
        .bind(format!("Person Nummer {c}"))
        .bind(RESOLVED_AT)
        .fetch_one(&mut *tx)
        .await?;
        let conversation: i64 = sqlx::query_scalar(
            "insert into conversations (channel_id, kind, thread_key, person_id, status, resolved_at, message_count, created_at, updated_at) \
             values ($1, $2, $3, $4, 'resolved', $5, $6, $7, $8) returning id",
        )
        .bind(channel)
        .bind(if dm { "dm" } else { "comments" })
        .bind(format!("t:{c}"))
        .bind(dm.then_some(author))
        .bind(RESOLVED_AT)
        .bind(PER_CONVERSATION as i64)
        .bind(RESOLVED_AT)
        .bind(RESOLVED_AT)
        .fetch_one(&mut *tx)
        .await?;
        for i in 0..PER_CONVERSATION {
            if written == n {
                break;
            }
            let text = if written % 10 == 0 {
                "Hej, mitt personnummer är 811218-9876, ring 070-123 45 67 om bygglovet"
            } else {
                "När töms soporna på Storgatan? Ingen har fått besked om den nya turlistan."
            };
            sqlx::query(
                "insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, raw, platform_time, received_at) \
                 values ($1, $2, $3, 'inbound', $4, $5, $6, $7, $8, $9)",
            )
            .bind(conversation)
            .bind(channel)
            .bind(if dm { "dm" } else { "comment" })
            .bind(format!("m{c}-{i}"))
            .bind(author)
            .bind(text)
            .bind(format!("{{\"text\": \"{text}\"}}"))
            .bind(RESOLVED_AT - 1000)
            .bind(RESOLVED_AT - 1000)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "insert into reactions (channel_id, target_platform_id, author_id, reaction, platform_time, received_at) \
                 values ($1, $2, $3, 'like', $4, $5)",
            )
            .bind(channel)
            .bind(format!("m{c}-{i}"))
            .bind(author)
            .bind(RESOLVED_AT - 1000)
            .bind(RESOLVED_AT - 1000)
            .execute(&mut *tx)
            .await?;
            written += 1;
        }
        if c % 50 == 0 {
            sqlx::query(
                "insert into legal_holds (scope, target_id, reason, placed_by, placed_at) values ('conversation', $1, 'bench', 'bench', $2)",
            )
            .bind(conversation)
            .bind(RESOLVED_AT)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
