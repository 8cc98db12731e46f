//! Outgoing webhooks for the organisation's own systems (its case-management system): a case
//! closed with a police report, and a conversation handed to a unit. Receivers are configured in
//! `integrations_file`.
//!
//! A follower reads the event log and turns each event a receiver asked for into a delivery,
//! written with the follower's cursor in one transaction (so none is lost or written twice, and
//! several instances share the work). Workers send each delivery as a JSON POST signed with
//! HMAC-SHA256 and retry it with backoff until the receiver answers 2xx or the attempts run out.
//! A delivery never carries the words of a direct message unless its receiver is configured to
//! get them, and never S5 content (metadata only, as everywhere in tavla).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::DeliveryConfig;
use crate::metrics::DeliveryFailures;
use crate::settings::Secret;
use crate::store::events::StoredEvent;
use crate::store::integrations::{
    ClaimedDelivery, HandoverFacts, MessageFacts, NewDelivery, ReportedCase,
};
use crate::store::outbox::Attempt;
use crate::store::{now_ms, Store};

pub const CASE_CLOSED: &str = "case.closed_with_police_report";
pub const HANDED_OVER: &str = "conversation.handed_over";
const EVENTS: [&str; 2] = [CASE_CLOSED, HANDED_OVER];
const BUILT_IN: &str = include_str!("../../config/integrations.toml");
/// Longest sleep without looking for due deliveries (retries, other instances' rows).
const POLL: Duration = Duration::from_secs(1);
/// How often the follower records how far it has read when nothing was delivered.
const CURSOR_EVERY: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegrationsFile {
    #[serde(default)]
    units: Vec<String>,
    #[serde(default, rename = "receiver")]
    receivers: Vec<ReceiverFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiverFile {
    name: String,
    url: String,
    secret_file: PathBuf,
    events: Vec<String>,
    #[serde(default)]
    include_dm_text: bool,
}

/// One system that hears of events (its secret prints as `[redacted]`).
#[derive(Debug)]
pub struct Receiver {
    pub name: String,
    pub url: reqwest::Url,
    secret: Secret<String>,
    pub events: Vec<String>,
    /// Direct messages' words go along (the receiver is entitled to them); otherwise withheld.
    pub include_dm_text: bool,
}

/// The receivers, and the units a conversation may be handed to (empty: any name).
#[derive(Debug, Default)]
pub struct Integrations {
    pub units: Vec<String>,
    pub receivers: Vec<Receiver>,
}

impl Integrations {
    /// Reads `path` (the built-in copy, which configures none, when it is missing) and every
    /// receiver's secret file.
    pub fn load(path: &Path) -> anyhow::Result<Integrations> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BUILT_IN.to_string(),
            Err(e) => bail!("cannot read {}: {e}", path.display()),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Integrations> {
        let file: IntegrationsFile = toml::from_str(text)?;
        for (i, unit) in file.units.iter().enumerate() {
            let length = unit.trim().chars().count();
            if length == 0 || length > 100 || file.units[..i].contains(unit) {
                bail!("units: {unit:?} must be 1 to 100 characters and listed once");
            }
        }
        let mut receivers: Vec<Receiver> = Vec::new();
        for r in file.receivers {
            let receiver = Receiver::check(r)?;
            if receivers.iter().any(|known| known.name == receiver.name) {
                bail!(
                    "receiver {:?}: the name is used twice; give each receiver its own",
                    receiver.name
                );
            }
            receivers.push(receiver);
        }
        Ok(Integrations {
            units: file.units,
            receivers,
        })
    }

    /// Whether a conversation may be handed to `unit`.
    pub fn unit_allowed(&self, unit: &str) -> bool {
        self.units.is_empty() || self.units.iter().any(|u| u == unit)
    }

    fn wanting<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Receiver> + 'a {
        self.receivers
            .iter()
            .filter(move |r| r.events.iter().any(|e| e == event))
    }

    fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

impl Receiver {
    fn check(r: ReceiverFile) -> anyhow::Result<Receiver> {
        let name = r.name;
        let valid_name = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_name {
            bail!("receiver {name:?}: a name is 1 to 64 of a-z, 0-9, - and _");
        }
        let url = reqwest::Url::parse(&r.url)
            .ok()
            .filter(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)))
            .with_context(|| {
                format!(
                    "receiver {name:?}: url must be an https:// URL (http:// only to this machine)"
                )
            })?;
        if r.events.is_empty() {
            bail!("receiver {name:?}: events names none; write events = [\"{CASE_CLOSED}\", \"{HANDED_OVER}\"] or some of them");
        }
        if let Some(unknown) = r.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            bail!(
                "receiver {name:?}: there is no event {unknown:?}; the events are {}",
                EVENTS.join(", ")
            );
        }
        let secret = std::fs::read_to_string(&r.secret_file).with_context(|| {
            format!(
                "receiver {name:?}: cannot read secret_file {}; put the shared secret there, readable by tavla",
                r.secret_file.display()
            )
        })?;
        let secret = secret.trim().to_string();
        if secret.chars().count() < 32 {
            bail!(
                "receiver {name:?}: the secret in {} is shorter than 32 characters; put a long random string there (openssl rand -hex 32)",
                r.secret_file.display()
            );
        }
        Ok(Receiver {
            name,
            url,
            secret: Secret::new(secret),
            events: r.events,
            include_dm_text: r.include_dm_text,
        })
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// `X-Tavla-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
/// The time is signed too, so a receiver can refuse an old delivery replayed.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Starts the follower and one worker when receivers are configured and this instance delivers;
/// with no receivers, the follower's cursor is moved to the log's end, so a receiver configured
/// later hears of what happens from then on.
pub async fn start(
    store: Store,
    integrations: Arc<Integrations>,
    config: DeliveryConfig,
    failures: Arc<DeliveryFailures>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    if integrations.receivers.is_empty() {
        let end = store.last_event_seq().await?;
        let from = store.webhook_cursor().await?;
        if end > from {
            store.advance_webhooks(from, end, &[]).await?;
        }
        return Ok(Vec::new());
    }
    if config.workers == 0 {
        return Ok(Vec::new());
    }
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tavla/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot set up the HTTP client for webhooks")?;
    let written = Arc::new(Notify::new());
    let follower = tokio::spawn(follow(
        store.clone(),
        integrations.clone(),
        written.clone(),
        shutdown.clone(),
    ));
    let worker = tokio::spawn(send(
        store,
        client,
        integrations,
        Arc::new(config),
        failures,
        written,
        shutdown,
    ));
    Ok(vec![follower, worker])
}

