//! `tavla config check`: reads every layer of the settings (the built-in defaults,
//! `config/default.toml`, the `--config` file, `TAVLA_*` variables) and every file they name
//! (training, routines, retention, the moderation lexicons, the trained model), and names each
//! problem with its file and line and what to do. `serve` runs the same check before it starts,
//! so a mistake stops the start in these words, and a misspelt key (which would otherwise be
//! ignored without a word) is pointed out.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::settings::{self, parse_trusted_proxy, Settings};

const PREFIX: &str = "TAVLA_";
/// Variables with the prefix that are not settings: the test suite's and the benchmarks' own.
const NOT_SETTINGS: [&str; 3] = ["TAVLA_TEST_", "TAVLA_BENCH_", "TAVLA_UPDATE_"];
/// Settings that an older tavla read: named as retired, not as unknown.
const RETIRED: [(&str, &str); 1] = [(
    "signin_max_failures_per_address",
    "no longer read (there is no limit per address alone; README, \"Signing in\"); remove it",
)];
const BUILT_IN_NAME: &str = "config/default.toml (built into tavla)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// tavla would not start, or would not do what the setting asks.
    Error,
    /// tavla starts, but something is probably not what was meant.
    Warning,
}

/// Where a problem is: a file (and its line when known) or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    File { path: String, line: Option<usize> },
    Environment(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File {
                path,
                line: Some(line),
            } => write!(f, "{path}:{line}"),
            Place::File { path, line: None } => f.write_str(path),
            Place::Environment(name) => write!(f, "environment variable {name}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub severity: Severity,
    pub place: Place,
    /// What is wrong and what to do, in one line.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {severity}: {}", self.place, self.message)
    }
}

/// What the check found, and what it read.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub checked: Vec<String>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == severity)
            .count()
    }

    fn push(&mut self, severity: Severity, place: Place, message: String) {
        self.problems.push(Problem {
            severity,
            place,
            message,
        });
    }

    /// The problems, one a line, then a summary line.
    pub fn render(&self) -> String {
        let mut out: String = self.problems.iter().map(|p| format!("{p}\n")).collect();
        out.push_str(&format!(
            "{} error(s), {} warning(s) in {}\n",
            self.errors(),
            self.warnings(),
            self.checked.join(", ")
        ));
        out
    }
}

/// Checks the settings as `serve` would load them, with the process's environment.
pub fn check(extra: Option<&Path>) -> Report {
    let environment = std::env::vars()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .collect();
    check_with(extra, environment)
}

/// Checks the settings with `environment` (the `TAVLA_*` variables) as their last layer.
pub fn check_with(extra: Option<&Path>, environment: BTreeMap<String, String>) -> Report {
    let mut report = Report::default();
    let defaults: toml::Table = toml::from_str(settings::BUILT_IN).expect("built-in settings");
    let mut layers = vec![Layer::read_text(
        BUILT_IN_NAME,
        settings::BUILT_IN.to_string(),
    )];
    let local = Path::new("config/default.toml");
    if local.is_file() {
        layers.push(Layer::read(local, &mut report));
    }
    if let Some(extra) = extra {
        layers.push(Layer::read(extra, &mut report));
    }
    for layer in &layers {
        report.checked.push(layer.name.clone());
        layer.check_keys(&defaults, &mut report);
    }
    let set_by_environment = check_environment(&environment, &defaults, &mut report);
    report.checked.push(format!(
        "the environment ({} {PREFIX}* variable(s))",
        environment.len()
    ));
    if report.errors() > 0 {
        // The layers do not merge into settings; their own problems are what to fix first.
        return report;
    }
    let settings = match Settings::merge(extra, Some(environment.into_iter().collect())) {
        Ok(settings) => settings,
        Err(e) => {
            let place = Place::File {
                path: extra.map_or(BUILT_IN_NAME.into(), |p| p.display().to_string()),
                line: None,
            };
            report.push(Severity::Error, place, format!("{e:#}"));
            return report;
        }
    };
    let places = Places {
        layers: &layers,
        environment: &set_by_environment,
    };
    check_values(&settings, &places, &mut report);
    check_files(&settings, &places, &mut report);
    report
}

