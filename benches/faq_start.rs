//! FAQ start benchmark (issue 18): a store filled without FAQ placements (a restore, an import,
//! a direct seeding) used to hold the start while every question was clustered. This seeds
//! FAQ_START_N questions (default 200,000, plus one remark in ten) straight through the store's
//! ingestor while no service runs, then starts the service and times start → /readyz and start →
//! every question placed (the placements counted in the store). SQLite by default;
//! FAQ_START_BACKEND=postgres uses a throwaway PostgreSQL database. Prints one JSON line.

mod common;

use std::time::{Duration, Instant};

use common::Rng;
use serde_json::json;
use tavla::app::Application;
use tavla::settings::Settings;
use tavla::store::Store;

const PAGE: &str = "950000000000001";

/// Swedish citizen questions from templates: enough topics and variation that clusters form the
/// way they do on a real page, without the text of any real person.
fn question(rng: &mut Rng) -> String {
    let places = [
        "Storgatan",
        "Kyrkvägen",
        "torget",
        "Norra parken",
        "stationen",
        "Ekbacken",
    ];
    let things = [
        "simhallen",
        "biblioteket",
        "återvinningscentralen",
        "förskolan",
        "kulturskolan",
        "ishallen",
        "badplatsen",
        "äldreboendet",
        "vårdcentralen",
        "skolan",
    ];
    let when = [
        "i sommar",
        "på lördag",
        "efter renoveringen",
        "i höst",
        "under julen",
        "nästa vecka",
    ];
    let templates = [
        "När öppnar {thing} {when}?",
        "Hur länge är {place} avstängd?",
        "Vad kostar det att gå till {thing} {when}?",
        "Varför är {thing} stängd {when}?",
        "Vem ansvarar för snöröjningen på {place}?",
        "Hur ansöker man om plats på {thing}?",
        "När töms soporna på {place} {when}?",
        "Finns det parkering vid {thing}?",
    ];
    let t = rng.pick(&templates);
    t.replace("{thing}", rng.pick(&things))
        .replace("{place}", rng.pick(&places))
        .replace("{when}", rng.pick(&when))
}

async fn seed(store: &Store, n: usize) -> anyhow::Result<(usize, usize)> {
    store
        .add_channel(
            &tavla::store::channels::NewChannel {
                platform: Some(tavla::model::Platform::Facebook),
                platform_id: PAGE.into(),
                name: "Kommunen".into(),
                approved: true,
                ..Default::default()
            },
            &tavla::store::audit::Actor::command_line(),
        )
        .await?;
    let ingest = tavla::ingest::Ingestor::start(store.clone(), 10_000, 1000, None);
    let mut rng = Rng(0xfa9_57a7);
    let now = chrono::Utc::now().timestamp_millis();
    let (mut questions, mut comments) = (0, 0);
    let mut batch = Vec::new();
    while questions < n {
        let text = if comments % 10 == 9 {
            "Tack för informationen!".to_string()
        } else {
            question(&mut rng)
        };
        if tavla::faq::question::is_question(&text) {
            questions += 1;
        }
        batch.push(
            tavla::ingest::normalised::parse(json!({"platform": "facebook", "channel": PAGE,
                "kind": "comment", "id": format!("c{comments}"),
                "author": {"id": format!("p{}", rng.skewed(50_000, 2.0))}, "text": text,
                "time": now - 86_400_000 + comments as i64, "post_id": format!("post{}", comments / 500)}))
            .map_err(|e| anyhow::anyhow!(e))?,
        );
        comments += 1;
        if batch.len() == 1000 {
            ingest
                .submit(std::mem::take(&mut batch))
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
    }
    if !batch.is_empty() {
        ingest
            .submit(batch)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    Ok((questions, comments))
}

async fn run(url: &str, n: usize) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let seeding = Instant::now();
    let (questions, comments) = seed(&store, n).await?;
    let seed_s = seeding.elapsed().as_secs_f64();
    eprintln!("seeded {questions} questions in {comments} comments in {seed_s:.1} s");
    let mut settings = Settings::load(None)?;
    settings.database_url = url.to_string().into();
    settings.listen = "127.0.0.1:0".into();
    settings.meta_app_secret = "bench-secret".to_string().into();
    settings.data_dir = dir.path().to_path_buf();
    settings.retention_every_hours = 0;
    settings.posts_refresh_every_minutes = 0;
    let started = Instant::now();
    let app = Application::build(settings).await?;
    let built_s = started.elapsed().as_secs_f64();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    loop {
        let ok = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready_s = started.elapsed().as_secs_f64();
    // While placing runs: how long /readyz takes to answer.
    let mut readyz_ms = Vec::new();
    let placed_s = loop {
        let t = Instant::now();
        let r = client.get(format!("{base}/readyz")).send().await?;
        anyhow::ensure!(r.status().is_success(), "/readyz failed while placing");
        readyz_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let placed: i64 = sqlx::query_scalar("select count(*) from faq_members")
            .fetch_one(&store.pool)
            .await?;
        if placed as usize >= questions {
            break started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = stop.send(());
    let _ = task.await;
    readyz_ms.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| readyz_ms[((readyz_ms.len() - 1) as f64 * q) as usize];
    Ok(json!({
        "questions": questions, "comments": comments, "seed_s": seed_s,
        "start_to_listening_s": built_s, "start_to_readyz_s": ready_s,
        "start_to_all_placed_s": placed_s,
        "readyz_while_placing_ms": {"p50": p(0.5), "max": p(1.0), "samples": readyz_ms.len()},
    }))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("FAQ_START_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let postgres = std::env::var("FAQ_START_BACKEND").as_deref() == Ok("postgres");
    let result = if postgres {
        let (admin, name, url) = common::fresh_postgres()
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let result = run(&url, n).await;
        common::drop_postgres(&admin, &name).await;
        result?
    } else {
        let dir = tempfile::tempdir()?;
        run(&format!("sqlite://{}/bench.db", dir.path().display()), n).await?
    };
    println!(
        "{}",
        json!({"bench": "faq_start", "backend": if postgres { "postgres" } else { "sqlite" },
            "result": result})
    );
    Ok(())
}
