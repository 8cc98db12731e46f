//! Health, metrics, the OpenAPI document, who-am-I and the fallback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use serde::Serialize;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::{OpenApi, ToSchema};

use super::auth::{client_address, constant_time_eq, Caller};
use super::description::refusals::NotFound;
use super::error::{AppError, Result};
use super::AppState;
use crate::access::training::{ModuleStatus, RoleGives};
use crate::access::{Capability, Role, Roles};
use crate::described;
use crate::metrics::StoreGauges;
use crate::store::Store;

/// 200 when the store answers; 503 otherwise, so a load balancer stops sending traffic here.
#[derive(OpenApi)]
#[openapi(paths(healthz, readyz, metrics, me, openapi))]
pub struct Doc;

/// Liveness and database reachability.
#[derive(Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthView {
    #[schema(inline)]
    status: HealthStatus,
}

#[derive(Serialize, ToSchema)]
pub enum HealthStatus {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "database unavailable")]
    DatabaseUnavailable,
}

/// Health check
///
/// For load balancers and monitoring: 200 when the service and its database answer, 503
/// otherwise (so traffic goes elsewhere).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "system",
    responses(
        (status = 200, description = "Healthy.", body = HealthView,
            example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer. (This is a plain JSON body, \
            not a problem document.)", body = HealthView,
            example = json!({"status": "database unavailable"})),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query("select 1").execute(&state.store.pool).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(HealthView {
                status: HealthStatus::Ok,
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(HealthView {
                    status: HealthStatus::DatabaseUnavailable,
                }),
            )
        }
    }
}

/// `GET /readyz`: 200 when this instance should take traffic (the store answers and every
/// migration this binary needs is applied); 503 otherwise and while shutting down, so a load
/// balancer sends requests elsewhere. Unlike `/healthz` (alive), a failing `/readyz` is not a
/// reason to restart the instance.
/// Whether an instance should take traffic.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(inline)]
    status: ReadinessStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    newer_migrations: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_migrations: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub enum ReadinessStatus {
    #[serde(rename = "ready")]
    Ready,
    #[serde(rename = "database unavailable")]
    DatabaseUnavailable,
    #[serde(rename = "migrations not applied")]
    MigrationsNotApplied,
    #[serde(rename = "shutting down")]
    ShuttingDown,
}

impl Readiness {
    fn not(status: ReadinessStatus, detail: &'static str) -> Readiness {
        Readiness {
            status,
            newer_migrations: None,
            missing_migrations: None,
            detail: Some(detail),
        }
    }
}

/// Readiness check
///
/// For load balancers: 200 when this instance should take traffic (its database answers and
/// every migration this binary needs is applied); 503 otherwise and while the instance shuts
/// down, so requests go to another. `/healthz` says whether the process is alive (restart it if
/// not); `/readyz` says whether to send it traffic. `newer_migrations` lists migrations applied
/// by a newer tavla (during a rolling upgrade). Plain JSON bodies, not problem documents.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "system",
    responses(
        (status = 200, description = "Ready.", body = Readiness,
            example = json!({"status": "ready", "newer_migrations": []})),
        (status = 503, description = "Not ready: the database does not answer, migrations are \
            missing, or the instance is stopping; `detail` says what to do.", body = Readiness,
            example = json!({"status": "migrations not applied", "missing_migrations": [26],
                "detail": "the database lacks migrations this tavla needs; run `tavla migrate` \
                    (a restart also migrates)"})),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let unavailable = |body: Readiness| (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body));
    if *state.shutdown.borrow() {
        return unavailable(Readiness::not(
            ReadinessStatus::ShuttingDown,
            "this instance is stopping; send requests to another",
        ));
    }
    match state.store.schema_state().await {
        Err(e) => {
            tracing::error!(error = %e, "readiness: the database does not answer");
            unavailable(Readiness::not(
                ReadinessStatus::DatabaseUnavailable,
                "the database named by database_url does not answer; see this instance's log",
            ))
        }
        Ok(schema) if !schema.missing.is_empty() => unavailable(Readiness {
            missing_migrations: Some(schema.missing),
            ..Readiness::not(
                ReadinessStatus::MigrationsNotApplied,
                "the database lacks migrations this tavla needs; run `tavla migrate` (a restart also migrates)",
            )
        }),
        Ok(schema) => (
            StatusCode::OK,
            axum::Json(Readiness {
                status: ReadinessStatus::Ready,
                newer_migrations: Some(schema.newer),
                missing_migrations: None,
                detail: None,
            }),
        ),
    }
}

