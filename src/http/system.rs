//! Health, metrics, the OpenAPI document, who-am-I and the fallback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use serde_json::json;

use super::auth::{client_address, constant_time_eq, Caller};
use super::error::{AppError, Result};
use super::AppState;
use crate::metrics::StoreGauges;
use crate::store::Store;

/// 200 when the store answers; 503 otherwise, so a load balancer stops sending traffic here.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query("select 1").execute(&state.store.pool).await {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "database unavailable"})),
            )
        }
    }
}

/// `GET /readyz`: 200 when this instance should take traffic (the store answers and every
/// migration this binary needs is applied); 503 otherwise and while shutting down, so a load
/// balancer sends requests elsewhere. Unlike `/healthz` (alive), a failing `/readyz` is not a
/// reason to restart the instance.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let unavailable = |body: serde_json::Value| (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body));
    if *state.shutdown.borrow() {
        return unavailable(json!({
            "status": "shutting down",
            "detail": "this instance is stopping; send requests to another",
        }));
    }
    match state.store.schema_state().await {
        Err(e) => {
            tracing::error!(error = %e, "readiness: the database does not answer");
            unavailable(json!({
                "status": "database unavailable",
                "detail": "the database named by database_url does not answer; see this instance's log",
            }))
        }
        Ok(schema) if !schema.missing.is_empty() => unavailable(json!({
            "status": "migrations not applied",
            "missing_migrations": schema.missing,
            "detail": "the database lacks migrations this tavla needs; run `tavla migrate` (a restart also migrates)",
        })),
        Ok(schema) => (
            StatusCode::OK,
            axum::Json(json!({"status": "ready", "newer_migrations": schema.newer})),
        ),
    }
}

/// `GET /metrics`. Not public: a scraper proves itself with `metrics_token`, or scrapes from one
/// of `metrics_addresses` (loopback by default). Cheap under a flood: counters live in memory,
/// and the few figures read from the store are read at most once per GAUGES_FRESH_FOR, however
/// many scrapes arrive.
pub async fn metrics(
    State(state): State<AppState>,
    Extension(csp): Extension<super::csp::CspReports>,
    Extension(cache): Extension<ScrapeCache>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    if !state.settings.metrics_listen.trim().is_empty() {
        return Err(AppError::not_found(
            "metrics are served on their own listener (metrics_listen), not on the service's address",
        ));
    }
    may_scrape(&state, &headers, peer.map(|p| p.0 .0))?;
    render_metrics(&state, &csp, &cache).await
}

/// `GET /metrics` on the listener `metrics_listen` names: whoever reaches that address (an
/// internal interface the scraper's network alone reaches) may scrape; the token, when set,
/// is still required.
pub async fn metrics_on_own_listener(
    State(state): State<AppState>,
    Extension(csp): Extension<super::csp::CspReports>,
    Extension(cache): Extension<ScrapeCache>,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    let settings = &state.settings;
    if !settings.metrics_token.is_blank() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let expected = format!("Bearer {}", settings.metrics_token.expose());
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(AppError::unauthorized(
                "send the metrics token as Authorization: Bearer <metrics_token>",
            ));
        }
    }
    render_metrics(&state, &csp, &cache).await
}