/// One file of settings: its name as shown, its values, and the line of each key.
struct Layer {
    name: String,
    values: toml::Table,
    lines: BTreeMap<String, usize>,
}

impl Layer {
    fn read(path: &Path, report: &mut Report) -> Layer {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let layer = Layer::read_text(&name, text.clone());
                if let Err(e) = toml::de::DeTable::parse(&text) {
                    report.push(Severity::Error, toml_place(&name, &text, &e), syntax(&e));
                }
                layer
            }
            Err(e) => {
                let place = Place::File {
                    path: name.clone(),
                    line: None,
                };
                report.push(
                    Severity::Error,
                    place,
                    format!("cannot read it ({e}); give the path of a settings file (TOML)"),
                );
                Layer::read_text(&name, String::new())
            }
        }
    }

    /// A layer from text; text that is not TOML gives an empty layer (its error is reported by
    /// `read`).
    fn read_text(name: &str, text: String) -> Layer {
        let lines = toml::de::DeTable::parse(&text)
            .map(|table| {
                table
                    .get_ref()
                    .iter()
                    .map(|(key, _)| (key.get_ref().to_string(), line_at(&text, key.span().start)))
                    .collect()
            })
            .unwrap_or_default();
        Layer {
            name: name.to_string(),
            values: toml::from_str(&text).unwrap_or_default(),
            lines,
        }
    }

    fn place(&self, key: &str) -> Place {
        Place::File {
            path: self.name.clone(),
            line: self.lines.get(key).copied(),
        }
    }

    /// Unknown keys (a warning: tavla ignores them) and values of the wrong type (an error).
    fn check_keys(&self, defaults: &toml::Table, report: &mut Report) {
        for (key, value) in &self.values {
            let place = self.place(key);
            if !defaults.contains_key(key) {
                report.push(Severity::Warning, place, unknown(key, defaults));
            } else if let Some(problem) = wrong_type(defaults, key, value) {
                report.push(Severity::Error, place, problem);
            }
        }
    }
}

/// Checks each `TAVLA_*` variable; returns the settings they set, by key, with the variable.
fn check_environment(
    environment: &BTreeMap<String, String>,
    defaults: &toml::Table,
    report: &mut Report,
) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    for (name, value) in environment {
        if NOT_SETTINGS.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let key = name[PREFIX.len()..].to_lowercase();
        let place = Place::Environment(name.clone());
        if !defaults.contains_key(&key) {
            report.push(Severity::Warning, place, unknown(&key, defaults));
            continue;
        }
        let one = config::Map::from([(name.clone(), value.clone())]);
        let loaded = config::Config::builder()
            .add_source(config::File::from_str(
                settings::BUILT_IN,
                config::FileFormat::Toml,
            ))
            .add_source(settings::environment(Some(one)))
            .build()
            .and_then(|c| c.try_deserialize::<Settings>());
        if let Err(e) = loaded {
            let example = example(defaults, &key);
            report.push(
                Severity::Error,
                place,
                format!("{key}: {e}; write it like the default ({example})"),
            );
        }
        set.insert(key, name.clone());
    }
    set
}

/// Where each setting's value came from: the last layer that sets it.
struct Places<'a> {
    layers: &'a [Layer],
    environment: &'a BTreeMap<String, String>,
}

impl Places<'_> {
    fn of(&self, key: &str) -> Place {
        if let Some(name) = self.environment.get(key) {
            return Place::Environment(name.clone());
        }
        self.layers
            .iter()
            .rev()
            .find(|l| l.lines.contains_key(key))
            .unwrap_or(&self.layers[0])
            .place(key)
    }

    /// Set somewhere other than the built-in defaults.
    fn is_chosen(&self, key: &str) -> bool {
        self.environment.contains_key(key)
            || self.layers[1..].iter().any(|l| l.lines.contains_key(key))
    }
}

