//! The HTTP layer: translates requests into calls of the capabilities and their answers into
//! responses. No business rules live here beyond "which capability does this route need".

pub mod auth;
mod channels;
mod conversations;
pub mod error;
mod events;
pub mod extract;
mod messages;
mod system;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::ingest::Ingestor;
use crate::settings::Settings;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub ingestor: Ingestor,
    pub settings: Arc<Settings>,
    /// Flips to true when the service begins to shut down, so long-lived streams end.
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let api = Router::new()
        .route("/me", get(system::me))
        .route("/openapi.json", get(system::openapi))
        .route("/messages", post(messages::ingest))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::show))
        .route("/conversations/{id}/claim", post(conversations::claim))
        .route("/conversations/{id}/release", post(conversations::release))
        .route(
            "/conversations/{id}/status",
            post(conversations::set_status),
        )
        .route("/conversations/{id}/replies", post(conversations::reply))
        .route("/channels", get(channels::list).post(channels::register))
        .route("/channels/{id}/approve", post(channels::approve))
        .route("/quarantine", get(channels::quarantine))
        .route("/events", get(events::stream));

    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route(
            "/webhooks/meta",
            get(webhooks::handshake).post(webhooks::receive),
        )
        .nest("/api/v1", api)
        .fallback(system::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(observe))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

/// Counts and logs each request by its route pattern (never the raw path: ids and hostile paths
/// stay out of labels and logs).
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    crate::metrics::count_request(&route, status);
    tracing::debug!(%method, %route, status, micros = started.elapsed().as_micros() as u64, "request");
    response
}
