//! `POST /api/v1/messages`: a batch of normalised messages from other channels or another tool.
//! An integration submits with its own service account; each batch is audited under the
//! submitter's name, and a channel-limited submitter may submit only for its own channels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::auth::Caller;
use super::description::refusals::{
    BadRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType,
};
use super::error::{AppError, Problem, Result};
use super::extract::Json;
use super::AppState;

use crate::ingest::normalised;

/// A batch of normalised messages. Each item is checked on its own: an item that does not match
/// NormalisedMessage is reported in `errors` by its index while the others are stored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IngestBatch)]
pub struct Batch {
    /// At most 5,000 per request (larger migrations go through `tavla import`).
    // Values, not typed items: each is judged on its own (and `1.0` read as `1`), so one bad
    // item is listed in `errors` instead of refusing the batch.
    #[schema(schema_with = normalised_messages)]
    messages: Vec<serde_json::Value>,
}

fn normalised_messages() -> utoipa::openapi::Array {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(NormalisedMessageRequest::name()))
        .max_items(Some(MAX_BATCH))
        .description(Some(
            "At most 5,000 per request (larger migrations go through `tavla import`).",
        ))
        .build()
}

#[derive(Serialize, ToSchema)]
#[schema(as = IngestLineError)]
struct LineError {
    /// Position of the refused item in `messages`, from 0.
    index: usize,
    /// What to fix.
    error: String,
}

/// What a batch did.
#[derive(Serialize, ToSchema)]
#[schema(as = IngestResult, example = json!({
    "accepted": 2, "stored": 1, "duplicates": 0, "quarantined": 1,
    "errors": [{"index": 2, "error": "a comment needs post_id: the post it was written under"}]
}))]
struct IngestOutcome {
    /// Items that passed validation and were submitted.
    accepted: usize,
    /// New messages and changes stored.
    stored: usize,
    /// Items seen before: nothing written. Resending a batch is safe.
    duplicates: usize,
    /// Items for channels that are not registered and approved: kept in quarantine.
    quarantined: usize,
    /// Refused items; empty when all were accepted.
    errors: Vec<LineError>,
}

#[derive(OpenApi)]
#[openapi(paths(ingest), components(schemas(NormalisedMessageRequest)))]
pub struct Doc;

/// [`normalised::NormalisedMessage`]'s fields and the rule across them (a comment, visitor post
/// or mention needs `post_id`, as `into_inbound` checks), as `NormalisedMessage`.
struct NormalisedMessageRequest;

impl PartialSchema for NormalisedMessageRequest {
    fn schema() -> RefOr<Schema> {
        super::description::with_rule(
            normalised::NormalisedMessage::schema(),
            serde_json::json!({
                "if": {"properties": {"kind": {"not": {"const": "dm"}}}},
                "then": {"required": ["post_id"],
                    "properties": {"post_id": {"type": "string", "minLength": 1}}}
            }),
        )
    }
}

impl ToSchema for NormalisedMessageRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        "NormalisedMessage".into()
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <normalised::NormalisedMessage as ToSchema>::schemas(schemas);
    }
}

/// Most items accepted in one request; larger migrations go through `tavla import`.
const MAX_BATCH: usize = 5000;

/// Refuses a batch with messages for channels outside the caller's limit (or for pages nobody
/// registered, which would wait in quarantine for someone without a limit), naming them.
async fn check_channels(
    state: &AppState,
    caller: &Caller,
    items: &[crate::model::Inbound],
) -> Result<()> {
    let Some(scope) = &caller.scope else {
        return Ok(());
    };
    let channels = state.store.channels().await?;
    let mut outside: Vec<String> = items
        .iter()
        .filter(|item| {
            !channels.iter().any(|c| {
                scope.contains(&c.id)
                    && c.platform == item.channel.platform.as_str()
                    && c.platform_id == item.channel.platform_id
            })
        })
        .map(|item| {
            format!(
                "{} {}",
                item.channel.platform.as_str(),
                item.channel.platform_id
            )
        })
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    outside.sort();
    outside.dedup();
    Err(AppError::forbidden(format!(
        "you may submit messages only for the channels you are limited to; nothing was stored, as these are not among them: {}",
        outside.join(", ")
    )))
}