/// The values' own rules: what a type cannot say.
fn check_values(s: &Settings, places: &Places<'_>, report: &mut Report) {
    let mut problem = |severity: Severity, key: &str, message: String| {
        report.push(severity, places.of(key), format!("{key}: {message}"));
    };
    use Severity::{Error, Warning};
    if let Some(m) = database_url_problem(s.database_url.expose()) {
        problem(Error, "database_url", m);
    }
    if s.listen
        .to_socket_addrs()
        .map(|mut a| a.next())
        .ok()
        .flatten()
        .is_none()
    {
        problem(
            Error,
            "listen",
            format!(
                "{:?} is not an address to listen on; write host:port, e.g. 127.0.0.1:8080",
                s.listen
            ),
        );
    }
    if s.data_dir.exists() && !s.data_dir.is_dir() {
        problem(
            Error,
            "data_dir",
            format!(
                "{} is a file, not a folder; name a folder (it is created when missing)",
                s.data_dir.display()
            ),
        );
    }
    if tracing_subscriber::EnvFilter::try_new(&s.log_level).is_err() {
        problem(
            Error,
            "log_level",
            format!("{:?} is not a log filter; write a level (error, warn, info, debug, trace) or directives like \"tavla=debug,info\"", s.log_level),
        );
    }
    if s.meta_app_secret.is_blank() {
        problem(
            Error,
            "meta_app_secret",
            "no Meta app secret is set, so webhooks could not be verified and tavla does not start; set it (TAVLA_META_APP_SECRET) to the app secret from your Meta app's settings".into(),
        );
    }
    if s.meta_verify_token.is_blank() {
        problem(
            Warning,
            "meta_verify_token",
            "not set, so Meta's subscription handshake is refused; choose a long random string and give Meta the same when you subscribe the webhook".into(),
        );
    }
    if let Some(m) = url_problem(&s.graph_base_url) {
        problem(
            Error,
            "graph_base_url",
            format!("{m}; the default is Meta's, https://graph.facebook.com/v21.0"),
        );
    }
    if !s.moderation_alert_url.is_blank() {
        if let Some(m) = url_problem(s.moderation_alert_url.expose()) {
            problem(Error, "moderation_alert_url", format!("{m}; give the incoming-webhook URL of your Teams or Slack channel, or leave it empty"));
        }
    }
    for (key, value) in positive_numbers(s) {
        if value < 1 {
            problem(
                Error,
                key,
                format!("{value} is too small; it must be at least 1"),
            );
        }
    }
    for entry in &s.trusted_proxies {
        if parse_trusted_proxy(entry).is_none() {
            problem(
                Error,
                "trusted_proxies",
                format!("{entry:?} is neither an address (10.0.0.7, fd00::7) nor a network (10.0.0.0/8, fd00::/8); list the addresses of your reverse proxies"),
            );
        }
    }
    for entry in &s.metrics_addresses {
        if entry.trim().parse::<IpAddr>().is_err() {
            problem(
                Error,
                "metrics_addresses",
                format!("{entry:?} is not an address; list the addresses a scraper connects from (127.0.0.1, ::1)"),
            );
        }
    }
    let metrics_listen = s.metrics_listen.trim();
    if !metrics_listen.is_empty() {
        let resolves = metrics_listen
            .to_socket_addrs()
            .map(|mut a| a.next().is_some());
        if !resolves.unwrap_or(false) {
            problem(
                Error,
                "metrics_listen",
                format!("{metrics_listen:?} is not an address to listen on; write host:port on the monitoring network (10.0.5.7:9464), or leave it empty"),
            );
        } else if metrics_listen == s.listen.trim() {
            problem(Error, "metrics_listen", "is the service's own address (listen); give /metrics another port, or leave it empty".into());
        }
    }
    if !s.metrics_token.is_blank() && s.metrics_token.expose().trim().chars().count() < 16 {
        problem(
            Warning,
            "metrics_token",
            "shorter than 16 characters, so it can be guessed; use a long random string (openssl rand -hex 32)".into(),
        );
    }
    check_moderation_values(s, &mut problem);
    check_oidc_values(s, &mut problem);
}

