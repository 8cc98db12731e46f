//! Reports benchmark: `cargo bench --bench reports` (BENCH_MESSAGES, default 1,000,000).
//!
//! Fills a store with BENCH_MESSAGES messages over the third quarter of 2026 and a quarter as many
//! over the second (so the previous period has figures too), with their message events, status
//! changes, moderation cases with steps and triage flags, written straight into the store in
//! big transactions. Then times `tavla report --quarter 2026Q3` as the service builds it (every
//! figure for the quarter and the quarter before), on SQLite and, when it answers, PostgreSQL
//! (TAVLA_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; BENCH_POSTGRES=0
//! skips it). FAQ figures come from the in-memory clusters (timed in `benches/faq.rs`), so the
//! clusterer here is built over the empty store (over the whole store when BENCH_SQLITE_PATH
//! names one filled before).

mod common;
use common::{drop_postgres, fresh_postgres, Rng};
use std::sync::Arc;
use std::time::Instant;

use tavla::reports::{ReportOptions, ReportPeriod};
use tavla::store::Store;

const CHANNELS: u64 = 20;
const DM_PEOPLE: u64 = 80_000;
const POSTS: u64 = 6_000;
const ROUNDS: usize = 5;

/// Executes one multi-row insert of generated (never user-supplied) values.
async fn insert(store: &Store, tx: &mut tavla::store::Tx<'_>, head: &str, rows: &[String]) {
    if rows.is_empty() {
        return;
    }
    // PostgreSQL's identity columns take the bench's own ids only when told to.
    let overriding = if store.backend == tavla::store::Backend::Postgres && head.contains("(id,") {
        " overriding system value"
    } else {
        ""
    };
    let sql = format!("{head}{overriding} values {}", rows.join(","));
    sqlx::query(&sql)
        .execute(&mut **tx)
        .await
        .expect("bench insert");
}

