//! Search over HTTP at BENCH_MESSAGES messages, every search audited: the service itself (SQLite),
//! its store filled through the ingest path (the group committer, without triage), its index
//! rebuilt from the store at start as after a restore. BENCH_SEARCH_DIR keeps the filled store
//! and index for the next run (which then skips the filling).
//!
//! One client asks the 30 queries one at a time, as an agent (DMs, visible), with no filter, one
//! channel and one month, ROUNDS times after a warm-up; then 8 clients at once. The service's
//! `Server-Timing` header says where each search's time went.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tavla::model::{
    Attachment, Change, ChannelRef, Direction, Inbound, Item, MessageItem, MessageKind, Person,
    Platform,
};
use tavla::search::IndexedMessage;
use tavla::store::Store;

use super::{message, stats, CHANNELS, MONTH_MS, QUERIES, ROUNDS, START_MS};

const CLIENTS: usize = 8;

fn page(channel: i64) -> String {
    format!("9000000000{channel:05}")
}

/// The generated message as the platform would have sent it.
fn inbound(m: &IndexedMessage) -> Inbound {
    let dm = m.kind == "dm";
    let person = if dm {
        format!("p{}", m.conversation_id)
    } else {
        format!("a{}", m.author_id.unwrap_or(0))
    };
    let change = match m.state.as_str() {
        "hidden" => Change::Hidden,
        "removed" => Change::Removed,
        "deleted" => Change::Deleted,
        _ => Change::Created,
    };
    let attachments = if m.has_attachments {
        vec![Attachment {
            kind: "image".into(),
            url: None,
            name: None,
        }]
    } else {
        Vec::new()
    };
    Inbound {
        channel: ChannelRef {
            platform: Platform::Facebook,
            platform_id: page(m.channel_id),
        },
        item: Item::Message(MessageItem {
            change,
            kind: if dm {
                MessageKind::Dm
            } else {
                MessageKind::Comment
            },
            direction: if m.direction == "inbound" {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            platform_id: format!("m{}", m.id),
            person: Person {
                platform_id: person,
                name: Some("Invånare".into()),
            },
            post_id: (!dm).then(|| format!("{}_{}", page(m.channel_id), m.conversation_id)),
            parent_id: None,
            text: m.text.clone(),
            attachments,
            platform_time: m.platform_time,
            revision: "1".into(),
            extra: None,
        }),
        raw: json!({}),
    }
}

/// Fills the store through the group committer: four writers, 500 messages a submission.
async fn fill(store: &Store, n: u64) -> anyhow::Result<f64> {
    let actor = tavla::store::audit::Actor::command_line();
    for c in 1..=CHANNELS as i64 {
        let channel = tavla::store::channels::NewChannel {
            platform: Some(Platform::Facebook),
            platform_id: page(c),
            name: format!("Kanal {c}"),
            approved: true,
            ..Default::default()
        };
        store.add_channel(&channel, &actor).await?;
    }
    let ingestor = tavla::ingest::Ingestor::start(store.clone(), 10_000, 2000, None);
    let started = Instant::now();
    const WRITERS: u64 = 4;
    let writers = (0..WRITERS).map(|w| {
        let ingestor = ingestor.clone();
        tokio::spawn(async move {
            let mut i = w * 500;
            while i < n {
                let items = (i..(i + 500).min(n))
                    .map(|j| inbound(&message(j, n)))
                    .collect();
                ingestor
                    .submit(items)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if w == 0 && (i / 500) % 200 == 0 {
                    let rate = i as f64 / started.elapsed().as_secs_f64();
                    println!("  filling the store: {i} of {n} ({rate:.0} messages/s)");
                }
                i += 500 * WRITERS;
            }
            Ok::<_, anyhow::Error>(())
        })
    });
    for w in futures::future::join_all(writers).await {
        w??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// An agent with every training module done and an API token.
async fn agent(store: &Store) -> anyhow::Result<String> {
    staff_token(store, "agent").await
}

/// A trained staff member's API token, with this role.
async fn staff_token(store: &Store, role: &str) -> anyhow::Result<String> {
    let actor = tavla::store::audit::Actor::command_line();
    let name = format!("{role}{:08x}", rand::random::<u32>());
    let staff = store.add_staff(&name, role, None, &actor).await?.id;
    let now = chrono::Utc::now().timestamp_millis();
    for m in tavla::access::training::TrainingConfig::built_in().modules {
        store.record_completion(staff, &m.id, now, &actor).await?;
    }
    let token = tavla::access::new_token();
    store.add_api_token(staff, &token, &actor).await?;
    Ok(token)
}

/// One search: its time at the client, and the service's phases.
async fn search(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(Duration, Vec<(String, f64)>, u64)> {
    let started = Instant::now();
    let r = client.get(url).bearer_auth(token).send().await?;
    let status = r.status();
    let timing = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = r.json().await?;
    let took = started.elapsed();
    anyhow::ensure!(status == 200, "search answered {status}: {body}");
    let phases = timing
        .split(',')
        .filter_map(|p| {
            let (name, dur) = p.trim().split_once(";dur=")?;
            Some((name.to_string(), dur.parse().ok()?))
        })
        .collect();
    Ok((took, phases, body["total"].as_u64().unwrap_or(0)))
}

fn urls(base: &str) -> Vec<String> {
    let month = (START_MS + 12 * MONTH_MS, START_MS + 13 * MONTH_MS - 1);
    let mut urls = Vec::new();
    for q in QUERIES {
        let q = super::urlencode(q);
        urls.push(format!("{base}/api/v1/search?q={q}"));
        urls.push(format!("{base}/api/v1/search?q={q}&channel=3"));
        urls.push(format!(
            "{base}/api/v1/search?q={q}&from={}&to={}",
            month.0, month.1
        ));
    }
    urls
}

pub async fn measure(n: u64) -> anyhow::Result<Value> {
    let kept = std::env::var("BENCH_SEARCH_DIR").ok();
    let temp = tempfile::tempdir()?;
    let dir = kept.as_deref().map_or(temp.path(), Path::new).to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/tavla.db", dir.display());
    let marker = dir.join("filled");
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let fill_s = if std::fs::read_to_string(&marker).ok().as_deref() == Some(&n.to_string()) {
        println!(
            "over HTTP: reusing the store of {n} messages in {}",
            dir.display()
        );
        None
    } else {
        anyhow::ensure!(
            store.message_count().await? == 0,
            "{} holds another store; empty it or name another BENCH_SEARCH_DIR",
            dir.display()
        );
        let s = fill(&store, n).await?;
        std::fs::write(&marker, n.to_string())?;
        println!("over HTTP: filled the store with {n} messages in {s:.0} s");
        Some(s)
    };
    let mut settings = tavla::settings::Settings::load(None)?;
    settings.database_url = url.clone().into();
    settings.listen = "127.0.0.1:0".into();
    settings.meta_app_secret = "bench-app-secret".into();
    settings.data_dir = dir.clone();
    let token = agent(&store).await?;
    let started = Instant::now();
    let app = tavla::app::Application::build_with_store(settings, store.clone()).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    // Until the index is whole (rebuilt from the store on the first start) search answers 503.
    loop {
        let r = client
            .get(format!("{base}/api/v1/search?q=parkering"))
            .bearer_auth(&token)
            .send()
            .await?;
        if r.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ready_s = started.elapsed().as_secs_f64();
    println!("over HTTP: the service answered searches {ready_s:.0} s after it started");
    // A store filled without the FAQ following it has its questions placed in the background
    // after the start; searching meanwhile would measure that work too, so wait for it.
    let communicator = staff_token(&store, "communicator").await?;
    loop {
        let list: Value = client
            .get(format!("{base}/api/v1/faq/clusters"))
            .bearer_auth(&communicator)
            .send()
            .await?
            .json()
            .await?;
        if list["building"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    println!(
        "over HTTP: the FAQ had placed the store's questions {:.0} s after the start",
        started.elapsed().as_secs_f64()
    );
    let urls = urls(&base);
    // A warm-up round, then ROUNDS rounds one at a time.
    for u in &urls {
        search(&client, u, &token).await?;
    }
    let (mut one, mut phases) = (Vec::new(), BTreeMap::<String, Vec<Duration>>::new());
    for _ in 0..ROUNDS {
        for u in &urls {
            let (took, timing, _) = search(&client, u, &token).await?;
            one.push(took);
            for (name, ms) in timing {
                phases
                    .entry(name)
                    .or_default()
                    .push(Duration::from_secs_f64(ms / 1000.0));
            }
        }
    }
    // CLIENTS at once, each asking every query once.
    let started = Instant::now();
    let clients = (0..CLIENTS).map(|c| {
        let (client, token, urls) = (client.clone(), token.clone(), urls.clone());
        tokio::spawn(async move {
            let mut took = Vec::new();
            let mut audit = Vec::new();
            for k in 0..urls.len() {
                let u = &urls[(k + c * 7) % urls.len()];
                let (t, timing, _) = search(&client, u, &token).await?;
                took.push(t);
                audit.extend(
                    timing
                        .into_iter()
                        .filter(|(p, _)| p == "audit")
                        .map(|(_, ms)| ms),
                );
            }
            Ok::<_, anyhow::Error>((took, audit))
        })
    });
    let (mut many, mut many_audit) = (Vec::new(), Vec::new());
    for c in futures::future::join_all(clients).await {
        let (took, audit) = c??;
        many.extend(took);
        many_audit.extend(
            audit
                .into_iter()
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
        );
    }
    let per_s = many.len() as f64 / started.elapsed().as_secs_f64();
    let verified = store.verify_audit().await?;
    let _ = stop.send(());
    server.await??;

    let [p50, p99, max] = stats(&one);
    println!(
        "\nover HTTP, one client, {} searches: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms (bar: p50 ≤ 2, p99 ≤ 10)",
        one.len()
    );
    println!("  where the time went (p50 / p99 ms):");
    let mut where_ = serde_json::Map::new();
    for (name, ds) in &phases {
        let [a, b, _] = stats(ds);
        println!("    {name:<10} {a:>7.3} / {b:>7.3}");
        where_.insert(name.clone(), json!([a, b]));
    }
    let [m50, m99, mmax] = stats(&many);
    let [a50, a99, _] = stats(&many_audit);
    println!(
        "over HTTP, {CLIENTS} clients at once, {} searches: p50 {m50:.2} ms, p99 {m99:.2} ms, max {mmax:.2} ms, {per_s:.0} searches/s; audit p50 {a50:.3} ms, p99 {a99:.3} ms",
        many.len()
    );
    println!("audit trail after the run: {verified:?} entries verified");
    Ok(json!({
        "messages": n, "fill_s": fill_s, "ready_s": ready_s,
        "one_client_ms": [p50, p99, max], "phases_ms": where_,
        "clients": CLIENTS, "many_clients_ms": [m50, m99, mmax], "searches_per_s": per_s.round(),
        "audit_ms_many": [a50, a99], "audit_verified": format!("{verified:?}"),
    }))
}
