//! Several instances on one PostgreSQL: `cargo bench --bench instances` (BENCH_SECONDS per run,
//! default 10; BENCH_INSTANCES, default "1,2,4"; TAVLA_BENCH_POSTGRES_URL).
//!
//! DESIGN §6: "On PostgreSQL, write throughput does not fall as instances are added." For each
//! count, a fresh database, that many instances of the real service (in this process, each with
//! its own port, pools, search index and followers of the shared event log), and signed webhooks of
//! 100 messages sent round-robin to the instances by 8 senders, as a load balancer would. Reported:
//! messages acknowledged per second (each after its durable commit), latency, and the machine's
//! CPU use, since on one small machine the database, every instance and the senders share the same
//! cores: once they are busy, more instances cannot add throughput, only not lose it. So each run
//! also says where the CPU went per acknowledged message, counted until every instance has caught
//! up (indexed and clustered what was acknowledged): the instances (this process, less the
//! senders, which run on threads of their own), PostgreSQL (its processes) and the senders. That
//! is the CPU bound: at most cores × 1,000,000 / (µs a message in all) messages a second.

mod common;
use common::{cpu_seconds_in, drop_postgres, fresh_postgres};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tavla::app::Application;
use tavla::model::Platform;
use tavla::settings::Settings;
use tavla::store::channels::NewChannel;
use tokio::sync::oneshot;

const SECRET: &str = "bench-app-secret";
const PAGE_ID: &str = "104857600123457";
const SENDERS: usize = 8;
const PER_REQUEST: usize = 100;
const TEXTS: &[&str] = &[
    "Hej! När öppnar återvinningscentralen på lördag?",
    "Varför har soporna inte hämtats på Storgatan den här veckan?",
    "Hur ansöker jag om plats i förskolan till hösten?",
    "Gatubelysningen på Björkvägen har varit trasig sedan i måndags.",
    "Min mamma behöver hemtjänst. Vem ska jag kontakta på kommunen?",
];

static NEXT_MID: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// One Messenger delivery of PER_REQUEST new messages, signed.
fn signed_batch() -> (Vec<u8>, String) {
    let now = now_ms();
    let messaging: Vec<Value> = (0..PER_REQUEST)
        .map(|_| {
            let mid = NEXT_MID.fetch_add(1, Ordering::Relaxed);
            json!({
                "sender": {"id": format!("{}", 7_000_000_000u64 + mid % 5000)},
                "recipient": {"id": PAGE_ID},
                "timestamp": now,
                "message": {"mid": format!("m_inst_{mid}"), "text": TEXTS[(mid % TEXTS.len() as u64) as usize]}
            })
        })
        .collect();
    let body =
        json!({"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": messaging}]});
    let body = serde_json::to_vec(&body).expect("JSON serialises");
    let signature = tavla::ingest::signature::sign(SECRET.as_bytes(), &body);
    (body, signature)
}

/// Busy and total jiffies of the whole machine (/proc/stat), for its CPU use over a run.
fn machine_cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// CPU seconds used so far by the instances, PostgreSQL and the senders.
#[derive(Clone, Copy)]
struct CpuUse {
    instances: f64,
    postgres: f64,
    senders: f64,
}

/// The name of the senders' threads, so their CPU is told apart from the instances'.
const SENDER_THREAD: &str = "bench-sender";

fn cpu_use() -> CpuUse {
    let comm = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("comm")).map_or(String::new(), |c| c.trim().to_string())
    };
    let stat = |dir: &std::path::Path| cpu_seconds_in(&dir.join("stat").to_string_lossy());
    let sum_where = |parent: &str, wanted: &dyn Fn(&str) -> bool| -> f64 {
        std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|d| wanted(&comm(d)))
            .map(|d| stat(&d))
            .sum()
    };
    // A thread that has ended counts in its process's figure, and the senders' threads live
    // until the run's figures are read.
    let senders = sum_where("/proc/self/task", &|c| c == SENDER_THREAD);
    CpuUse {
        instances: cpu_seconds_in("/proc/self/stat") - senders,
        postgres: sum_where("/proc", &|c| c.starts_with("postgres")),
        senders,
    }
}

