//! Settings, layered: `config/default.toml`, then the file named by `--config`, then `TAVLA_<KEY>`
//! environment variables. Built-in defaults make the first two optional, so a binary alone starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub meta_app_secret: String,
    pub meta_verify_token: String,
    pub graph_base_url: String,
    /// Delivery workers per instance (0: this instance delivers nothing).
    pub delivery_workers: usize,
    /// How long one Graph API request may take before it counts as a timeout.
    pub graph_timeout_seconds: u64,
    /// Attempts before a passing fault becomes a failure the agent sees.
    pub delivery_max_attempts: i64,
    /// The first retry's delay; each later one doubles, up to delivery_retry_max_seconds.
    pub delivery_retry_base_ms: i64,
    pub delivery_retry_max_seconds: i64,
    pub max_body_bytes: usize,
    pub max_text_chars: usize,
    pub claim_lease_seconds: i64,
    pub ingest_batch_max: usize,
    pub secure_cookies: bool,
    pub training_file: PathBuf,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub signin_max_failures_per_account: usize,
    pub signin_max_failures_per_address: usize,
    pub signin_window_minutes: i64,
    pub trusted_proxies: Vec<String>,
    pub routines_file: PathBuf,
    pub moderation_dir: PathBuf,
    /// The trained triage model: "newest" (the newest `moderation-model-*.bin` in data_dir),
    /// "none" (rules alone), or the path of a model file.
    pub moderation_model: String,
    pub case_threshold: String,
    pub dm_case_threshold: String,
    pub staffed_days: String,
    pub staffed_from: String,
    pub staffed_to: String,
    pub moderation_alert_url: String,
    /// Hours within which a direct message should have its first reply (reports).
    pub service_level_hours: i64,
    /// Hours within which a comment should have its first reply (reports).
    pub comment_service_level_hours: i64,
    /// Inbound comments in an hour that make a thread a candidate for "heated" in reports.
    pub heated_min_comments: i64,
    /// FAQ clusters listed in a report.
    pub report_faq_top: usize,
    pub retention_file: PathBuf,
    pub retention_every_hours: u64,
    pub retention_first_run_seconds: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

const BUILT_IN: &str = include_str!("../config/default.toml");

impl Settings {
    /// Loads the layers. `config/default.toml` in the working directory wins over the copy built
    /// into the binary, so an operator can edit it in place.
    pub fn load(extra_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(BUILT_IN, config::FileFormat::Toml))
            .add_source(config::File::with_name("config/default.toml").required(false));
        if let Some(path) = extra_file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let built = builder
            .add_source(
                config::Environment::with_prefix("TAVLA")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("trusted_proxies"),
            )
            .build()?;
        let settings: Settings = built
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("the settings are not valid: {e}"))?;
        Ok(settings)
    }

    /// The check that `serve` makes before it binds: no app secret, no start (DESIGN.md §8).
    pub fn require_webhook_secret(&self) -> anyhow::Result<()> {
        if self.meta_app_secret.trim().is_empty() {
            anyhow::bail!(
                "no Meta app secret is set, so webhooks could not be verified. Set TAVLA_META_APP_SECRET \
                 (the app secret from your Meta app's settings) or meta_app_secret in a --config file"
            );
        }
        Ok(())
    }
}
