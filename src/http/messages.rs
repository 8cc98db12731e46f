//! `POST /api/v1/messages`: a batch of normalised messages from other channels or another tool.

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

pub async fn ingest(
    State(state): State<AppState>,
    _caller: Caller,
    Json(batch): Json<Batch>,
) -> Result<impl IntoResponse> {
    if batch.messages.len() > MAX_BATCH {
        return Err(AppError::unprocessable(format!(
            "at most {MAX_BATCH} messages per request; split the batch or use `tavla import`"
        )));
    }
    let mut good = Vec::with_capacity(batch.messages.len());
    let mut errors = Vec::new();
    for (index, value) in batch.messages.into_iter().enumerate() {
        match normalised::parse(value) {
            Ok(item) => good.push(item),
            Err(error) => errors.push(LineError { index, error }),
        }
    }
    let accepted = good.len();
    let outcome = state
        .ingestor
        .submit(good)
        .await
        .map_err(|e| AppError::fault(e, "the batch was not stored; send it again"))?;
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
