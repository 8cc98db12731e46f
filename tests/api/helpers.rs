//! Spawns the real service on port 0 over a fresh database: a SQLite file in a temporary folder,
//! or a new PostgreSQL database. Tests talk to it over HTTP only.

use serde_json::{json, Value};
use tavla::app::Application;
use tavla::settings::Settings;
use tavla::store::Store;
use tokio::sync::oneshot;

pub const SECRET: &str = "test-app-secret";

/// The test harness acting through the store, as the command line would.
pub fn actor() -> tavla::store::audit::Actor {
    tavla::store::audit::Actor {
        staff_id: None,
        name: "test".into(),
        address: None,
    }
}
pub const VERIFY_TOKEN: &str = "test-verify-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    /// `http://host:port` of the metrics listener, when `metrics_listen` is set.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub store: Store,
    pub settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A test service is told to stop when its handle goes. Having a `Drop` also makes every
/// `async move` block that names a field (`app.store`) take the whole handle: without it the
/// block took only that field, and the rest (the server, the folder with the SQLite file) went
/// at once, so new connections could not open the database.
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Settings for a test: a fresh database, port 0, known secrets.
fn test_settings(database_url: String, dir: &std::path::Path) -> Settings {
    let mut settings = Settings::load(None).expect("default settings load");
    settings.database_url = database_url.into();
    settings.listen = "127.0.0.1:0".into();
    settings.data_dir = dir.to_path_buf();
    settings.meta_app_secret = SECRET.into();
    settings.meta_verify_token = VERIFY_TOKEN.into();
    settings.graph_base_url = "http://127.0.0.1:9".into();
    // Replies wait in the outbox unless a test asks for delivery (tests/api/delivery.rs).
    settings.delivery_workers = 0;
    settings.max_body_bytes = 256 * 1024;
    // Always staffed, so no test depends on the hour it runs at (off-hours tests set their own).
    settings.staffed_days = "mon-sun".into();
    settings.staffed_from = "00:00".into();
    settings.staffed_to = "24:00".into();
    settings.staffed_holidays_closed = false;
    // Retention runs only when a test calls it with its own clock (tests/api/privacy.rs).
    settings.retention_every_hours = 0;
    // Posts are fetched only when a test asks (tests/api/posts.rs).
    settings.posts_refresh_every_minutes = 0;
    settings
}

/// The PostgreSQL server for tests, or None with a printed reason when it is missing locally.
/// Under CI=true a missing server fails the test: CI must prove both backends.
pub async fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TAVLA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    match sqlx::AnyPool::connect(&url).await {
        Ok(pool) => {
            pool.close().await;
            Some(url)
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required in CI but {url} does not answer: {e}");
            }
            eprintln!("skipping the PostgreSQL variant: {url} does not answer ({e})");
            None
        }
    }
}

