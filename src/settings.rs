//! Settings, layered: `config/default.toml`, then the file named by `--config`, then `TAVLA_<KEY>`
//! environment variables. Built-in defaults make the first two optional, so a binary alone starts.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value that must not reach logs or error output: its Debug and Display print `[redacted]`,
/// and code that needs the value says so with `expose()`, which is easy to find in review.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    /// Unset (empty or blank), without exposing the value.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// May carry a password (postgres://user:password@host/db).
    pub database_url: Secret<String>,
    pub listen: String,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub meta_app_secret: Secret<String>,
    pub meta_verify_token: Secret<String>,
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
    /// Failed sign-ins for one account, from all addresses together, within the window.
    pub signin_max_failures_per_account: usize,
    /// Failed sign-ins for one account from one address within the window.
    pub signin_max_failures_per_account_and_address: usize,
    pub signin_window_minutes: i64,
    /// Failed sign-ins for unknown usernames recorded one by one (a row and an audit entry each)
    /// per window; beyond it they are only counted, so an anonymous flood stores a bounded amount.
    pub signin_unknown_recorded_per_window: usize,
    /// Password hashes (argon2, about 19 MiB each) computed at once by this instance.
    pub password_hash_concurrency: usize,
    /// How long a sign-in waits for a free hash before it is answered 503.
    pub password_hash_wait_ms: u64,
    /// Reverse proxies whose X-Forwarded-For is believed: addresses or networks (10.0.0.0/8).
    pub trusted_proxies: Vec<String>,
    /// Single sign-on (OpenID Connect); an empty issuer turns it off.
    pub oidc_issuer: String,
    pub oidc_provider_name: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: Secret<String>,
    pub oidc_redirect_url: String,
    pub oidc_scopes: String,
    pub oidc_groups_claim: String,
    /// Groups or app roles mapped to tavla roles and channel limits.
    pub oidc_roles_file: PathBuf,
    /// false: the password sign-in refuses; staff sign in through the identity provider.
    pub local_passwords: bool,
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
    /// Swedish public holidays (and midsommarafton, julafton, nyårsafton) count as off-hours.
    pub staffed_holidays_closed: bool,
    /// The organisation's own closing days: "2026-12-23" (that day) or "12-23" (every year).
    pub staffed_closed_days: Vec<String>,
    /// An incoming-webhook URL: whoever knows it may post to the channel, so it is a secret.
    pub moderation_alert_url: Secret<String>,
    /// Hours within which a direct message should have its first reply (reports).
    pub service_level_hours: i64,
    /// Hours within which a comment should have its first reply (reports).
    pub comment_service_level_hours: i64,
    /// Inbound comments in an hour that make a thread a candidate for "heated" in reports.
    pub heated_min_comments: i64,
    /// FAQ clusters listed in a report.
    pub report_faq_top: usize,
    /// Questions a store holds without FAQ placements (a restore, an import) are placed in the
    /// background after start: this many comments a batch, with this pause between batches.
    pub faq_placing_batch: usize,
    pub faq_placing_pause_ms: u64,
    /// Public questions the FAQ state holds in memory, the newest (about 100 bytes each); older
    /// ones are counted from the store (README, "A window of questions in memory").
    pub faq_kept_questions: usize,
    pub retention_file: PathBuf,
    /// Outgoing webhooks: receivers and the units conversations are handed to.
    pub integrations_file: PathBuf,
    pub retention_every_hours: u64,
    pub retention_first_run_seconds: u64,
    /// Post follow-up: the channels' posts and figures are fetched this often (0: only on demand),
    /// the first time this long after start; posts published this many days back are followed.
    pub posts_refresh_every_minutes: u64,
    pub posts_refresh_first_run_seconds: u64,
    pub posts_lookback_days: i64,
    /// This instance's name among several on one database (leases, logs, /metrics); empty:
    /// host, process id and a random part.
    pub instance_name: String,
    /// API requests handled at once per instance; more wait up to api_queue_wait_ms, then 503.
    pub api_max_concurrent: usize,
    pub api_queue_wait_ms: u64,
    /// An API request (not the event stream, not the webhook) is stopped after this long.
    pub request_timeout_seconds: u64,
    /// Webhook deliveries handled at once, beside (never behind) the API's requests.
    pub webhook_max_concurrent: usize,
    /// Live event streams per person, and in all per instance.
    pub event_streams_per_person: usize,
    pub event_streams_max: usize,
    /// A bearer token that lets a scraper read /metrics from anywhere. Empty: none.
    pub metrics_token: Secret<String>,
    /// Addresses that may read /metrics without the token (loopback by default).
    pub metrics_addresses: Vec<String>,
    /// A separate address for /metrics alone (empty: /metrics is on `listen`, guarded as above).
    pub metrics_listen: String,
}

