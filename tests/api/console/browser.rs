//! Browser-test helpers shared by every console test: start chromedriver and headless Chromium
//! (Debian's `chromium` and `chromium-driver`), sign in as a role through the sign-in page, wait
//! for conditions (polling with a deadline, never a bare sleep), press keys, run axe-core and read
//! the service's CSP violation counter.
//!
//! Without Chromium a test prints why and passes locally; with CI=true it fails.

use std::process::Stdio;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::{actor, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition may take before the test fails (generous: CI shares two cores).
pub const WAIT: Duration = Duration::from_secs(30);
/// The password every browser-test account gets.
pub const PASSWORD: &str = "ett långt testlösenord";

/// Two browsers at a time: each is a few processes and the machine has two cores.
static BROWSERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    _permit: SemaphorePermit<'static>,
}

/// Whether the browser tests can run here; under CI=true a missing browser is a failure.
fn available() -> bool {
    let found =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the console tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
        }
        eprintln!("skipping a browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// A headless Chromium on the app's console, or None (with the reason printed) locally when
    /// Chromium is not installed.
    pub async fn start(app: &TestApp) -> Option<Browser> {
        if !available() {
            return None;
        }
        let permit = BROWSERS.acquire().await.expect("semaphore");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=sv-SE", "--no-first-run",
                         "--disable-extensions", "--disable-background-networking",
                         "--password-store=basic"],
                // No password manager: a saved or offered sign-in must not fill the form the
                // test types into.
                "prefs": {"credentials_enable_service": false,
                          "profile.password_manager_enabled": false},
            }),
        );
        let deadline = Instant::now() + WAIT;
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("chromedriver does not answer: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Some(Browser {
            client,
            base: app.address.clone(),
            driver,
            _permit: permit,
        })
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{}", self.base, path))
            .await
            .expect("navigate");
    }

    /// Polls `check` until it gives Some, or fails the test naming `what`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let main = self.text("main").await.unwrap_or_default();
                let errors = self
                    .client
                    .execute("return window.__errors || []", vec![])
                    .await
                    .unwrap_or_default();
                panic!("timed out waiting for {what} (at {url}); script errors: {errors}; the page shows:\n{main}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching the CSS selector, once it exists.
    pub async fn find(&self, css: &str) -> Element {
        let client = self.client.clone();
        self.wait_for(&format!("`{css}`"), || {
            let client = client.clone();
            async move { client.find(Locator::Css(css)).await.ok() }
        })
        .await
    }

    /// The visible text of the first match, if there is one now.
    pub async fn text(&self, css: &str) -> Option<String> {
        let e = self.client.find(Locator::Css(css)).await.ok()?;
        e.text().await.ok()
    }

    /// Waits until the element's text contains `needle`, and returns the whole text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait_for(&format!("`{css}` to contain {needle:?}"), || async {
            self.text(css).await.filter(|t| t.contains(needle))
        })
        .await
    }

    /// Runs a script in the page and returns its value (a returned promise is awaited).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs")
    }

    /// Waits until the script returns a truthy value.
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        self.wait_for(what, || async {
            let v = self.client.execute(script, vec![]).await.ok()?;
            let truthy =
                !matches!(v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            truthy.then_some(v)
        })
        .await
    }

    /// Sends keys to whatever has focus (as a person typing would).
    pub async fn press(&self, keys: &str) {
        let active = self
            .client
            .active_element()
            .await
            .expect("a focused element");
        active.send_keys(keys).await.expect("keys");
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.js(
            "return document.activeElement ? document.activeElement.id : ''",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Signs in through the sign-in page and waits for the signed-in console.
    pub async fn sign_in(&self, username: &str) {
        self.goto("/").await;
        let user = self.find("#signin-username").await;
        user.clear().await.expect("clear");
        user.send_keys(username).await.expect("type");
        let password = self.find("#signin-password").await;
        password.clear().await.expect("clear");
        password.send_keys(PASSWORD).await.expect("type");
        self.find("#signin-submit")
            .await
            .click()
            .await
            .expect("click");
        self.find("#nav a").await;
        self.catch_errors().await;
    }

    /// Collects the page's uncaught script errors in `window.__errors`, shown when a wait fails.
    pub async fn catch_errors(&self) {
        self.js(
            "window.__errors = window.__errors || [];
             window.addEventListener('error', e => window.__errors.push(String(e.message)));
             window.addEventListener('unhandledrejection', e => window.__errors.push(String(e.reason && e.reason.stack || e.reason)));",
            vec![],
        )
        .await;
    }

    /// Runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and fails on any serious or
    /// critical finding, listing them.
    pub async fn audit(&self, what: &str) {
        static AXE: LazyLock<String> = LazyLock::new(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/node_modules/axe-core/axe.min.js"
            );
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("{path} is missing ({e}): run `npm ci` in tests/e2e"))
        });
        let loaded = self
            .js("return typeof window.axe === 'object'", vec![])
            .await;
        if loaded != json!(true) {
            // Evaluated by the driver (not a script element), so the page's CSP is not involved.
            self.js(&format!("{}\nreturn true;", *AXE), vec![]).await;
        }
        let result = self
            .js(
                "return axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                   .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)})));",
                vec![],
            )
            .await;
        let bad: Vec<&Value> = result
            .as_array()
            .expect("axe gives a list")
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(
            bad.is_empty(),
            "axe-core finds serious or critical WCAG 2.1 AA problems in {what}:\n{}",
            serde_json::to_string_pretty(&bad).unwrap()
        );
    }

    /// A PNG of the page as it is.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }
}

/// A trained staff member with a password, for signing in through the page.
pub async fn staff(app: &TestApp, username: &str, role: &str) -> i64 {
    let hash = tavla::access::hash_password(PASSWORD).expect("hash");
    let staff = app
        .store
        .add_staff(username, role, Some(&hash), &actor())
        .await
        .expect("add staff");
    app.train(staff.id, "all").await;
    staff.id
}

/// The service's count of CSP violations reported by browsers (`tavla_csp_violations_total`).
pub async fn csp_violations(app: &TestApp) -> u64 {
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tavla_csp_violations_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the CSP violation counter is exported")
}

/// Fails if any CSP violation was reported (call at the end of every browser test).
pub async fn assert_no_csp_violations(app: &TestApp) {
    assert_eq!(
        csp_violations(app).await,
        0,
        "the console caused Content-Security-Policy violations (see the warn log)"
    );
}

/// A browser test's service: SQLite only (the API scenarios cover both backends).
pub async fn app() -> TestApp {
    TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("sqlite is always there")
}
