//! Health, metrics, the OpenAPI document, who-am-I and the fallback.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::AppState;

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

pub async fn metrics(
    State(state): State<AppState>,
    Extension(csp): Extension<super::csp::CspReports>,
) -> Result<impl IntoResponse> {
    let (outbox, oldest_pending_ms) = state.store.outbox_gauges().await?;
    let gauges = crate::metrics::StoreGauges {
        queue_depth: state.store.queue_depth().await?,
        outbox,
        oldest_pending_ms,
    };
    let mut text = crate::metrics::render(&gauges);
    state.password_hashing.render(&mut text);
    text.push_str(&format!(
        "# HELP tavla_csp_violations_total Content-Security-Policy violations reported by browsers.\n\
         # TYPE tavla_csp_violations_total counter\ntavla_csp_violations_total {}\n",
        csp.violations.load(std::sync::atomic::Ordering::Relaxed)
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// Who I am: role, effective capabilities, training (done, expiring soon, expired, missing),
/// what each withheld capability still needs, and my channel scope.
pub async fn me(caller: Caller) -> impl IntoResponse {
    axum::Json(json!({
        "id": caller.staff.id,
        "username": caller.staff.username,
        "role": caller.role,
        "capabilities": caller.effective.capabilities,
        "role_capabilities": caller.role.capabilities(),
        "missing_training": caller.effective.missing,
        "training": caller.effective.modules,
        "channels": caller.scope,
    }))
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

pub async fn not_found() -> AppError {
    AppError::not_found("no such route; the API is described at /api/v1/openapi.json")
}