/// One `trusted_proxies` entry: an address (a network of one) or a network in CIDR notation.
pub fn parse_trusted_proxy(entry: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = match entry.trim().split_once('/') {
        Some((address, bits)) => (address, Some(bits.parse::<u8>().ok()?)),
        None => (entry.trim(), None),
    };
    let address = address.parse::<IpAddr>().ok()?.to_canonical();
    let width = if address.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(width);
    (bits <= width).then_some((address, bits))
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// The defaults, built into the binary: every setting has its line here.
pub(crate) const BUILT_IN: &str = include_str!("../config/default.toml");

/// Settings given as a list in one environment variable, comma-separated.
pub(crate) const LIST_KEYS: [&str; 3] = [
    "trusted_proxies",
    "metrics_addresses",
    "staffed_closed_days",
];

/// The `TAVLA_<KEY>` layer: from the process's environment, or from `source` (names with the
/// prefix) when given, so `tavla config check` reads exactly what it reports on.
pub(crate) fn environment(source: Option<config::Map<String, String>>) -> config::Environment {
    LIST_KEYS.iter().fold(
        config::Environment::with_prefix("TAVLA")
            .try_parsing(true)
            .list_separator(",")
            .source(source),
        |env, key| env.with_list_parse_key(key),
    )
}

impl Settings {
    /// Loads the layers. `config/default.toml` in the working directory wins over the copy built
    /// into the binary, so an operator can edit it in place.
    pub fn load(extra_file: Option<&Path>) -> anyhow::Result<Settings> {
        Self::load_from(extra_file, None)
    }

    /// As `load`, with the environment layer taken from `environment` (names with the `TAVLA_`
    /// prefix) instead of the process's, when given.
    pub fn load_from(
        extra_file: Option<&Path>,
        environment: Option<config::Map<String, String>>,
    ) -> anyhow::Result<Settings> {
        let settings = Self::merge(extra_file, environment)?;
        if let Some(bad) = settings
            .trusted_proxies
            .iter()
            .find(|p| parse_trusted_proxy(p).is_none())
        {
            anyhow::bail!(
                "trusted_proxies has {bad:?}, which is neither an address (10.0.0.7, fd00::7) nor a \
                 network (10.0.0.0/8, fd00::/8); list the addresses of your reverse proxies"
            );
        }
        Ok(settings)
    }

    /// The layers merged, before the checks that `load` makes (`tavla config check` makes them
    /// itself, naming where each value came from).
    pub(crate) fn merge(
        extra_file: Option<&Path>,
        environment: Option<config::Map<String, String>>,
    ) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(BUILT_IN, config::FileFormat::Toml))
            .add_source(config::File::with_name("config/default.toml").required(false));
        if let Some(path) = extra_file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let built = builder.add_source(self::environment(environment)).build()?;
        built
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("the settings are not valid: {e}"))
    }

    /// The check that `serve` makes before it binds: no app secret, no start (DESIGN.md §8).
    pub fn require_webhook_secret(&self) -> anyhow::Result<()> {
        if self.meta_app_secret.is_blank() {
            anyhow::bail!(
                "no Meta app secret is set, so webhooks could not be verified. Set TAVLA_META_APP_SECRET \
                 (the app secret from your Meta app's settings) or meta_app_secret in a --config file"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let mut settings = Settings::load(None).expect("the defaults load");
        settings.database_url = "postgres://tavla:pg-password-4711@db/tavla".into();
        settings.meta_app_secret = "app-secret-4711".into();
        settings.meta_verify_token = "verify-token-4711".into();
        settings.moderation_alert_url = "https://hooks.example/alert-4711".into();
        settings.metrics_token = "metrics-token-4711".into();
        settings.oidc_client_secret = "oidc-secret-4711".into();
        let printed = format!("{settings:?} {settings:#?}");
        assert!(!printed.contains("4711"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert_eq!(settings.meta_app_secret.expose(), "app-secret-4711");
        assert_eq!(format!("{}", settings.metrics_token), "[redacted]");
    }

    #[test]
    fn secrets_load_from_the_environment_layer_like_any_setting() {
        let built = config::Config::builder()
            .add_source(config::File::from_str(BUILT_IN, config::FileFormat::Toml))
            .set_override("meta_app_secret", "from-env")
            .unwrap()
            .build()
            .unwrap();
        let settings: Settings = built.try_deserialize().unwrap();
        assert_eq!(settings.meta_app_secret.expose(), "from-env");
        assert!(settings.metrics_token.is_blank());
        assert_eq!(settings.metrics_addresses, ["127.0.0.1", "::1"]);
    }
}