// `GET /metrics`. Not public: a scraper proves itself with `metrics_token`, or scrapes from one
// of `metrics_addresses` (loopback by default). Cheap under a flood: counters live in memory,
// and the few figures read from the store are read at most once per GAUGES_FRESH_FOR, however
// many scrapes arrive.
/// Prometheus metrics
///
/// Metrics in the Prometheus text exposition format (0.0.4) for scraping: HTTP requests by
/// route pattern and status (`tavla_http_requests_total`), ingested messages, duplicates,
/// quarantined items, refused webhooks, queue depth per queue (`tavla_queue_depth`) the ingest
/// commit latency histogram, and password checks (`tavla_password_hash_limit`,
/// `tavla_password_hashes_in_progress`, `tavla_password_hashes_in_progress_max`,
/// `tavla_password_hashes_refused_total`), and delivery: attempts by action and outcome
/// (`tavla_delivery_attempts_total`), attempts that did not succeed by action, cause and outcome
/// (`tavla_delivery_failures_total{action,reason,outcome}`: reason is one of rate_limited,
/// platform_fault, timeout, connection_refused, connection_broken, lookup_failed, token_missing,
/// token_unreadable, token_invalid, reply_window, unreachable, gone, already_replied,
/// permission, blocked, refused, unsendable, store; outcome retry or failed), outbox rows by
/// status (`tavla_outbox_rows`) and the age of the oldest row still waiting
/// (`tavla_outbox_oldest_pending_seconds`). Figures read from the store (queue depth, outbox)
/// are at most a few seconds old, so a flood of scrapes costs the database nothing.
///
/// **Access:** It has a guard of its own all the same: send `Authorization: Bearer
/// <metrics_token>` (the setting; from anywhere), or scrape from one of `metrics_addresses`
/// (loopback by default) without it. A request forwarded by a proxy counts by address only when
/// the proxy is in `trusted_proxies`. When `metrics_listen` is set, /metrics is served only on
/// that address (to whoever reaches it, with the token when `metrics_token` is set) and answers
/// 404 here.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "system",
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "text/plain; version=0.0.4",
            example = "# HELP tavla_queue_depth Open conversations with an unanswered message.\n# TYPE tavla_queue_depth gauge\ntavla_queue_depth{queue=\"dm\"} 4\n"),
        (status = 401, response = super::description::refusals::Unauthorized),
        (status = 403, response = super::description::refusals::Forbidden),
        (status = 404, response = NotFound),
        (status = 500, response = super::description::refusals::InternalError),
    )
)]
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
    state.faq.render_metrics(&mut text);
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

/// The signed-in staff member (by API token or session): roles and what each gives, what they
/// may do now, their training and their channel scope.
#[derive(Serialize, ToSchema)]
#[schema(as = Me, example = json!({"id": 3, "username": "anna", "role": "agent",
    "capabilities": ["read_dms"], "role_capabilities": ["read_dms", "answer_dms"],
    "missing_training": {"answer_dms": ["contact-centre-2", "contact-centre-3"]},
    "training": [{"id": "gdpr", "title_sv": "GDPR och personuppgifter i sociala medier",
        "title_en": "GDPR and personal data in social media", "state": "done",
        "completed_at": 1760000000000_i64, "expires_at": 1791536000000_i64,
        "signed_off_by": "admin"},
        {"id": "contact-centre-2",
        "title_sv": "Kontaktcenter steg 2: svara i sociala medier med handledare",
        "title_en": "Contact centre step 2: answering on social media with a supervisor",
        "state": "missing", "completed_at": null, "expires_at": null, "signed_off_by": null}],
    "channels": null, "roles": ["agent"], "per_role": [{"role": "agent",
        "capabilities": ["read_dms", "answer_dms", "reveal_personal_data"],
        "usable": ["read_dms"], "missing_training": ["contact-centre-2", "contact-centre-3"]}]}))]
pub struct MeView<'a> {
    /// Staff id.
    id: i64,
    username: &'a str,
    /// The first of `roles`, for clients written before several roles.
    role: Role,
    #[schema(schema_with = described::roles)]
    roles: &'a Roles,
    /// For each role: what it gives and what training it still lacks.
    #[schema(schema_with = role_gives_list)]
    per_role: Vec<RoleGives>,
    /// The effective capabilities: those one of the roles grants AND whose required training is
    /// completed and not expired. The routes check these.
    #[schema(schema_with = capability_list)]
    capabilities: &'a [Capability],
    /// Everything the roles grant together, whether training allows it yet or not.
    #[schema(schema_with = capability_list)]
    role_capabilities: Vec<Capability>,
    #[schema(schema_with = described::missing_training)]
    missing_training: &'a std::collections::BTreeMap<String, Vec<String>>,
    /// Every training module with the caller's state: done, expiring soon, expired or missing.
    #[schema(schema_with = module_status_list)]
    training: &'a [ModuleStatus],
    /// The channel ids the caller is limited to; null for every channel. Conversations on other
    /// channels answer 404, and lists, the channel registry and the event stream leave them out.
    channels: Option<&'a [i64]>,
    /// The unit of the organisation the caller belongs to (set by administrators); a
    /// `conversation.handed_over` event whose `unit` is this one is for them.
    unit: Option<String>,
}

fn role_gives_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::role_gives())
}

fn module_status_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::module_status())
}

fn capability_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::capability())
}

/// Who am I
///
/// Returns the signed-in staff member (by API token or session): their role, their effective
/// capabilities (what the role grants AND training allows), what the role grants in all, which
/// training each withheld capability still needs, the state of every training module (done,
/// expiring soon, expired, missing), and their channel scope. Use it to check a token or session
/// and to decide which parts of a client to show.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "me",
    tag = "system",
    responses(
        (status = 200, description = "The caller.", body = MeView),
    )
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // The unit, so the console tells its members of handovers to it.
    let unit = state
        .store
        .staff_account(caller.staff.id)
        .await?
        .and_then(|a| a.unit);
    Ok(axum::Json(MeView {
        id: caller.staff.id,
        username: &caller.staff.username,
        role: caller.roles.primary(),
        roles: &caller.roles,
        per_role: caller.effective.per_role(&caller.roles),
        capabilities: &caller.effective.capabilities,
        role_capabilities: caller.roles.capabilities(),
        missing_training: &caller.effective.missing,
        training: &caller.effective.modules,
        channels: caller.scope.as_deref(),
        unit,
    })
    .into_response())
}

// The API description, derived from the code (src/http/description).
/// This API description
///
/// Returns this OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "system",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
    )
)]
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