/// Waits until the machine is nearly idle (the instances have caught up with the log), at most
/// a minute; returns how long that took.
async fn settle() -> f64 {
    let started = Instant::now();
    let mut last = machine_cpu();
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = machine_cpu();
        let busy = (now.0 - last.0) as f64 / (now.1 - last.1).max(1) as f64;
        last = now;
        if busy < 0.1 {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}

struct Instance {
    url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(database_url: &str, n: usize) -> anyhow::Result<Instance> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::load(None)?;
    settings.database_url = database_url.to_string().into();
    settings.listen = "127.0.0.1:0".into();
    settings.meta_app_secret = SECRET.into();
    settings.data_dir = dir.path().to_path_buf();
    settings.retention_every_hours = 0;
    settings.instance_name = format!("bench-{n}");
    let app = Application::build(settings).await?;
    let url = format!("http://{}/webhooks/meta", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Ok(Instance {
        url,
        stop,
        task,
        _dir: dir,
    })
}

/// `instances` instances on a fresh database; senders post round-robin for `secs`.
async fn run(
    instances: usize,
    secs: f64,
    senders_runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Value> {
    let (admin, name, url) = fresh_postgres().await.map_err(anyhow::Error::msg)?;
    let outcome = async {
        let mut running = Vec::new();
        for n in 0..instances {
            running.push(start(&url, n).await?);
        }
        let store = tavla::store::Store::connect(&url).await?;
        store
            .add_channel(
                &NewChannel {
                    platform: Some(Platform::Facebook),
                    platform_id: PAGE_ID.into(),
                    name: "Kommunen (benchmark)".into(),
                    approved: true,
                    ..Default::default()
                },
                &tavla::store::audit::Actor::command_line(),
            )
            .await?;
        let urls: Vec<String> = running.iter().map(|i| i.url.clone()).collect();
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()?;
        // Starting instances and the channel leaves work behind (migrations, first index).
        settle().await;
        let cpu_before = cpu_use();
        let (cpu_busy, cpu_total) = machine_cpu();
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(secs);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (client, urls) = (client.clone(), urls.clone());
                senders_runtime.spawn(async move {
                    let (mut latencies, mut failed, mut turn) = (Vec::new(), 0u64, s);
                    while Instant::now() < deadline {
                        let (body, signature) = signed_batch();
                        let sent = Instant::now();
                        let r = client
                            .post(&urls[turn % urls.len()])
                            .header("content-type", "application/json")
                            .header("x-hub-signature-256", signature)
                            .body(body)
                            .send()
                            .await;
                        turn += 1;
                        match r {
                            Ok(r) if r.status() == 200 => {
                                let _ = r.bytes().await;
                                latencies.push(sent.elapsed());
                            }
                            _ => failed += 1,
                        }
                    }
                    (latencies, failed)
                })
            })
            .collect();
        let (mut latencies, mut failed) = (Vec::new(), 0);
        for s in senders {
            let (l, f) = s.await?;
            latencies.extend(l);
            failed += f;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (busy_after, total_after) = machine_cpu();
        let cpu = (busy_after - cpu_busy) as f64 / (total_after - cpu_total).max(1) as f64;
        let catch_up_s = settle().await;
        let cpu_after = cpu_use();
        latencies.sort();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        let acked = latencies.len() * PER_REQUEST;
        let rows: i64 = sqlx::query_scalar("select count(*) from messages")
            .fetch_one(&store.pool)
            .await?;
        store.close().await;
        for i in running {
            let _ = i.stop.send(());
            i.task.await??;
        }
        let msg_s = acked as f64 / elapsed;
        let per_message = |s: f64| s * 1e6 / acked.max(1) as f64;
        let instances_us = per_message(cpu_after.instances - cpu_before.instances);
        let postgres_us = per_message(cpu_after.postgres - cpu_before.postgres);
        let senders_us = per_message(cpu_after.senders - cpu_before.senders);
        let all_us = instances_us + postgres_us + senders_us;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let bound = cores * 1e6 / all_us.max(1.0);
        println!(
            "{instances:>9} {:>10.0} {:>8.0} {:>8.0} {failed:>7} {:>8.0}%  {:>9} {:>12.0} {:>11.0} {:>10.0} {:>8.0} {:>11.1}",
            msg_s,
            pct(0.5),
            pct(0.99),
            cpu * 100.0,
            if rows as usize >= acked {
                "ok"
            } else {
                "MISSING ROWS"
            },
            instances_us,
            postgres_us,
            senders_us,
            bound,
            catch_up_s,
        );
        anyhow::Ok(json!({
            "instances": instances, "seconds": (elapsed * 10.0).round() / 10.0,
            "msg_s": msg_s.round(), "p50_ms": pct(0.5).round(), "p99_ms": pct(0.99).round(),
            "failed_requests": failed, "acked_messages": acked, "rows": rows,
            "machine_cpu_busy": (cpu * 100.0).round() / 100.0,
            "cpu_us_per_message": {"instances": instances_us.round(), "postgres": postgres_us.round(),
                "senders": senders_us.round()},
            "cpu_bound_msg_s": bound.round(), "catch_up_s": (catch_up_s * 10.0).round() / 10.0,
        }))
    }
    .await;
    drop_postgres(&admin, &name).await;
    outcome
}

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let counts: Vec<usize> = std::env::var("BENCH_INSTANCES")
        .unwrap_or_else(|_| "1,2,4".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let senders_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SENDER_THREAD)
        .enable_all()
        .build()?;
    let senders = senders_runtime.handle().clone();
    runtime.block_on(async move {
        match fresh_postgres().await {
            Err(reason) => {
                println!("skipped: {reason}");
                return Ok(());
            }
            Ok((admin, name, _)) => drop_postgres(&admin, &name).await,
        }
        println!(
            "tavla on PostgreSQL with several instances: {cores} cores (database, instances and \
             senders share them), {SENDERS} senders × {PER_REQUEST} messages a POST, {secs} s a run"
        );
        println!(
            "CPU per acknowledged message (µs), counted until the instances caught up; bound: \
             {cores} cores × 1,000,000 µs / all three"
        );
        println!(
            "{:>9} {:>10} {:>8} {:>8} {:>7} {:>9}  {:>9} {:>12} {:>11} {:>10} {:>8} {:>11}",
            "instances",
            "msg/s",
            "p50 ms",
            "p99 ms",
            "failed",
            "cpu busy",
            "durable",
            "instances µs",
            "postgres µs",
            "senders µs",
            "bound",
            "catch-up s"
        );
        let mut results = Vec::new();
        for n in counts {
            results.push(run(n, secs, &senders).await?);
        }
        println!(
            "{}",
            json!({"bench": "instances", "cores": cores, "seconds": secs, "results": results})
        );
        Ok::<_, anyhow::Error>(())
    })
}