/// Turns events into deliveries, from the stored cursor on.
async fn follow(
    store: Store,
    integrations: Arc<Integrations>,
    written: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut follower = Follower {
        stored: None,
        seen: 0,
        saved_at: tokio::time::Instant::now(),
    };
    while !*shutdown.borrow() {
        let committed = store.committed.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        match follower.step(&store, &integrations).await {
            Ok(true) => {
                written.notify_waiters();
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: could not read the event log; trying again")
            }
        }
        tokio::select! {
            _ = &mut committed => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Where the follower stands: the stored cursor, and how far it has read beyond it (events that
/// gave no delivery, recorded now and then rather than in a write per batch).
struct Follower {
    stored: Option<i64>,
    seen: i64,
    saved_at: tokio::time::Instant,
}

impl Follower {
    /// Reads one batch of events; true when it wrote deliveries.
    async fn step(&mut self, store: &Store, integrations: &Integrations) -> anyhow::Result<bool> {
        let stored = match self.stored {
            Some(stored) => stored,
            None => {
                let stored = store.webhook_cursor().await?;
                self.seen = stored;
                self.stored = Some(stored);
                stored
            }
        };
        let events = store.events_after(self.seen, 200).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(false);
        };
        let mut deliveries = Vec::new();
        for event in &events {
            deliveries.extend(deliveries_for(store, integrations, event).await?);
        }
        let due = self.saved_at.elapsed() >= CURSOR_EVERY;
        if deliveries.is_empty() && !due {
            self.seen = last;
            return Ok(false);
        }
        let moved = store.advance_webhooks(stored, last, &deliveries).await?;
        // Another instance moved the cursor first: it wrote these; read on from where it stands.
        self.stored = moved.then_some(last);
        self.seen = last;
        self.saved_at = tokio::time::Instant::now();
        Ok(moved && !deliveries.is_empty())
    }
}

/// The deliveries one event makes: one per receiver that asked for it.
async fn deliveries_for(
    store: &Store,
    integrations: &Integrations,
    event: &StoredEvent,
) -> anyhow::Result<Vec<NewDelivery>> {
    let mut out = Vec::new();
    match event.kind.as_str() {
        "moderation.case_changed" if event.payload["closed"] == true => {
            if integrations.wanting(CASE_CLOSED).next().is_none() {
                return Ok(out);
            }
            let Some(case) = event.payload["case_id"].as_i64() else {
                return Ok(out);
            };
            if let Some(case) = store.reported_case(case).await? {
                for r in integrations.wanting(CASE_CLOSED) {
                    out.push(delivery(r, CASE_CLOSED, event, case_payload(&case, r)));
                }
            }
        }
        "conversation.handed_over" => {
            let Some(handover) = event.payload["handover_id"].as_i64() else {
                return Ok(out);
            };
            if integrations.wanting(HANDED_OVER).next().is_none() {
                return Ok(out);
            }
            if let Some(h) = store.handover_facts(handover).await? {
                for r in integrations.wanting(HANDED_OVER) {
                    out.push(delivery(r, HANDED_OVER, event, handover_payload(&h, r)));
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

fn delivery(r: &Receiver, name: &'static str, event: &StoredEvent, body: Value) -> NewDelivery {
    let mut payload = json!({"event": name, "occurred_at": event.created_at});
    if let (Some(p), Value::Object(body)) = (payload.as_object_mut(), body) {
        p.extend(body);
    }
    NewDelivery {
        receiver: r.name.clone(),
        event: name,
        event_seq: event.seq,
        payload,
    }
}

fn case_payload(case: &ReportedCase, r: &Receiver) -> Value {
    json!({
        "case": {
            "id": case.id, "level": case.level, "categories": case.categories,
            "decision": case.decision, "opened_at": case.opened_at, "closed_at": case.closed_at,
            "closed_by": case.closed_by, "routine_version": case.routine_version,
            "police_report": {"reference": case.police_reference, "recorded_at": case.reported_at},
        },
        "channel": channel_json(&case.channel),
        "message": message_json(&case.message, &case.conversation_kind, r, Some(&case.level)),
    })
}

fn handover_payload(h: &HandoverFacts, r: &Receiver) -> Value {
    json!({
        "handover": {
            "id": h.id, "unit": h.unit, "note": h.note, "handed_at": h.handed_at,
            "handed_by": h.handed_by,
        },
        "conversation": {"id": h.conversation_id, "kind": h.conversation_kind},
        "channel": channel_json(&h.channel),
        "latest_message": h.latest.as_ref().map(|m| message_json(m, &h.conversation_kind, r, None)),
    })
}

fn channel_json(c: &crate::store::integrations::ChannelFacts) -> Value {
    json!({"id": c.id, "platform": c.platform, "platform_id": c.platform_id, "name": c.name, "unit": c.unit})
}

/// A message for a receiver: its words only when the receiver may have them.
fn message_json(
    m: &MessageFacts,
    conversation_kind: &str,
    r: &Receiver,
    case_level: Option<&str>,
) -> Value {
    let withheld = if m.severity.as_deref() == Some("S5") || case_level == Some("S5") {
        Some("S5 content: metadata only")
    } else if conversation_kind == "dm" && !r.include_dm_text {
        Some("a direct message's words go only to a receiver with include_dm_text = true")
    } else {
        None
    };
    json!({
        "id": m.id, "kind": m.kind, "platform_id": m.platform_id, "platform_time": m.platform_time,
        "state": m.state,
        "author": {"platform_id": m.author_platform_id, "name": m.author_name},
        "text": if withheld.is_none() { m.text.clone() } else { None },
        "text_withheld": withheld,
    })
}

/// Sends due deliveries until shutdown.
async fn send(
    store: Store,
    client: reqwest::Client,
    integrations: Arc<Integrations>,
    config: Arc<DeliveryConfig>,
    failures: Arc<DeliveryFailures>,
    written: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let woken = written.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match store.claim_webhook(config.lease_ms()).await {
            Ok(Some(row)) => {
                deliver(&store, &client, &integrations, &config, &failures, row).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: could not take a delivery; trying again")
            }
        }
        let wait = match store.next_webhook_due().await {
            Ok(Some(due)) if due > now_ms() => {
                Duration::from_millis((due - now_ms()) as u64).min(POLL)
            }
            _ => POLL,
        };
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn deliver(
    store: &Store,
    client: &reqwest::Client,
    integrations: &Integrations,
    config: &DeliveryConfig,
    failures: &DeliveryFailures,
    row: ClaimedDelivery,
) {
    let (attempt, cause) = match integrations.receiver(&row.receiver) {
        None => {
            let reason = format!(
                "the receiver {:?} is no longer in integrations_file; add it again to deliver this",
                row.receiver
            );
            (Attempt::Failed { reason }, "receiver_unknown")
        }
        Some(receiver) => post(client, receiver, &row).await,
    };
    let attempt = match attempt {
        Attempt::Retry { reason, .. } if config.policy.gives_up_after(row.attempts) => {
            Attempt::Failed {
                reason: format!(
                    "Gave up after {} attempts. The last: {reason}.",
                    row.attempts
                ),
            }
        }
        Attempt::Retry { reason, .. } => {
            let unit: f64 = rand::thread_rng().gen();
            let delay_ms = config.policy.wait_ms(row.attempts, None, unit);
            Attempt::Retry {
                reason,
                delay_ms,
                in_doubt: false,
            }
        }
        other => other,
    };
    let outcome = match &attempt {
        Attempt::Sent { .. } => "sent",
        Attempt::Retry { .. } => "retry",
        Attempt::Failed { .. } => "failed",
    };
    crate::metrics::count_delivery("webhook", outcome);
    if outcome != "sent" {
        failures.count("webhook", cause, outcome);
        tracing::warn!(delivery = row.id, receiver = %row.receiver, event = %row.event, attempts = row.attempts, outcome, cause, "a webhook was not delivered");
    }
    if let Err(e) = store.record_webhook(&row, &attempt).await {
        tracing::error!(delivery = row.id, error = %e, "could not record a webhook's outcome; it is sent again after its lease");
    }
}

/// One POST; the cause is a fixed word for /metrics.
async fn post(
    client: &reqwest::Client,
    r: &Receiver,
    row: &ClaimedDelivery,
) -> (Attempt, &'static str) {
    let body = row.payload.clone().into_bytes();
    let signed = signature(r.secret.expose(), now_ms() / 1000, &body);
    let sent = client
        .post(r.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("x-tavla-event", &row.event)
        .header("x-tavla-delivery", row.id.to_string())
        .header("x-tavla-signature", signed)
        .body(body)
        .send()
        .await;
    let retry = |reason: String, cause| {
        (
            Attempt::Retry {
                reason,
                delay_ms: 0,
                in_doubt: false,
            },
            cause,
        )
    };
    match sent {
        Ok(answer) if answer.status().is_success() => (Attempt::Sent { platform_id: None }, ""),
        Ok(answer) => {
            let status = answer.status().as_u16();
            let cause = if status >= 500 {
                "receiver_fault"
            } else {
                "receiver_refused"
            };
            retry(format!("{} answered HTTP {status}", r.name), cause)
        }
        Err(e) if e.is_timeout() => retry(format!("{} did not answer in time", r.name), "timeout"),
        Err(e) if e.is_connect() => retry(
            format!("could not connect to {}", r.name),
            "connection_refused",
        ),
        Err(_) => retry(
            format!("the connection to {} broke off", r.name),
            "connection_broken",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let a = signature("s3cret", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, signature("s3cret", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn receivers_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
        let file = |url: &str, events: &str| {
            format!(
                "[[receiver]]\nname = \"arende\"\nurl = \"{url}\"\nsecret_file = \"{}\"\nevents = {events}\n",
                secret.display()
            )
        };
        let ok = Integrations::parse(&file(
            "https://arende.example/hook",
            "[\"case.closed_with_police_report\"]",
        ))
        .unwrap();
        assert_eq!(ok.receivers[0].events, [CASE_CLOSED]);
        assert!(!ok.receivers[0].include_dm_text);
        assert!(Integrations::parse(&file(
            "http://127.0.0.1:9/hook",
            "[\"conversation.handed_over\"]"
        ))
        .is_ok());
        let plain = Integrations::parse(&file(
            "http://arende.example/hook",
            "[\"conversation.handed_over\"]",
        ));
        assert!(plain.unwrap_err().to_string().contains("https://"));
        let unknown =
            Integrations::parse(&file("https://arende.example/hook", "[\"case.opened\"]"));
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("no event \"case.opened\""));
        std::fs::write(&secret, "short").unwrap();
        let short = Integrations::parse(&file(
            "https://arende.example/hook",
            "[\"conversation.handed_over\"]",
        ));
        assert!(short.unwrap_err().to_string().contains("shorter than 32"));
    }
}