/// Single sign-on: all or nothing, and what the provider needs to know of tavla.
fn check_oidc_values(s: &Settings, problem: &mut impl FnMut(Severity, &str, String)) {
    use Severity::{Error, Warning};
    let issuer = s.oidc_issuer.trim();
    if issuer.is_empty() {
        if !s.local_passwords {
            problem(Error, "local_passwords", "is false but no identity provider is set (oidc_issuer), so nobody could sign in; set oidc_issuer, oidc_client_id and oidc_redirect_url, or set local_passwords = true".into());
        }
        return;
    }
    match reqwest::Url::parse(issuer) {
        Ok(u) if u.scheme() == "https" => {}
        Ok(u) if u.scheme() == "http" && is_loopback(&u) => {}
        Ok(_) => problem(Error, "oidc_issuer", format!("{issuer:?} is not an https:// URL; write the issuer as the provider names it, e.g. https://login.microsoftonline.com/<tenant id>/v2.0 or https://sso.kommun.example/realms/kommun")),
        Err(_) => problem(Error, "oidc_issuer", format!("{issuer:?} is not a URL; write the issuer as the provider names it, e.g. https://sso.kommun.example/realms/kommun")),
    }
    if s.oidc_client_id.trim().is_empty() {
        problem(Error, "oidc_client_id", "is empty while oidc_issuer is set; give the client (application) id registered for tavla at the provider".into());
    }
    match reqwest::Url::parse(s.oidc_redirect_url.trim()) {
        Ok(u) if u.path().ends_with("/auth/oidc/callback") && (u.scheme() == "https" || is_loopback(&u)) => {
            if s.secure_cookies != (u.scheme() == "https") {
                problem(Warning, "oidc_redirect_url", "and secure_cookies disagree about TLS; serve tavla over https with secure_cookies = true".into());
            }
        }
        _ => problem(Error, "oidc_redirect_url", "must be tavla's own https address ending in /auth/oidc/callback (https://tavla.kommun.example/auth/oidc/callback), registered as a redirect URI at the provider".into()),
    }
    if s.oidc_client_secret.is_blank() {
        problem(Warning, "oidc_client_secret", "is empty, so tavla signs in as a public client (PKCE alone); if the provider gave tavla a secret, set TAVLA_OIDC_CLIENT_SECRET".into());
    }
    if s.oidc_groups_claim.trim().is_empty() {
        problem(Error, "oidc_groups_claim", "is empty; name the ID token's claim with the groups or app roles (\"groups\", or \"roles\" for Entra ID app roles)".into());
    }
    if let Ok(rules) = crate::access::oidc::load_rules(&s.oidc_roles_file) {
        if rules.is_empty() {
            problem(Error, "oidc_roles_file", format!("{} has no [[rule]], so nobody could sign in through the provider; add a rule per group (see config/oidc.toml)", s.oidc_roles_file.display()));
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Thresholds, staffed hours and the trained model.
fn check_moderation_values(s: &Settings, problem: &mut impl FnMut(Severity, &str, String)) {
    use crate::moderation::cases::StaffedHours;
    use crate::moderation::triage::Severity as Level;
    for (key, level) in [
        ("case_threshold", &s.case_threshold),
        ("dm_case_threshold", &s.dm_case_threshold),
    ] {
        if Level::parse(level).is_none() {
            problem(
                Severity::Error,
                key,
                format!("{level:?} is not a level; write one of S0, S1, S2, S3, S4, S5"),
            );
        }
    }
    let hours = [
        ("staffed_days", (s.staffed_days.as_str(), "08:00", "17:00")),
        (
            "staffed_from",
            ("mon-fri", s.staffed_from.as_str(), "24:00"),
        ),
        ("staffed_to", ("mon-fri", "00:00", s.staffed_to.as_str())),
    ];
    for (key, (days, from, to)) in hours {
        if let Err(e) = StaffedHours::parse(days, from, to) {
            problem(Severity::Error, key, format!("{e}; e.g. staffed_days = \"mon-fri\", staffed_from = \"08:00\", staffed_to = \"17:00\""));
        }
    }
    if let Ok(hours) = StaffedHours::parse(&s.staffed_days, &s.staffed_from, &s.staffed_to) {
        if let Err(e) = hours.closing(s.staffed_holidays_closed, &s.staffed_closed_days) {
            problem(
                Severity::Error,
                "staffed_closed_days",
                format!("{e}; write dates as \"2026-12-23\" (that day) or \"12-23\" (every year)"),
            );
        }
    }
    let model = crate::moderation::service::model_path(s).and_then(|path| {
        path.map(|p| crate::moderation::model::Model::load(&p).map(|_| ()))
            .transpose()
    });
    if let Err(e) = model {
        problem(
            Severity::Error,
            "moderation_model",
            format!("{e:#}; train one with `tavla moderation train`, name another file, or write \"none\" for the rules alone"),
        );
    }
}

/// Settings that mean nothing, or stop everything, below 1.
fn positive_numbers(s: &Settings) -> Vec<(&'static str, i64)> {
    let n = |v: usize| v as i64;
    let u = |v: u64| v.min(i64::MAX as u64) as i64;
    vec![
        ("graph_timeout_seconds", u(s.graph_timeout_seconds)),
        ("delivery_max_attempts", s.delivery_max_attempts),
        ("delivery_retry_base_ms", s.delivery_retry_base_ms),
        ("delivery_retry_max_seconds", s.delivery_retry_max_seconds),
        ("max_body_bytes", n(s.max_body_bytes)),
        ("max_text_chars", n(s.max_text_chars)),
        ("claim_lease_seconds", s.claim_lease_seconds),
        ("ingest_batch_max", n(s.ingest_batch_max)),
        ("session_idle_minutes", s.session_idle_minutes),
        ("session_absolute_hours", s.session_absolute_hours),
        (
            "signin_max_failures_per_account",
            n(s.signin_max_failures_per_account),
        ),
        (
            "signin_max_failures_per_account_and_address",
            n(s.signin_max_failures_per_account_and_address),
        ),
        ("signin_window_minutes", s.signin_window_minutes),
        ("password_hash_concurrency", n(s.password_hash_concurrency)),
        ("api_max_concurrent", n(s.api_max_concurrent)),
        ("request_timeout_seconds", u(s.request_timeout_seconds)),
        ("webhook_max_concurrent", n(s.webhook_max_concurrent)),
        ("event_streams_per_person", n(s.event_streams_per_person)),
        ("event_streams_max", n(s.event_streams_max)),
        ("service_level_hours", s.service_level_hours),
        ("comment_service_level_hours", s.comment_service_level_hours),
    ]
}

/// The database URL's problem, never quoting it (it may carry a password).
fn database_url_problem(url: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or("");
        return (path.is_empty() || path == ":memory:").then(|| {
            "names no SQLite file; write sqlite://data/tavla.db or another path".to_string()
        });
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return reqwest::Url::parse(url).err().map(|_| {
            "is not a URL like postgres://user:password@host:5432/tavla (characters such as @ or / in the password are written %40, %2F)".to_string()
        });
    }
    Some(
        "must start with sqlite:// (one file, the default) or postgres:// (a PostgreSQL database)"
            .into(),
    )
}

fn url_problem(url: &str) -> Option<String> {
    match reqwest::Url::parse(url) {
        Ok(u) if ["http", "https"].contains(&u.scheme()) => None,
        Ok(_) => Some("is not an http:// or https:// URL".into()),
        Err(_) => Some("is not a URL".into()),
    }
}

/// A file's loader, as tavla runs it at start.
type Parse = fn(&str) -> anyhow::Result<()>;

/// The files the settings name: each read as tavla reads it at start.
fn check_files(s: &Settings, places: &Places<'_>, report: &mut Report) {
    use crate::access::training::TrainingConfig;
    use crate::moderation::routines::Routines;
    use crate::privacy::rules::RetentionRules;
    let files: [(&str, &PathBuf, Parse); 5] = [
        ("training_file", &s.training_file, |t| {
            TrainingConfig::parse(t).map(|_| ())
        }),
        ("routines_file", &s.routines_file, |t| {
            Routines::parse(t).map(|_| ())
        }),
        ("retention_file", &s.retention_file, |t| {
            RetentionRules::parse(t).map(|_| ())
        }),
        ("integrations_file", &s.integrations_file, |t| {
            crate::outbound::integrations::Integrations::parse(t).map(|_| ())
        }),
        ("oidc_roles_file", &s.oidc_roles_file, |t| {
            crate::access::oidc::parse_rules(t).map(|_| ())
        }),
    ];
    for (key, path, parse) in files {
        if !path.exists() {
            if places.is_chosen(key) {
                report.push(
                    Severity::Warning,
                    places.of(key),
                    format!("{key}: {} does not exist, so the built-in copy is used; correct the path, or remove the setting", path.display()),
                );
            }
            continue;
        }
        report.checked.push(path.display().to_string());
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Err(e) => report.push(
                Severity::Error,
                Place::File {
                    path: name,
                    line: None,
                },
                format!("cannot read it ({e}); tavla must be able to read the files {key} names"),
            ),
            Ok(text) => {
                if let Err(e) = parse(&text) {
                    let (place, message) = located(&name, &text, &e);
                    report.push(Severity::Error, place, message);
                }
            }
        }
    }
    check_moderation_dir(s, places, report);
}

/// Each lexicon file's syntax on its own (exact lines), then all of them compiled together.
fn check_moderation_dir(s: &Settings, places: &Places<'_>, report: &mut Report) {
    let dir = &s.moderation_dir;
    if !dir.is_dir() {
        if places.is_chosen("moderation_dir") {
            report.push(
                Severity::Warning,
                places.of("moderation_dir"),
                format!("moderation_dir: {} is not a folder, so the built-in lexicons are used; correct the path, or remove the setting", dir.display()),
            );
        }
        return;
    }
    report.checked.push(format!("{}/*.toml", dir.display()));
    let mut files = Vec::new();
    let mut syntax_ok = true;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Err(e) = toml::de::DeTable::parse(&text) {
            syntax_ok = false;
            report.push(Severity::Error, toml_place(&name, &text, &e), syntax(&e));
        }
        files.push((path, text));
    }
    if !syntax_ok {
        return;
    }
    if let Err(e) = crate::moderation::triage::Engine::load(dir) {
        // The compiler names the file it was in; its line is found as for the other files.
        let chain = format!("{e:#}");
        let (path, text) = files
            .iter()
            .find(|(p, _)| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| chain.contains(n))
            })
            .map(|(p, t)| (p.display().to_string(), t.as_str()))
            .unwrap_or_else(|| (dir.display().to_string(), ""));
        let (place, message) = located(&path, text, &e);
        report.push(Severity::Error, place, message);
    }
}