async fn render_metrics(
    state: &AppState,
    csp: &super::csp::CspReports,
    cache: &ScrapeCache,
) -> Result<impl IntoResponse> {
    let gauges = cache.gauges(&state.store).await?;
    let mut text = crate::metrics::render(&gauges);
    state.delivery_failures.render(&mut text);
    state.password_hashing.render(&mut text);
    text.push_str(&format!(
        "# HELP tavla_csp_violations_total Content-Security-Policy violations reported by browsers.\n\
         # TYPE tavla_csp_violations_total counter\ntavla_csp_violations_total {}\n",
        csp.violations.load(std::sync::atomic::Ordering::Relaxed)
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// The scrape token (from anywhere), or an allowed address without it. A request that a proxy
/// forwarded (it carries forwarding headers) counts by address only when the proxy is trusted,
/// so a reverse proxy on this machine does not make /metrics public.
fn may_scrape(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<()> {
    let settings = &state.settings;
    if let Some(given) = headers.get(header::AUTHORIZATION) {
        let given = given.to_str().unwrap_or("");
        let expected = format!("Bearer {}", settings.metrics_token.expose());
        if !settings.metrics_token.is_blank()
            && constant_time_eq(given.as_bytes(), expected.as_bytes())
        {
            return Ok(());
        }
        return Err(AppError::unauthorized(
            "the metrics token is wrong; send Authorization: Bearer <metrics_token> as set in the settings",
        ));
    }
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    let peer_ip = peer.map(|p| p.ip().to_canonical());
    let via_trusted_proxy = peer_ip.is_some_and(|ip| {
        settings
            .trusted_proxies
            .iter()
            .any(|t| t.parse::<IpAddr>().ok() == Some(ip))
    });
    let address = client_address(state, headers, peer)
        .and_then(|a| a.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical());
    let allowed = address.is_some_and(|ip| {
        settings
            .metrics_addresses
            .iter()
            .any(|a| a.parse::<IpAddr>().ok() == Some(ip))
    });
    if allowed && (!forwarded || via_trusted_proxy) {
        return Ok(());
    }
    if settings.metrics_token.is_blank() {
        Err(AppError::forbidden(
            "metrics are open only to the addresses in metrics_addresses; scrape from one of them, or set metrics_token and send it as Authorization: Bearer",
        ))
    } else {
        Err(AppError::unauthorized(
            "send the metrics token as Authorization: Bearer <metrics_token>",
        ))
    }
}

/// How long figures read from the store are served before they are read again.
const GAUGES_FRESH_FOR: Duration = Duration::from_secs(5);

/// The store's figures for /metrics, read by one scrape at a time and kept briefly: a flood of
/// scrapes is one query per few seconds.
#[derive(Clone, Default)]
pub struct ScrapeCache {
    last: Arc<tokio::sync::Mutex<Option<ReadAt>>>,
}

/// Gauges and when they were read.
type ReadAt = (Instant, Arc<StoreGauges>);

impl ScrapeCache {
    async fn gauges(&self, store: &Store) -> crate::store::Result<Arc<StoreGauges>> {
        self.get_or_read(|| async {
            let (outbox, oldest_pending_ms) = store.outbox_gauges().await?;
            let (webhooks, oldest_webhook_ms) = store.webhook_gauges().await?;
            Ok(StoreGauges {
                queue_depth: store.queue_depth().await?,
                outbox,
                oldest_pending_ms,
                webhooks,
                oldest_webhook_ms,
            })
        })
        .await
    }

    async fn get_or_read<F, Fut>(&self, read: F) -> crate::store::Result<Arc<StoreGauges>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = crate::store::Result<StoreGauges>>,
    {
        // Held while reading, so concurrent scrapes wait for one read instead of each reading.
        let mut last = self.last.lock().await;
        if let Some((at, gauges)) = last.as_ref() {
            if at.elapsed() < GAUGES_FRESH_FOR {
                return Ok(gauges.clone());
            }
        }
        let gauges = Arc::new(read().await?);
        *last = Some((Instant::now(), gauges.clone()));
        Ok(gauges)
    }
}

/// Who I am: my roles and what each gives (and what of it my training still withholds),
/// effective capabilities, training (done, expiring soon, expired, missing), what each withheld
/// capability still needs, and my channel scope. `role` is the first of `roles`, for clients
/// written before several roles.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // The unit, so the console tells its members of handovers to it.
    let unit = state
        .store
        .staff_account(caller.staff.id)
        .await?
        .and_then(|a| a.unit);
    Ok(axum::Json(json!({
        "id": caller.staff.id,
        "username": caller.staff.username,
        "role": caller.roles.primary(),
        "roles": caller.roles,
        "per_role": caller.effective.per_role(&caller.roles),
        "capabilities": caller.effective.capabilities,
        "role_capabilities": caller.roles.capabilities(),
        "missing_training": caller.effective.missing,
        "training": caller.effective.modules,
        "channels": caller.scope,
        "unit": unit,
    })))
}

/// The API description, derived from the code (src/http/description).
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::description::served(),
    )
}

pub async fn not_found() -> AppError {
    AppError::not_found("no such route; the API is described at /api/v1/openapi.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_flood_of_scrapes_reads_the_store_once() {
        let cache = ScrapeCache::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let scrapes = (0..100).map(|_| {
            let (cache, reads) = (cache.clone(), reads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_read(|| async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(StoreGauges::default())
                    })
                    .await
                    .unwrap();
            })
        });
        for s in futures::future::join_all(scrapes).await {
            s.unwrap();
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
