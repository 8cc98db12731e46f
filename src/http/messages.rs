//! `POST /api/v1/messages`: a batch of normalised messages from other channels or another tool.
//! An integration submits with its own service account; each batch is audited under the
//! submitter's name, and a channel-limited submitter may submit only for its own channels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::Json;
use super::AppState;

use crate::ingest::normalised;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    messages: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct LineError {
    index: usize,
    error: String,
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
        axum::Json(serde_json::json!({
            "accepted": accepted,
            "stored": outcome.stored,
            "duplicates": outcome.duplicates,
            "quarantined": outcome.quarantined,
            "errors": errors,
        })),
    ))
}