/// A loader's error with the line it is about: the parser's own position when it is a TOML
/// error, or else the line that names what the message names.
fn located(path: &str, text: &str, e: &anyhow::Error) -> (Place, String) {
    if let Some(toml_error) = e.chain().find_map(|c| c.downcast_ref::<toml::de::Error>()) {
        let message = format!(
            "{}; compare with the file as shipped in tavla's config/",
            toml_error.message().trim()
        );
        return (toml_place(path, text, toml_error), message);
    }
    let message = format!("{e:#}");
    let place = Place::File {
        path: path.to_string(),
        line: locate(text, &message),
    };
    (place, message)
}

/// The line a message is about: the item it names (`routine S3`, `rule */dm`, `notice x`), then
/// within it a quoted value or a key it names.
fn locate(text: &str, message: &str) -> Option<usize> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l))
        .collect();
    let find_from = |start: usize, needle: &str| {
        lines
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, l)| mentions(l, needle))
            .map(|(i, _)| i)
    };
    let anchor = item_named(message).and_then(|item| {
        // `rule */dm` is written as platform = "*" and message_kind = "dm" on its own lines.
        let last = item.rsplit('/').next().unwrap_or(&item).to_string();
        find_from(0, &item).or_else(|| find_from(0, &last))
    });
    let within = needles(message)
        .into_iter()
        .find_map(|needle| find_from(anchor.unwrap_or(0), &needle));
    within.or(anchor).map(|i| i + 1)
}

