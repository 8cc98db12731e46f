//! Console benchmark: `cargo bench --bench console` (BENCH_CONVERSATIONS, default 10,000).
//!
//! The bar: the inbox renders its first page in under 200 ms with 10,000 open
//! conversations in the store. Measured two ways over the real service (SQLite):
//! 1. the call the inbox makes, `GET /api/v1/conversations?status=open&limit=50`, p50/p99;
//! 2. with Chromium present, navigation start to the first queue row on screen (the page's
//!    `tavla-inbox-first-row` performance mark, read through WebDriver), after a reload each round;
//! 3. the same for a first visit: the browser's cache emptied (Chrome DevTools'
//!    `Network.clearBrowserCache` through chromedriver) and no identity remembered in the tab,
//!    still signed in: every file is fetched again, as after an upgrade or on a new machine.

use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const PAGE_ID: &str = "104857600999001";
const PASSWORD: &str = "ett långt benchlösenord";
const API_ROUNDS: usize = 200;
const BROWSER_ROUNDS: usize = 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let conversations: usize = std::env::var("BENCH_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let mut settings = tavla::settings::Settings::load(None)?;
    settings.database_url = format!("sqlite://{}/tavla.db", dir.path().display()).into();
    settings.listen = "127.0.0.1:0".into();
    settings.meta_app_secret = "bench-app-secret".into();
    settings.data_dir = dir.path().to_path_buf();
    settings.delivery_workers = 0;
    let app = tavla::app::Application::build(settings).await?;
    let store = app.store().clone();
    let actor = tavla::store::audit::Actor::command_line();
    store
        .add_channel(
            &tavla::store::channels::NewChannel {
                platform: Some(tavla::model::Platform::Facebook),
                platform_id: PAGE_ID.into(),
                name: "Exempelby kommun".into(),
                approved: true,
                ..Default::default()
            },
            &actor,
        )
        .await?;
    let now = chrono::Utc::now().timestamp_millis();
    let trained = |id: i64| {
        let store = store.clone();
        let actor = actor.clone();
        async move {
            for m in tavla::access::training::TrainingConfig::built_in().modules {
                store.record_completion(id, &m.id, now, &actor).await?;
            }
            anyhow::Ok(())
        }
    };
    let admin = store
        .add_staff("bench-admin", "admin", None, &actor)
        .await?
        .id;
    trained(admin).await?;
    let admin_token = tavla::access::new_token();
    store.add_api_token(admin, &admin_token, &actor).await?;
    let hash = tavla::access::hash_password(PASSWORD)?;
    let agent = store
        .add_staff("agneta", "agent", Some(&hash), &actor)
        .await?
        .id;
    trained(agent).await?;
    let agent_token = tavla::access::new_token();
    store.add_api_token(agent, &agent_token, &actor).await?;

    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    // 10,000 people, each with one open conversation, through the ingest API (batches under the
    // 1 MiB body limit).
    let started = Instant::now();
    let texts = [
        "Hej! När töms soporna i Norrby nästa vecka?",
        "Hur ansöker jag om parkeringstillstånd för rörelsehindrade?",
        "När öppnar simhallen igen efter renoveringen?",
        "Gatlampan utanför Björkvägen 12 har varit trasig i två veckor.",
    ];
    for chunk in (0..conversations).collect::<Vec<_>>().chunks(2000) {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"platform": "facebook", "channel": PAGE_ID, "kind": "dm", "id": format!("bench-{i}"),
                       "author": {"id": format!("person-{i}"), "name": format!("Person {i}")},
                       "text": texts[i % texts.len()], "time": now - (*i as i64) * 1000})
            })
            .collect();
        let r = client
            .post(format!("{base}/api/v1/messages"))
            .bearer_auth(&admin_token)
            .json(&json!({"messages": messages}))
            .timeout(Duration::from_secs(300))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "ingest answered {}", r.status());
    }
    println!(
        "filled {conversations} open conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. The inbox's API call.
    let url = format!("{base}/api/v1/conversations?status=open&limit=50");
    let mut api = Vec::new();
    for round in 0..API_ROUNDS + 10 {
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(&agent_token).send().await?;
        anyhow::ensure!(r.status() == 200, "the queue answered {}", r.status());
        let v: Value = r.json().await?;
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            v["total"].as_u64() == Some(conversations as u64),
            "{}",
            v["total"]
        );
        if round >= 10 {
            api.push(elapsed); // the first rounds warm the caches
        }
    }
    summary("GET /api/v1/conversations (first page of 50)", api);

    // 2. In the browser, if there is one.
    if std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists()
    {
        browser(&base, conversations).await?;
    } else {
        println!("browser: skipped (no /usr/bin/chromium or /usr/bin/chromedriver)");
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

async fn browser(base: &str, conversations: usize) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut driver = tokio::process::Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium",
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1280,900"]}),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let b = loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => anyhow::bail!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    b.goto(&format!("{base}/")).await?;
    b.wait()
        .for_element(Locator::Css("#signin-username"))
        .await?
        .send_keys("agneta")
        .await?;
    b.find(Locator::Css("#signin-password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    b.find(Locator::Css("#signin-submit"))
        .await?
        .click()
        .await?;
    b.wait().for_element(Locator::Css("#queue a")).await?;
    // A first visit: nothing cached, nothing remembered in the tab (the session cookie stays).
    let session = b.session_id().await?.unwrap_or_default();
    let cdp = format!("http://127.0.0.1:{port}/session/{session}/goog/cdp/execute");
    let http = reqwest::Client::new();
    let mut cold = Vec::new();
    let mut files = Vec::new();
    for _ in 0..BROWSER_ROUNDS {
        let cleared = http
            .post(&cdp)
            .json(&json!({"cmd": "Network.clearBrowserCache", "params": {}}))
            .send()
            .await?;
        anyhow::ensure!(
            cleared.status().is_success(),
            "chromedriver would not clear the cache: {}",
            cleared.text().await?
        );
        b.execute("sessionStorage.removeItem('tavla.me')", vec![])
            .await?;
        b.refresh().await?;
        cold.push(first_row_ms(&b).await?);
        let fetched = b
            .execute(
                "return performance.getEntriesByType('resource')
                   .filter((r) => new URL(r.name).pathname.startsWith('/static/') && r.transferSize > 0).length",
                vec![],
            )
            .await?;
        files.push(fetched.as_f64().unwrap_or(0.0));
    }
    files.sort_by(|a, b| a.total_cmp(b));
    println!(
        "browser, first visit: {} files fetched from the service (median)",
        percentile(&files, 0.5)
    );
    summary(
        "browser, first visit: navigation start to the first inbox row",
        cold,
    );

    let mut first_row = Vec::new();
    let mut breakdown: Vec<Vec<f64>> = vec![Vec::new(); 6];
    // The first reload after the cold rounds fills the cache again and is not counted.
    b.refresh().await?;
    first_row_ms(&b).await?;
    for _ in 0..BROWSER_ROUNDS {
        b.refresh().await?;
        first_row.push(first_row_ms(&b).await?);
        // Where the time went: the page, its scripts and the two API calls before the row.
        let steps = b
            .execute(
                "const nav = performance.getEntriesByType('navigation')[0];
                 const res = performance.getEntriesByType('resource');
                 const api = (p) => res.find((r) => new URL(r.name).pathname === p);
                 const me = api('/api/v1/me'), queue = api('/api/v1/conversations');
                 return [nav.responseEnd, nav.domInteractive,
                         me ? me.startTime : null, me ? me.responseEnd : null,
                         queue ? queue.startTime : null, queue ? queue.responseEnd : null];",
                vec![],
            )
            .await?;
        for (i, v) in steps.as_array().into_iter().flatten().enumerate() {
            if let (Some(ms), Some(list)) = (v.as_f64(), breakdown.get_mut(i)) {
                list.push(ms);
            }
        }
    }
    let rows = b.find_all(Locator::Css("#queue a")).await?.len();
    println!("browser: {rows} rows on the first page of {conversations}");
    summary(
        "browser: navigation start to the first inbox row",
        first_row,
    );
    let names = [
        "page received",
        "page parsed",
        "GET /api/v1/me sent",
        "GET /api/v1/me answered",
        "queue sent",
        "queue answered",
    ];
    for (name, mut list) in names.iter().zip(breakdown) {
        if list.is_empty() {
            continue;
        }
        list.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  {name:<24} p50 {:>6.1} ms after navigation start",
            percentile(&list, 0.5)
        );
    }
    b.close().await?;
    driver.kill().await?;
    Ok(())
}

/// Waits for the page's `tavla-inbox-first-row` mark and returns its time after navigation start.
async fn first_row_ms(b: &fantoccini::Client) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = b
            .execute(
                "const m = performance.getEntriesByName('tavla-inbox-first-row')[0];
                 return m ? m.startTime : null;",
                vec![],
            )
            .await?;
        if let Some(ms) = v.as_f64() {
            return Ok(ms);
        }
        anyhow::ensure!(Instant::now() < deadline, "the inbox never showed a row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
