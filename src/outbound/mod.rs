//! Delivery to the platforms: workers take rows from the outbox and carry them out through the
//! platform's API as its adapter (`platform`) describes, recording the platform's id on success, retrying passing faults with backoff, and
//! telling the agent in plain words when the platform refuses.
//!
//! Exactly once, as far as the platform allows: a row is claimed with a lease before it is sent;
//! a row whose earlier attempt may have arrived (a timeout, or a worker that died mid-send) is
//! `in_doubt`, and before sending again the worker looks for it: our message already carrying an
//! id (its echo came), or the page's own words among the thread's latest messages or replies.

pub mod integrations;
pub mod retry;
pub mod token;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::Settings;
use crate::store::Store;
pub use retry::RetryPolicy;

/// How delivery runs, from the settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub workers: usize,
    pub graph_base_url: String,
    pub timeout: Duration,
    pub policy: RetryPolicy,
}

impl DeliveryConfig {
    pub fn from_settings(settings: &Settings) -> DeliveryConfig {
        DeliveryConfig {
            workers: settings.delivery_workers,
            graph_base_url: settings.graph_base_url.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(settings.graph_timeout_seconds.max(1)),
            policy: RetryPolicy {
                base_ms: settings.delivery_retry_base_ms.max(1),
                max_ms: settings.delivery_retry_max_seconds.max(1) * 1000,
                max_attempts: settings.delivery_max_attempts.max(1),
            },
        }
    }

    /// The base URL of a platform API named by an adapter (`Adapter::api`); None when tavla has
    /// no setting for it.
    pub fn base_url(&self, api: &str) -> Option<&str> {
        match api {
            "graph" => Some(&self.graph_base_url),
            _ => None,
        }
    }

    /// How long a claimed row is ours: a look-up and a send, each bounded by the timeout, and a
    /// margin. A worker that dies leaves the row to be taken over after this.
    pub fn lease_ms(&self) -> i64 {
        2 * self.timeout.as_millis() as i64 + 2000
    }
}

/// Starts the workers. Each ends once shutdown is signalled, after finishing the row in hand
/// (bounded by the timeout); await the handles before closing the store.
pub fn start(
    store: Store,
    config: DeliveryConfig,
    failures: Arc<crate::metrics::DeliveryFailures>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        // A redirect could carry the token's request elsewhere: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tavla/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client for delivery: {e}"))?;
    let config = Arc::new(config);
    Ok((0..config.workers)
        .map(|n| {
            tokio::spawn(worker::run(
                n,
                store.clone(),
                client.clone(),
                config.clone(),
                failures.clone(),
                shutdown.clone(),
            ))
        })
        .collect())
}
