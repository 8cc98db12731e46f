//! Meta's webhook: the subscription handshake and signed event deliveries.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::Mac;
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::description::refusals::{BadRequest, InternalError, PayloadTooLarge};
use super::description::with_rule;
use super::error::{AppError, Problem, Result};
use super::extract::{Query, RawBody};
use super::AppState;
use crate::ingest::{meta, signature};

#[derive(OpenApi)]
#[openapi(paths(handshake, receive))]
pub struct Doc;

/// A string of exactly `value` (JSON Schema's `const`, which utoipa's attributes cannot state).
fn exactly(value: &str) -> RefOr<Schema> {
    with_rule(
        ObjectBuilder::new().schema_type(Type::String).into(),
        json!({"const": value}),
    )
}

/// `hub.mode`'s one value.
pub struct Subscribe;

impl PartialSchema for Subscribe {
    fn schema() -> RefOr<Schema> {
        exactly("subscribe")
    }
}

impl ToSchema for Subscribe {}

/// The handshake's query. Each is optional to the extractor so that a missing one is answered
/// as the handshake says (403 or 400), but Meta always sends all three (described as required).
#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// The hand-written `MetaWebhook` schema, as a required body.
pub struct MetaWebhook;

impl PartialSchema for MetaWebhook {
    fn schema() -> RefOr<Schema> {
        RefOr::Ref(crate::described::meta_webhook())
    }
}

impl ToSchema for MetaWebhook {}

/// The echoed challenge: text of at most 256 characters.
pub struct Challenge;

impl PartialSchema for Challenge {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(256))
            .into()
    }
}

impl ToSchema for Challenge {}

/// The acknowledgement Meta waits for: exactly `EVENT_RECEIVED`.
pub struct EventReceived;

impl PartialSchema for EventReceived {
    fn schema() -> RefOr<Schema> {
        exactly("EVENT_RECEIVED")
    }
}

impl ToSchema for EventReceived {}

/// Meta webhook subscription handshake
///
/// Called by Meta, not by integrators, when the webhook is subscribed in the Meta app
/// dashboard. When `hub.mode` is `subscribe` and `hub.verify_token` equals the token configured
/// as `TAVLA_META_VERIFY_TOKEN`, the service echoes `hub.challenge` as plain text. No sign-in:
/// the verify token is the check.
#[utoipa::path(
    get,
    path = "/webhooks/meta",
    operation_id = "metaWebhookHandshake",
    tag = "webhooks",
    params(
        ("hub.mode" = inline(Subscribe), Query, description = "Must be `subscribe`."),
        ("hub.verify_token" = String, Query, description = "The verify token entered in the Meta \
            app dashboard; must equal TAVLA_META_VERIFY_TOKEN."),
        ("hub.challenge" = String, Query, max_length = 256, description = "The value to echo; \
            missing or longer than 256 characters is refused with 400."),
    ),
    responses(
        (status = 200, description = "The challenge, echoed.",
            content_type = "text/plain; charset=utf-8", body = inline(Challenge),
            example = json!("1158201444")),
        (status = 400, response = BadRequest),
        (status = 403, description = "No verify token is configured, `hub.mode` is not \
            `subscribe`, or the verify token does not match.", body = Problem,
            content_type = "application/problem+json"),
        (status = 500, response = InternalError),
    )
)]
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

/// Receive a Meta webhook delivery
///
/// Called by Meta with Messenger, Instagram and Page feed events for the municipality's
/// accounts. The signature in `X-Hub-Signature-256` is checked on the exact bytes received
/// against the app secret (`TAVLA_META_APP_SECRET`); the events are stored durably, and only
/// then is 200 `EVENT_RECEIVED` answered, so Meta redelivers anything not acknowledged.
/// Redeliveries are recognised and stored once. Events for accounts that are not registered and
/// approved are quarantined, not refused. No sign-in: the signature is the check.
#[utoipa::path(
    post,
    path = "/webhooks/meta",
    operation_id = "metaWebhookReceive",
    tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, pattern = "^sha256=[0-9a-fA-F]{64}$",
        description = "`sha256=` followed by the hex HMAC-SHA256 of the raw body, keyed with \
        the Meta app secret.")),
    request_body(content = inline(MetaWebhook),
        description = "The delivery exactly as Meta sends it. The signature covers these bytes, \
        so proxies must not re-encode the body.",
        example = json!({"object": "page", "entry": [{"id": "104857600123456",
            "time": 1762071300000_i64, "messaging": [{"sender": {"id": "7001002003"},
            "recipient": {"id": "104857600123456"}, "timestamp": 1762071300000_i64,
            "message": {"mid": "m_abc123", "text": "Hej!"}}]}]})),
    responses(
        (status = 200, description = "Stored (or recognised as already stored).",
            content_type = "text/plain; charset=utf-8", body = inline(EventReceived)),
        (status = 400, description = "The signed body is not JSON, or not a Meta webhook tavla \
            reads (not an object, no `object` or an unsupported one, no `entry` array, an entry \
            without `id`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The X-Hub-Signature-256 header is missing, malformed (not \
            `sha256=` and 64 hex digits) or does not match the body.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 503, description = "The delivery could not be stored; Meta will deliver it \
            again.", body = Problem, content_type = "application/problem+json"),
        (status = 500, response = InternalError),
    )
)]
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
