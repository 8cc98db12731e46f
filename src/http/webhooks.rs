//! Meta's webhook: the subscription handshake and signed event deliveries.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::Mac;
use serde::Deserialize;

use super::error::{AppError, Result};
use super::extract::{Query, RawBody};
use super::AppState;
use crate::ingest::{meta, signature};

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Echoes the challenge when the verify token matches the one configured.
pub async fn handshake(
    State(state): State<AppState>,
    Query(q): Query<Handshake>,
) -> Result<impl IntoResponse> {
    let expected = state.settings.meta_verify_token.expose().as_bytes();
    if expected.is_empty() {
        return Err(AppError::forbidden(
            "no verify token is configured; set TAVLA_META_VERIFY_TOKEN to the token you give Meta",
        ));
    }
    let given = q.verify_token.unwrap_or_default();
    if q.mode.as_deref() != Some("subscribe") || !constant_time_eq(given.as_bytes(), expected) {
        return Err(AppError::forbidden(
            "the verify token does not match the one configured in TAVLA_META_VERIFY_TOKEN",
        ));
    }
    let challenge = q
        .challenge
        .filter(|c| c.len() <= 256)
        .ok_or_else(|| AppError::bad_request("hub.challenge is missing"))?;
    // Plain text, so the echoed value is never interpreted as markup.
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        challenge,
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Compare MACs of both values: equal-length, constant-time, whatever the inputs' lengths.
    let mac = |v: &[u8]| {
        let mut m =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"tavla-verify-token").expect("any key");
        m.update(v);
        m.finalize().into_bytes()
    };
    let (x, y) = (mac(a), mac(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Verifies the signature on the raw bytes, parses, stores durably, then answers 200.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        state.settings.meta_app_secret.expose().as_bytes(),
        &body,
        header,
    ) {
        crate::metrics::WEBHOOKS_REFUSED.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(reason = %e, "refused a webhook delivery");
        return Err(AppError::unauthorized(format!(
            "{e}; Meta signs each delivery with the app secret configured as TAVLA_META_APP_SECRET"
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let items = meta::parse_webhook(&json).map_err(|e| AppError::bad_request(e.to_string()))?;
    let outcome = state.ingestor.submit(items).await.map_err(|e| {
        tracing::error!(error = %e, "webhook not stored; Meta will deliver it again");
        AppError::unavailable("the delivery could not be stored; it will be retried")
    })?;
    tracing::debug!(?outcome, "webhook stored");
    Ok((StatusCode::OK, "EVENT_RECEIVED"))
}
