//! One delivery worker: claim a due row, carry it out, record the outcome; sleep until the next
//! row falls due, an outbox write wakes it, or a poll (for rows other instances retry).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use rand::Rng;
use tokio::sync::watch;

use super::token::{self, PageToken, TokenError};
use super::DeliveryConfig;
use crate::metrics::DeliveryFailures;
use crate::platform::{self, Adapter, Judged, Outgoing, Request, Verb};
use crate::store::outbox::{Attempt, Claimed};
use crate::store::{now_ms, Store};

/// Longest sleep without looking: rows of other instances and retries are found within this.
const POLL: Duration = Duration::from_secs(1);

pub(super) async fn run(
    n: usize,
    store: Store,
    client: reqwest::Client,
    config: Arc<DeliveryConfig>,
    failures: Arc<DeliveryFailures>,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::debug!(worker = n, "delivery worker started");
    while !*shutdown.borrow() {
        // Listen before looking, so a row written between the look and the sleep still wakes us.
        let written = store.outbox_written.notified();
        tokio::pin!(written);
        written.as_mut().enable();
        match store.claim_delivery(config.lease_ms()).await {
            Ok(Some(row)) => {
                deliver(&store, &client, &config, &failures, row).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not take a row from the outbox; trying again")
            }
        }
        let wait = match store.next_delivery_due().await {
            Ok(Some(due)) if due > now_ms() => {
                Duration::from_millis((due - now_ms()) as u64).min(POLL)
            }
            // Due but not claimable: it waits behind an earlier reply of its conversation.
            _ => POLL,
        };
        tokio::select! {
            _ = &mut written => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::debug!(worker = n, "delivery worker stopped");
}

async fn deliver(
    store: &Store,
    client: &reqwest::Client,
    config: &DeliveryConfig,
    failures: &DeliveryFailures,
    row: Claimed,
) {
    let (attempt, cause) = attempt(store, client, config, &row).await;
    let attempt = match attempt {
        Attempt::Retry {
            reason, in_doubt, ..
        } if config.policy.gives_up_after(row.attempts) => Attempt::Failed {
            reason: gave_up(&row, &reason, in_doubt || row.in_doubt),
        },
        other => other,
    };
    let outcome = match &attempt {
        Attempt::Sent { .. } => "sent",
        Attempt::Retry { .. } => "retry",
        Attempt::Failed { .. } => "failed",
    };
    crate::metrics::count_delivery(row.action.as_str(), outcome);
    if outcome != "sent" {
        failures.count(row.action.as_str(), cause, outcome);
    }
    match &attempt {
        Attempt::Sent { platform_id } => tracing::info!(
            outbox_id = row.outbox_id,
            action = row.action.as_str(),
            attempts = row.attempts,
            platform_id = platform_id.as_deref().unwrap_or(""),
            "delivered"
        ),
        Attempt::Retry {
            reason, delay_ms, ..
        } => tracing::warn!(
            outbox_id = row.outbox_id, action = row.action.as_str(), attempts = row.attempts,
            retry_in_ms = delay_ms, reason = %reason, "delivery will be retried"
        ),
        Attempt::Failed { reason } => tracing::warn!(
            outbox_id = row.outbox_id, action = row.action.as_str(), attempts = row.attempts,
            reason = %reason, "delivery failed; the agent can edit and retry"
        ),
    }
    if let Err(e) = store.record_attempt(&row, &attempt).await {
        // The lease runs out and the row is reconciled: nothing is lost, at worst looked up again.
        tracing::error!(outbox_id = row.outbox_id, error = %e, "could not record a delivery's outcome");
    }
    // A later reply of the same conversation may have waited for this one.
    store.outbox_committed();
}

fn gave_up(row: &Claimed, reason: &str, in_doubt: bool) -> String {
    let name = platform::display_name(&row.platform);
    let doubt = if in_doubt {
        format!(" It may have arrived all the same: look on {name} before you retry.")
    } else {
        String::new()
    };
    format!(
        "Gave up after {} attempts. The last: {reason}.{doubt} Retry when {name} works again.",
        row.attempts
    )
}

/// What did not work, as `/metrics` counts it: an adapter's failure label or one of the faults met
/// on the way (a fixed set of words, never the platform's text).
type Cause = &'static str;

/// One attempt, and its cause when it did not succeed; every reason it returns is in plain words
/// and free of the token.
async fn attempt(
    store: &Store,
    client: &reqwest::Client,
    config: &DeliveryConfig,
    row: &Claimed,
) -> (Attempt, Cause) {
    let token = match token::load(row.token_file.as_deref()) {
        Ok(token) => token,
        Err(e @ TokenError::Missing) => {
            let reason = e.to_string();
            return (Attempt::Failed { reason }, "token_missing");
        }
        Err(e) => return retry(config, row, e.to_string(), None, false, "token_unreadable"),
    };
    let Some(adapter) = platform::adapter(&row.platform) else {
        let other = &row.platform;
        let reason = format!("tavla cannot deliver to {other} yet; answer on {other} directly");
        return (Attempt::Failed { reason }, "unsendable");
    };
    let Some(base) = config.base_url(adapter.api()) else {
        let reason = format!(
            "no API address is set for {}; ask an administrator to configure it",
            platform::display_name(&row.platform)
        );
        return (Attempt::Failed { reason }, "unsendable");
    };
    let graph = Graph {
        client,
        base,
        token: &token,
        name: platform::display_name(&row.platform),
    };
    let out = row.outgoing();
    if let Some(early) = reconcile(store, config, row, adapter, &graph, &out).await {
        return early;
    }
    let request = match adapter.request(&out) {
        Ok(request) => request,
        Err(reason) => return (Attempt::Failed { reason }, "unsendable"),
    };
    let answer = match graph.call(&request).await {
        Ok(answer) => answer,
        Err((reason, cause)) => {
            // Only a refused connection proves nothing was sent; anything later may have arrived.
            let in_doubt = cause != NOT_CONNECTED;
            return retry(config, row, token.redact(&reason), None, in_doubt, cause);
        }
    };
    let status = answer.status.as_u16();
    let cause = || {
        let body = serde_json::from_slice(&answer.body).unwrap_or_default();
        adapter.failure_label(status, &body)
    };
    match adapter.judge(&out, status, answer.retry_after, &answer.body) {
        Judged::Sent(platform_id) => (Attempt::Sent { platform_id }, ""),
        Judged::Transient {
            reason,
            retry_after,
        } => retry(
            config,
            row,
            token.redact(&reason),
            retry_after,
            false,
            cause(),
        ),
        Judged::Refused(reason) => {
            let reason = token.redact(&reason);
            (Attempt::Failed { reason }, cause())
        }
    }
}

/// Before sending again a message whose earlier attempt may have arrived: whether it did (its
/// echo came, or the adapter's look-up finds our words), or why we cannot tell yet. None: send.
async fn reconcile(
    store: &Store,
    config: &DeliveryConfig,
    row: &Claimed,
    adapter: &dyn Adapter,
    graph: &Graph<'_>,
    out: &Outgoing<'_>,
) -> Option<(Attempt, Cause)> {
    if !(row.in_doubt && row.action.sends_message()) {
        return None;
    }
    if let Some(id) = &row.message_platform_id {
        // Its echo came while we were unsure: it arrived.
        let platform_id = Some(id.clone());
        return Some((Attempt::Sent { platform_id }, ""));
    }
    let lookup = adapter.lookup(out)?;
    let answer = match graph.call(&lookup).await {
        Ok(answer) => answer,
        Err((reason, _)) => {
            let reason = format!("could not check whether the earlier attempt arrived: {reason}");
            let reason = graph.token.redact(&reason);
            return Some(retry(config, row, reason, None, true, "lookup_failed"));
        }
    };
    if !answer.status.is_success() {
        let reason = format!(
            "could not check whether the earlier attempt arrived ({} answered HTTP {})",
            graph.name,
            answer.status.as_u16()
        );
        let retry_after = answer.retry_after;
        return Some(retry(
            config,
            row,
            reason,
            retry_after,
            true,
            "lookup_failed",
        ));
    }
    let found: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    for id in adapter.candidates(out, &found) {
        match store.platform_id_known(row.channel_id, &id).await {
            Ok(false) => {
                let platform_id = Some(id);
                return Some((Attempt::Sent { platform_id }, ""));
            }
            Ok(true) => {}
            Err(e) => {
                let reason = format!("the store failed: {e}");
                return Some(retry(config, row, reason, None, true, "store"));
            }
        }
    }
    None
}

fn retry(
    config: &DeliveryConfig,
    row: &Claimed,
    reason: String,
    retry_after: Option<Duration>,
    in_doubt: bool,
    cause: Cause,
) -> (Attempt, Cause) {
    let unit: f64 = rand::thread_rng().gen();
    let attempt = Attempt::Retry {
        reason,
        delay_ms: config.policy.wait_ms(row.attempts, retry_after, unit),
        in_doubt,
    };
    (attempt, cause)
}

/// Transport faults, as causes: only the first proves that nothing was sent.
const NOT_CONNECTED: Cause = "connection_refused";
const TIMED_OUT: Cause = "timeout";
const BROKEN_OFF: Cause = "connection_broken";

struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// The platform's API as the worker calls it: base URL, token, and the platform's name for the
/// agent's messages.
struct Graph<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a PageToken,
    name: &'static str,
}

impl Graph<'_> {
    /// Sends one request. The token goes in a header marked sensitive; errors are described
    /// without the URL's query or any header, with their cause.
    async fn call(&self, request: &Request) -> Result<Answer, (String, Cause)> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = match request.verb {
            Verb::Get => self.client.get(&url),
            Verb::Post => self.client.post(&url),
            Verb::Delete => self.client.delete(&url),
        };
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                let reason = "the access token file holds characters a token cannot have";
                (reason.to_string(), "token_unreadable")
            })?;
        auth.set_sensitive(true);
        builder = builder.header(axum::http::header::AUTHORIZATION, auth);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| describe(e, self.name))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|e| describe(e, self.name))?
            .to_vec();
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// A transport fault in plain words, and its cause. reqwest's own text names the URL; ours does
/// not.
fn describe(e: reqwest::Error, name: &str) -> (String, Cause) {
    if e.is_connect() {
        let reason = format!("could not connect to {name}; trying again later");
        (reason, NOT_CONNECTED)
    } else if e.is_timeout() {
        (format!("{name} did not answer in time; it may have done it all the same, so it is looked up before trying again"), TIMED_OUT)
    } else {
        (format!("the connection to {name} broke off; it may have arrived, so it is looked up before trying again"), BROKEN_OFF)
    }
}