/// The item a loader's message begins with: "routine S3: …", "rule */dm: …", "notice x: …".
fn item_named(message: &str) -> Option<String> {
    [
        "routine ",
        "rule ",
        "notice ",
        "category ",
        "receiver ",
        "[other] ",
    ]
    .iter()
    .find_map(|prefix| message.find(prefix).map(|at| &message[at + prefix.len()..]))
    .and_then(|rest| rest.split([':', ' ', ',']).next())
    .map(|item| item.trim_matches('"').to_string())
    .filter(|item| !item.is_empty())
}

/// Quoted values, `[sections]` and snake_case keys a message names, most precise first.
fn needles(message: &str) -> Vec<String> {
    let mut out: Vec<String> = message
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let words = message.split(|c: char| !(c.is_alphanumeric() || "_[]".contains(c)));
    for word in words {
        if (word.starts_with('[') && word.ends_with(']'))
            || (word.contains('_') && !word.starts_with('_'))
        {
            out.push(word.to_string());
        }
    }
    out
}

/// Whether a line (comment cut off) sets `needle`, has it as a value, or heads its section.
fn mentions(line: &str, needle: &str) -> bool {
    let trimmed = line.trim();
    trimmed.contains(&format!("\"{needle}\""))
        || trimmed.contains(&format!("'{needle}'"))
        || trimmed
            .strip_prefix(needle)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        || (needle.starts_with('[')
            && trimmed.trim_matches(['[', ']']) == needle.trim_matches(['[', ']']))
        || trimmed == format!("[{needle}]")
        || trimmed == format!("[[{needle}]]")
}