async fn fresh_postgres_database() -> Option<String> {
    let admin = postgres_admin_url().await?;
    let name = format!("tavla_test_{}", random_suffix());
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .expect("postgres admin");
    sqlx::query(&format!("create database {name}"))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `adjust`. None when the backend is unavailable locally.
    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        Self::spawn_prepared(backend, adjust, |_| async {}).await
    }

    /// Spawns on a fresh database that `prepare` fills first, given its URL (an older schema
    /// with its data, for the upgrade test).
    pub async fn spawn_prepared<F, Fut>(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        prepare: F,
    ) -> Option<TestApp>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        // Logs only when asked (TEST_LOG=debug cargo test), so failures can be read.
        if let Ok(level) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(level)
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/tavla.db", dir.path().display()),
            Backend::Postgres => fresh_postgres_database().await?,
        };
        prepare(url.clone()).await;
        let mut settings = test_settings(url, dir.path());
        adjust(&mut settings);
        let mut app = TestApp {
            address: String::new(),
            metrics_address: None,
            client: reqwest::Client::new(),
            store: Store::connect(settings.database_url.expose())
                .await
                .expect("connect"),
            settings,
            stop: None,
            server: None,
            _dir: dir,
        };
        app.start().await;
        Some(app)
    }

    pub async fn start(&mut self) {
        let application = Application::build(self.settings.clone())
            .await
            .expect("the application builds");
        self.address = format!("http://{}", application.local_addr());
        self.metrics_address = application.metrics_addr().map(|a| format!("http://{a}"));
        let (stop, stopped) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(async move {
            application
                .run_until(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        }));
        self.stop = Some(stop);
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the server (and its index follower) and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server stops cleanly");
        }
    }

    /// Another instance on the same database, with a search index of its own.
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    /// Another instance on the same database, its settings changed by `adjust` first.
    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        settings.data_dir = dir.path().to_path_buf();
        if !settings.instance_name.is_empty() {
            settings.instance_name.push_str("-second");
        }
        let mut app = TestApp {
            address: String::new(),
            metrics_address: None,
            client: reqwest::Client::new(),
            store: Store::connect(settings.database_url.expose())
                .await
                .expect("connect"),
            settings,
            stop: None,
            server: None,
            _dir: dir,
        };
        app.start().await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A staff member with the role, every training module completed, and an API token.
    pub async fn token(&self, username: &str, role: &str) -> String {
        let (id, token) = self.untrained_token(username, role).await;
        self.train(id, "all").await;
        token
    }

    /// A staff member with the role but no training, and their id.
    pub async fn untrained_token(&self, username: &str, role: &str) -> (i64, String) {
        let staff = self
            .store
            .add_staff(username, role, None, &actor())
            .await
            .expect("add staff");
        let token = tavla::access::new_token();
        self.store
            .add_api_token(staff.id, &token, &actor())
            .await
            .expect("token");
        (staff.id, token)
    }

    /// A service account (named `service:<name>`) with the role, and its token.
    pub async fn service_token(&self, name: &str, role: &str) -> (i64, String) {
        let token = tavla::access::new_token();
        let username = format!("service:{name}");
        let staff = self
            .store
            .add_account(
                &tavla::store::staff::NewAccount {
                    username: &username,
                    role,
                    kind: "service",
                    token: Some(&token),
                    ..Default::default()
                },
                &actor(),
            )
            .await
            .expect("add service account");
        (staff.id, token)
    }

    /// Records a completed module (or "all") now.
    pub async fn train(&self, staff_id: i64, module: &str) {
        let config = tavla::access::training::TrainingConfig::built_in();
        let now = chrono::Utc::now().timestamp_millis();
        for m in config
            .modules
            .iter()
            .filter(|m| module == "all" || m.id == module)
        {
            self.store
                .record_completion(staff_id, &m.id, now, &actor())
                .await
                .expect("training");
        }
    }

    pub async fn register_channel(&self, platform: &str, platform_id: &str, name: &str) {
        self.store
            .add_channel(
                &tavla::store::channels::NewChannel {
                    platform: tavla::model::Platform::parse(platform),
                    platform_id: platform_id.into(),
                    name: name.into(),
                    approved: true,
                    ..Default::default()
                },
                &actor(),
            )
            .await
            .expect("register channel");
    }

    /// Posts a webhook body signed with the test secret.
    pub async fn webhook(&self, body: &[u8]) -> reqwest::Response {
        let signature = tavla::ingest::signature::sign(SECRET.as_bytes(), body);
        self.webhook_with_signature(body, Some(&signature)).await
    }

    pub async fn webhook_with_signature(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/meta"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            request = request.header("x-hub-signature-256", s);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let response = self.get(token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// The Prometheus text of /metrics.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("text")
    }

    /// Counts rows in a table straight from the store (what is durable, not what the API says).
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.store.pool)
            .await
            .expect("count")
    }

    /// The conversation list as an agent or communicator sees it.
    pub async fn conversations(&self, token: &str, query: &str) -> Vec<Value> {
        let v = self
            .get_json(token, &format!("/api/v1/conversations?{query}"))
            .await;
        v["items"].as_array().cloned().unwrap_or_default()
    }
}

/// Runs `$scenario(backend)` on SQLite and on PostgreSQL, as two tests: the one macro every
/// two-engine test is made with (the others below and in the modules build on it).
#[macro_export]
macro_rules! on_each_backend {
    ($name:ident, $scenario:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($scenario)($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($scenario)($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

/// Runs a scenario on a service on SQLite and on one on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $scenario:expr) => {
        $crate::on_both_backends_with!($name, |_| {}, $scenario);
    };
}

/// Like `on_both_backends!`, on a service whose settings `$adjust` changes first.
#[macro_export]
macro_rules! on_both_backends_with {
    ($name:ident, $adjust:expr, $scenario:expr) => {
        $crate::on_each_backend!($name, |backend| async move {
            if let Some(app) = $crate::helpers::TestApp::spawn_with(backend, $adjust).await {
                ($scenario)(app).await;
            } else {
                $crate::helpers::only_postgres_may_be_missing(backend);
            }
        });
    };
}

/// SQLite is always there; PostgreSQL may be missing on a developer's machine (never in CI,
/// where spawning fails instead).
pub fn only_postgres_may_be_missing(backend: Backend) {
    assert!(
        matches!(backend, Backend::Postgres),
        "a service on SQLite could not be spawned"
    );
}

/// Waits (boundedly: 20 s) until `check` gives a value; the one poll loop of the tests, for what
/// the service does after it answers (the index, clusters, the outbox, live streams).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..800 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("waited 20 s for {what}");
}

/// Submits messages through the ingest API (`POST /api/v1/messages`) as `token`'s holder (an
/// administrator or an integration), and insists every one was taken.
pub async fn ingest(app: &TestApp, token: &str, messages: Vec<Value>) {
    let r = app
        .post(token, "/api/v1/messages", json!({"messages": messages}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(
        outcome["errors"],
        json!([]),
        "every message taken: {outcome}"
    );
}

/// The conversation a stored message (by its platform id) belongs to.
pub async fn conversation_of(app: &TestApp, platform_id: &str) -> i64 {
    sqlx::query_scalar("select conversation_id from messages where platform_id = $1")
        .bind(platform_id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap_or_else(|e| panic!("message {platform_id} stored: {e}"))
}

/// A token for a trained staff member limited to one channel.
pub async fn limited_token(app: &TestApp, username: &str, role: &str, channel: i64) -> String {
    let token = app.token(username, role).await;
    let id: i64 = sqlx::query_scalar("select id from staff where username = $1")
        .bind(username)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    app.store
        .update_staff(id, None, None, Some(&[channel]), &actor())
        .await
        .unwrap();
    token
}
