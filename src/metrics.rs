//! Prometheus text metrics, kept in process-wide atomics: cheap to bump on hot paths, no registry
//! to thread through every call.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub static INGESTED_MESSAGES: AtomicU64 = AtomicU64::new(0);
pub static INGESTED_DUPLICATES: AtomicU64 = AtomicU64::new(0);
pub static QUARANTINED_ITEMS: AtomicU64 = AtomicU64::new(0);
pub static WEBHOOKS_REFUSED: AtomicU64 = AtomicU64::new(0);

/// Upper bounds of the commit-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    total: AtomicU64,
    sum_micros: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            counts: [ZERO; BUCKETS.len()],
            total: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let total = self.total.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

pub static COMMIT_LATENCY: Histogram = Histogram::new();

/// Requests by route pattern and status; the route is the matched pattern, never the raw path,
/// so ids and hostile paths cannot blow up the label set.
static REQUESTS: Mutex<BTreeMap<(String, u16), u64>> = Mutex::new(BTreeMap::new());

pub fn count_request(route: &str, status: u16) {
    if let Ok(mut map) = REQUESTS.lock() {
        *map.entry((route.to_string(), status)).or_insert(0) += 1;
    }
}

/// Delivery attempts by action (reply, hide, …) and outcome (sent, retry, failed).
static DELIVERIES: Mutex<BTreeMap<(&'static str, &'static str), u64>> = Mutex::new(BTreeMap::new());

pub fn count_delivery(action: &'static str, outcome: &'static str) {
    if let Ok(mut map) = DELIVERIES.lock() {
        *map.entry((action, outcome)).or_insert(0) += 1;
    }
}

/// Background jobs' turns by job, outcome (ran, skipped: another instance ran it or runs it,
/// failed) and instance: with several instances, whose turn it was.
static JOBS: Mutex<BTreeMap<(&'static str, &'static str, String), u64>> =
    Mutex::new(BTreeMap::new());

pub fn count_job(job: &'static str, outcome: &'static str, instance: &str) {
    if let Ok(mut map) = JOBS.lock() {
        *map.entry((job, outcome, instance.to_string())).or_insert(0) += 1;
    }
}

fn render_jobs(out: &mut String) {
    out.push_str("# HELP tavla_background_jobs_total Turns of background jobs by job, outcome and instance.\n");
    out.push_str("# TYPE tavla_background_jobs_total counter\n");
    if let Ok(map) = JOBS.lock() {
        for ((job, outcome, instance), n) in map.iter() {
            let _ = writeln!(
                out,
                "tavla_background_jobs_total{{job=\"{job}\",outcome=\"{outcome}\",instance_id=\"{instance}\"}} {n}"
            );
        }
    }
}

/// Delivery attempts that did not succeed, by action, cause (`rate_limited`, `timeout`,
/// `unreachable`, …) and outcome (`retry`: tried again later; `failed`: the agent is told). Kept
/// per instance (its workers count, its /metrics shows them), so instances are summed by the
/// scraper as any counter.
#[derive(Default)]
pub struct DeliveryFailures {
    counts: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
}

impl DeliveryFailures {
    pub fn count(&self, action: &'static str, cause: &'static str, outcome: &'static str) {
        if let Ok(mut map) = self.counts.lock() {
            *map.entry((action, cause, outcome)).or_insert(0) += 1;
        }
    }

    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP tavla_delivery_failures_total Delivery attempts that did not succeed, by action, cause and outcome (retry or failed).\n\
             # TYPE tavla_delivery_failures_total counter\n",
        );
        if let Ok(map) = self.counts.lock() {
            for ((action, cause, outcome), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "tavla_delivery_failures_total{{action=\"{action}\",reason=\"{cause}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
    }
}