/// A key tavla does not know, with the nearest known one when it looks like a misspelling.
fn unknown(key: &str, defaults: &toml::Table) -> String {
    if let Some((_, why)) = RETIRED.iter().find(|(k, _)| *k == key) {
        return format!("{key}: {why}");
    }
    let nearest = defaults
        .keys()
        .map(|known| (edit_distance(key, known), known))
        .min()
        .filter(|(d, _)| *d <= 3);
    match nearest {
        Some((_, known)) => format!(
            "{key} is not a setting, so tavla ignores it; did you mean {known}? Correct or remove it"
        ),
        None => format!(
            "{key} is not a setting, so tavla ignores it; remove it (the settings are listed in config/default.toml)"
        ),
    }
}

/// Whether `value` fits `key`: the defaults with this one value in its place must load.
fn wrong_type(defaults: &toml::Table, key: &str, value: &toml::Value) -> Option<String> {
    let mut table = defaults.clone();
    table.insert(key.to_string(), value.clone());
    let error = toml::Value::Table(table).try_into::<Settings>().err()?;
    Some(format!(
        "{key}: {}; write it like the default ({})",
        error.message().trim(),
        example(defaults, key)
    ))
}

fn example(defaults: &toml::Table, key: &str) -> String {
    let value = defaults
        .get(key)
        .map(ToString::to_string)
        .unwrap_or_default();
    format!("{key} = {value}")
}

fn syntax(e: &toml::de::Error) -> String {
    format!("not valid TOML: {}; correct this line", e.message().trim())
}

fn toml_place(path: &str, text: &str, e: &toml::de::Error) -> Place {
    Place::File {
        path: path.to_string(),
        line: e.span().map(|s| line_at(text, s.start)),
    }
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Levenshtein distance, for suggesting the setting a misspelt key meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_placed_at_the_item_and_value_it_names() {
        let text = "version = \"1\"\n\n[[routine]]\nlevel = \"S0\"\ndue_minutes = 5\n\n[[routine]]\nlevel = \"S3\"\ndue_minutes = 0\n[[routine.steps]]\nkind = \"bogus\"\n";
        assert_eq!(
            locate(text, "routine S3: due_minutes must be positive"),
            Some(9)
        );
        assert_eq!(
            locate(text, "routine S3: unknown step kind \"bogus\""),
            Some(11)
        );
        assert_eq!(locate(text, "routine S9: nothing"), None);
    }

    #[test]
    fn a_misspelt_key_suggests_the_setting() {
        let defaults: toml::Table = toml::from_str(settings::BUILT_IN).unwrap();
        assert!(unknown("secure_cookie", &defaults).contains("did you mean secure_cookies?"));
        assert!(unknown("colour", &defaults).contains("remove it"));
        assert!(unknown("signin_max_failures_per_address", &defaults).contains("no longer read"));
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }
}