/// Submit messages in the normalised format
///
/// For integrations and migrations: submits messages from channels without webhooks, or history
/// from another tool, in tavla's normalised format. Each item is validated on its own; valid
/// items are stored idempotently on (channel, id), so a batch can be sent again safely. Items
/// for channels that are not registered and approved are quarantined. The answer counts what
/// happened and lists refused items by index. At most 5,000 items per request. A channel-limited
/// caller (e.g. a service account limited to its channels) may submit only for registered
/// channels inside its limit: a batch with any other channel is refused whole (403, naming them)
/// and nothing is stored. Each batch is recorded in the audit trail under the submitter's name
/// (`messages.submitted`, with the counts), so a service account's submissions are told from a
/// person's.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    operation_id = "ingestMessages",
    tag = "ingest",
    request_body(content = Batch, description = "A batch of normalised messages.",
        example = json!({"messages": [
            {"platform": "facebook", "channel": "104857600123456", "kind": "dm",
             "id": "m_abc123", "author": {"id": "7001002003", "name": "Anna"},
             "text": "Hej! När öppnar återvinningscentralen?",
             "time": "2026-11-02T09:15:00+01:00"},
            {"platform": "facebook", "channel": "104857600123456", "kind": "comment",
             "id": "104857600123456_99_1", "author": {"id": "7001002004"},
             "text": "Bra initiativ!", "time": 1762071300000_i64,
             "post_id": "104857600123456_99"}
        ]})),
    responses(
        (status = 200, description = "The batch was processed; some items may still be listed \
            in `errors`.", body = IngestOutcome),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or the batch names a channel outside a channel-limited caller's limit (or a \
            page nobody registered).", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Nothing was accepted: either every item was refused (the \
            body is an IngestResult listing why, as application/json), or the request itself \
            could not be applied, e.g. more than 5,000 items or no `messages` array (a problem \
            document).", content(
                (IngestOutcome = "application/json"),
                (Problem = "application/problem+json"),
            )),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    Json(batch): Json<Batch>,
) -> Result<impl IntoResponse> {
    if batch.messages.len() > MAX_BATCH {
        return Err(AppError::unprocessable(format!(
            "at most {MAX_BATCH} messages per request; split the batch or use `tavla import`"
        )));
    }
    let mut good = Vec::with_capacity(batch.messages.len());
    let mut errors = Vec::new();
    for (index, mut value) in batch.messages.into_iter().enumerate() {
        // Items are read as values, past the body's typed parse: `1.0` reads as `1` here too.
        super::extract::integral_numbers_as_integers(&mut value);
        match normalised::parse(value) {
            Ok(item) => good.push(item),
            Err(error) => errors.push(LineError { index, error }),
        }
    }
    check_channels(&state, &caller, &good).await?;
    let accepted = good.len();
    let outcome = state
        .ingestor
        .submit(good)
        .await
        .map_err(|e| AppError::fault(e, "the batch was not stored; send it again"))?;
    // Who put these messages in the inbox: the integration by its own name.
    state
        .store
        .audit(
            &caller.actor(),
            "messages.submitted",
            None,
            serde_json::json!({
                "accepted": accepted, "stored": outcome.stored, "duplicates": outcome.duplicates,
                "quarantined": outcome.quarantined, "refused": errors.len(),
            }),
        )
        .await?;
    let status = if accepted == 0 && !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(IngestOutcome {
            accepted,
            stored: outcome.stored,
            duplicates: outcome.duplicates,
            quarantined: outcome.quarantined,
            errors,
        }),
    ))
}