/// What is read from the store at scrape time.
#[derive(Debug, Default)]
pub struct StoreGauges {
    /// Open conversations with an unanswered message, by queue ("dm", "comments").
    pub queue_depth: Vec<(String, i64)>,
    /// Outbox rows by status (pending, sending, sent, failed).
    pub outbox: Vec<(String, i64)>,
    /// Age of the oldest row still waiting to be delivered, in milliseconds.
    pub oldest_pending_ms: Option<i64>,
    /// Outgoing webhooks' deliveries by status, and the age of the oldest waiting (ms).
    pub webhooks: Vec<(String, i64)>,
    pub oldest_webhook_ms: Option<i64>,
}

/// Renders everything; the gauges are read from the store by the caller at scrape time.
pub fn render(gauges: &StoreGauges) -> String {
    let queue_depth = &gauges.queue_depth;
    let mut out = String::new();
    out.push_str("# HELP tavla_http_requests_total HTTP requests by route and status.\n");
    out.push_str("# TYPE tavla_http_requests_total counter\n");
    if let Ok(map) = REQUESTS.lock() {
        for ((route, status), n) in map.iter() {
            let _ = writeln!(
                out,
                "tavla_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
    }
    for (name, help, value) in [
        (
            "tavla_ingested_messages_total",
            "New inbound messages stored.",
            &INGESTED_MESSAGES,
        ),
        (
            "tavla_ingested_duplicates_total",
            "Redelivered items recognised and not stored again.",
            &INGESTED_DUPLICATES,
        ),
        (
            "tavla_quarantined_items_total",
            "Items kept in quarantine for unregistered channels.",
            &QUARANTINED_ITEMS,
        ),
        (
            "tavla_webhooks_refused_total",
            "Webhook deliveries refused for a missing or wrong signature.",
            &WEBHOOKS_REFUSED,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP tavla_queue_depth Open conversations with an unanswered message.\n");
    out.push_str("# TYPE tavla_queue_depth gauge\n");
    for kind in ["dm", "comments"] {
        let n = queue_depth
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(out, "tavla_queue_depth{{queue=\"{kind}\"}} {n}");
    }
    out.push_str("# HELP tavla_delivery_attempts_total Delivery attempts to the platforms by action and outcome.\n");
    out.push_str("# TYPE tavla_delivery_attempts_total counter\n");
    if let Ok(map) = DELIVERIES.lock() {
        for ((action, outcome), n) in map.iter() {
            let _ = writeln!(
                out,
                "tavla_delivery_attempts_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    out.push_str(
        "# HELP tavla_outbox_rows Outbox rows by status; failed ones wait for an agent.\n",
    );
    out.push_str("# TYPE tavla_outbox_rows gauge\n");
    for status in ["pending", "sending", "sent", "failed"] {
        let n = gauges
            .outbox
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(out, "tavla_outbox_rows{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP tavla_outbox_oldest_pending_seconds Age of the oldest undelivered outbox row (0 when none).\n\
         # TYPE tavla_outbox_oldest_pending_seconds gauge\n\
         tavla_outbox_oldest_pending_seconds {}",
        gauges.oldest_pending_ms.unwrap_or(0).max(0) as f64 / 1000.0
    );
    out.push_str("# HELP tavla_webhook_deliveries Outgoing webhooks' deliveries by status.\n");
    out.push_str("# TYPE tavla_webhook_deliveries gauge\n");
    for status in ["pending", "sending", "sent", "failed"] {
        let n = gauges
            .webhooks
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(out, "tavla_webhook_deliveries{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP tavla_webhook_oldest_pending_seconds Age of the oldest webhook delivery not yet taken by its receiver (0 when none).\n\
         # TYPE tavla_webhook_oldest_pending_seconds gauge\n\
         tavla_webhook_oldest_pending_seconds {}",
        gauges.oldest_webhook_ms.unwrap_or(0).max(0) as f64 / 1000.0
    );
    COMMIT_LATENCY.render(
        "tavla_ingest_commit_seconds",
        "Time to commit one group of ingested items.",
        &mut out,
    );
    render_jobs(&mut out);
    out
}