async fn fill(store: &Store, messages: u64) -> anyhow::Result<()> {
    let mut rng = Rng(0x7265_706f_7274);
    let q3 = ReportPeriod::quarter(2026, 3);
    let q2 = q3.previous();
    let mut tx = store.begin().await?;
    // The moderator whose steps the cases record (steps refer to staff).
    let staff = vec!["(1, 'mod', 'moderator', 0)".to_string()];
    insert(
        store,
        &mut tx,
        "insert into staff (id, username, role, created_at)",
        &staff,
    )
    .await;
    let channels: Vec<String> = (1..=CHANNELS)
        .map(|c| format!("({c}, 'facebook', 'page{c}', 'Kanal {c}', 1, 0)"))
        .collect();
    insert(
        store,
        &mut tx,
        "insert into channels (id, platform, platform_id, name, approved, created_at)",
        &channels,
    )
    .await;
    // Conversations: one per person (DMs) and one per post (comment threads).
    let mut rows = Vec::new();
    for p in 1..=POSTS {
        let ch = 1 + p % CHANNELS;
        rows.push(format!("({p}, {ch}, 'post{p}', 'Kommunen informerar om ändrade öppettider för simhallen nummer {p}.', 0, 0)"));
        if rows.len() == 1000 {
            insert(
                store,
                &mut tx,
                "insert into posts (id, channel_id, platform_id, text, removed, created_at)",
                &rows,
            )
            .await;
            rows.clear();
        }
    }
    insert(
        store,
        &mut tx,
        "insert into posts (id, channel_id, platform_id, text, removed, created_at)",
        &rows,
    )
    .await;
    rows.clear();
    let head = "insert into conversations (id, channel_id, kind, thread_key, post_id, status, message_count, created_at, updated_at)";
    for id in 1..=DM_PEOPLE + POSTS {
        let row = if id <= DM_PEOPLE {
            format!(
                "({id}, {}, 'dm', 'dm:p{id}', null, 'open', 0, 0, 0)",
                1 + id % CHANNELS
            )
        } else {
            let p = id - DM_PEOPLE;
            format!(
                "({id}, {}, 'comments', 'post:post{p}', {p}, 'open', 0, 0, 0)",
                1 + p % CHANNELS
            )
        };
        rows.push(row);
        if rows.len() == 1000 {
            insert(store, &mut tx, head, &rows).await;
            rows.clear();
        }
    }
    insert(store, &mut tx, head, &rows).await;
    store.commit(tx).await?;

    // Messages: 65 % direct messages, 35 % comments bunched after their post (debates flare up).
    let raw = "x".repeat(300);
    let mhead = "insert into messages (id, conversation_id, channel_id, kind, direction, platform_id, text, attachments, state, delivery, platform_time, received_at, raw)";
    let ehead =
        "insert into events (kind, channel_id, conversation_id, message_id, payload, created_at)";
    let mut id = 0u64;
    for (period, count) in [(q3, messages), (q2, messages / 4)] {
        let (start, end) = (period.start_ms(), period.end_ms());
        let span = (end - start) as f64;
        let post_time = |p: u64| start + ((p * 7919) % 1000) as i64 * (end - start) / 1000;
        let mut tx = store.begin().await?;
        let (mut mrows, mut erows) = (Vec::new(), Vec::new());
        for _ in 0..count {
            id += 1;
            let dm = rng.unit() < 0.65;
            let inbound = rng.unit() < 0.7;
            let (conversation, channel, kind, t) = if dm {
                let person = 1 + rng.below(DM_PEOPLE);
                let t = start + (rng.unit() * span) as i64;
                (person, 1 + person % CHANNELS, "dm", t)
            } else {
                let p = 1 + rng.below(POSTS);
                let after = (-rng.unit().max(1e-9).ln() * 6.0 * 3_600_000.0) as i64;
                let t = (post_time(p) + after).min(end - 1);
                (DM_PEOPLE + p, 1 + p % CHANNELS, "comment", t)
            };
            let (direction, delivery) = if inbound {
                ("inbound", "null")
            } else {
                ("outbound", "'sent'")
            };
            mrows.push(format!(
                "({id}, {conversation}, {channel}, '{kind}', '{direction}', 'm{id}', 'Hej, när öppnar simhallen igen? {id}', '[]', 'visible', {delivery}, {t}, {t}, '{raw}')"
            ));
            erows.push(format!(
                "('message.received', {channel}, {conversation}, {id}, '{{}}', {t})"
            ));
            if mrows.len() == 1000 {
                insert(store, &mut tx, mhead, &mrows).await;
                insert(store, &mut tx, ehead, &erows).await;
                mrows.clear();
                erows.clear();
            }
            if id.is_multiple_of(100_000) {
                store.commit(tx).await?;
                tx = store.begin().await?;
            }
        }
        insert(store, &mut tx, mhead, &mrows).await;
        insert(store, &mut tx, ehead, &erows).await;
        // Status changes: a resolution for one DM conversation in four, "waiting" for one in 40.
        let mut srows = Vec::new();
        for person in 1..=DM_PEOPLE {
            let to = match person % 40 {
                0 => "waiting",
                n if n % 4 == 0 => "resolved",
                _ => continue,
            };
            let t = start + (rng.unit() * span) as i64;
            srows.push(format!(
                "('conversation.status_changed', {}, {person}, null, '{{\"from\":\"open\",\"staff_id\":1,\"to\":\"{to}\"}}', {t})",
                1 + person % CHANNELS
            ));
            if srows.len() == 1000 {
                insert(store, &mut tx, ehead, &srows).await;
                srows.clear();
            }
        }
        insert(store, &mut tx, ehead, &srows).await;
        store.commit(tx).await?;
    }

    // Moderation: a case for one comment in 200, a quarter of them reported to the police; flags
    // on one comment in 50.
    let mut tx = store.begin().await?;
    let comments: Vec<(i64, i64, i64, i64)> = {
        use sqlx::Row;
        let rows = sqlx::query(
            "select id, conversation_id, channel_id, platform_time from messages where kind = 'comment' and direction = 'inbound' and id % 50 = 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    };
    let (mut frows, mut crows, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    for (n, (mid, conversation, channel, t)) in comments.iter().enumerate() {
        frows.push(format!("({mid}, 'S2', 0.8, '[\"insult\"]', '[]', {t})"));
        if n % 4 == 0 {
            let case = n / 4 + 1;
            let level = ["S1", "S2", "S3", "S4"][case % 4];
            crows.push(format!(
                "({case}, {mid}, {conversation}, {channel}, '{level}', '[\"insult\"]', 'triage', '{level}', '1', 'closed', {t}, {t})"
            ));
            steps.push(format!(
                "({case}, 'remove', 1, 'mod', {}, '{{}}')",
                t + 1_800_000
            ));
            if case % 4 == 0 {
                steps.push(format!(
                    "({case}, 'police_report', 1, 'mod', {}, '{{\"reference\":\"5000-K1\"}}')",
                    t + 3_600_000
                ));
            }
        }
    }
    for chunk in frows.chunks(1000) {
        insert(store, &mut tx, "insert into message_flags (message_id, severity, score, categories, findings, flagged_at)", chunk).await;
    }
    for chunk in crows.chunks(1000) {
        insert(store, &mut tx, "insert into moderation_cases (id, message_id, conversation_id, channel_id, level, categories, source, routine_id, routine_version, status, opened_at, due_at)", chunk).await;
    }
    for chunk in steps.chunks(1000) {
        insert(
            store,
            &mut tx,
            "insert into moderation_steps (case_id, step, actor_id, actor, at, detail)",
            chunk,
        )
        .await;
    }
    store.commit(tx).await?;
    if store.backend == tavla::store::Backend::Postgres {
        // Explicit ids were inserted: move the sequences on, and give the planner statistics.
        for table in [
            "staff",
            "channels",
            "posts",
            "conversations",
            "messages",
            "moderation_cases",
        ] {
            sqlx::query(&format!(
                "select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))"
            ))
            .execute(&store.pool)
            .await?;
        }
        // Vacuum too, as autovacuum would by then: the visibility map lets the report read
        // its covering index without visiting the table.
        sqlx::query("vacuum analyze").execute(&store.pool).await?;
    } else {
        sqlx::query("analyze").execute(&store.pool).await?;
    }
    Ok(())
}

async fn measure(name: &str, store: Store, messages: u64) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let faq = Arc::new(
        tavla::faq::signals::FaqSignals::build(
            &store,
            tavla::faq::cluster::ClusterConfig::default(),
        )
        .await?,
    );
    let existing: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&store.pool)
        .await?;
    if existing == 0 {
        fill(&store, messages).await?;
    }
    let fill_s = started.elapsed().as_secs_f64();
    let total: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&store.pool)
        .await?;
    if existing == 0 {
        println!("{name}: filled {total} messages in {fill_s:.1} s");
    } else {
        println!("{name}: reused a store of {total} messages (BENCH_SQLITE_PATH)");
    }
    let options = ReportOptions {
        dm_service_level_hours: 8,
        comment_service_level_hours: 24,
        heated_min_comments: 10,
        faq_top: 10,
        // The messages' figures are measured here; the store has no posts' figures to rank.
        post_metric: None,
    };
    let q3 = ReportPeriod::quarter(2026, 3);
    // Each part once, to see where the time goes.
    let (s, e) = (q3.start_ms(), q3.end_ms());
    let part = |label: &'static str, t: Instant| {
        println!(
            "  {label:<28} {:>7.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        )
    };
    let t = Instant::now();
    let mut read = 0u64;
    store
        .report_messages(s - 7 * 86_400_000, e + 7 * 86_400_000, None, |_| read += 1)
        .await?;
    part("messages pass (read only)", t);
    let t = Instant::now();
    let flagged = store.report_flagged(s - 86_400_000, e, None).await?;
    part("flagged comments", t);
    let t = Instant::now();
    let resolutions = store.report_resolutions(s, e, None).await?;
    part("resolutions", t);
    let t = Instant::now();
    store.report_waiting(e, None).await?;
    part("waiting on the person", t);
    let t = Instant::now();
    let cases = store.report_cases(s, e, None).await?;
    part("moderation cases", t);
    println!(
        "  rows: {read} messages read, {} flagged, {} resolutions, {} cases",
        flagged.len(),
        resolutions.len(),
        cases.len(),
    );
    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        report = Some(
            tavla::reports::build(
                &store,
                faq.clone(),
                q3,
                &tavla::store::scope::ReadScope::operator(),
                &options,
            )
            .await?,
        );
        times.push(t.elapsed());
    }
    times.sort();
    let report = report.expect("a report");
    let inbound: f64 = report
        .totals
        .iter()
        .filter_map(|r| r.figures.get("inbound").and_then(|f| f.value))
        .sum();
    let median = times[times.len() / 2];
    println!(
        "{name}: quarter report 2026Q3 (and 2026Q2 beside it): median {:.2} s, best {:.2} s over {ROUNDS} runs; {inbound} inbound, {} heated threads",
        median.as_secs_f64(),
        times[0].as_secs_f64(),
        report.moderation.heated_threads.value.unwrap_or(0.0)
    );
    Ok(
        serde_json::json!({"backend": name, "messages": total, "fill_s": fill_s,
        "report_median_s": median.as_secs_f64(), "report_best_s": times[0].as_secs_f64()}),
    )
}

fn main() -> anyhow::Result<()> {
    let messages: u64 = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // BENCH_SQLITE_PATH keeps the filled SQLite store, and a later run reuses it (filling
        // takes longer than the report: this is for working on the report's queries).
        let dir = tempfile::tempdir()?;
        let path = std::env::var("BENCH_SQLITE_PATH")
            .unwrap_or_else(|_| format!("{}/bench.db", dir.path().display()));
        let store = Store::connect(&format!("sqlite://{path}")).await?;
        store.migrate().await?;
        let mut results = vec![measure("sqlite", store.clone(), messages).await?];
        store.close().await;
        if std::env::var("BENCH_POSTGRES").as_deref() != Ok("0") {
            match fresh_postgres().await {
                Ok((admin, name, url)) => {
                    let store = Store::connect(&url).await?;
                    store.migrate().await?;
                    let result = measure("postgres", store.clone(), messages).await;
                    store.close().await;
                    drop_postgres(&admin, &name).await;
                    results.push(result?);
                }
                Err(why) => println!("postgres: skipped ({why})"),
            }
        }
        println!("{}", serde_json::json!({"reports": results}));
        Ok(())
    })
}
