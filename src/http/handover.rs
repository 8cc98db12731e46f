//! `POST /api/v1/conversations/{id}/handover`: a conversation handed to a unit of the
//! organisation (Bygglov, Socialtjänsten, …). The handover is recorded, audited and put on the
//! event log, from which receivers configured in `integrations_file` hear of it
//! (src/outbound/integrations.rs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::conversations::readable;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;

/// A note longer than this is refused: it is for the unit, not a copy of the conversation.
const NOTE_MAX_CHARS: usize = 2000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverBody {
    unit: String,
    note: Option<String>,
}

/// Those who may answer the conversation may hand it over.
pub async fn hand_over(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: HandoverBody = parse_json(&body)?;
    let unit = body.unit.trim();
    if unit.is_empty() || unit.chars().count() > 100 {
        return Err(AppError::unprocessable(
            "name the unit the conversation goes to (1 to 100 characters)",
        ));
    }
    if !state.integrations.unit_allowed(unit) {
        return Err(AppError::unprocessable(format!(
            "{unit:?} is not a unit conversations are handed to; choose one of: {}",
            state.integrations.units.join(", ")
        )));
    }
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS) {
        return Err(AppError::unprocessable(format!(
            "the note may have at most {NOTE_MAX_CHARS} characters; say what the unit needs, the conversation itself stays in tavla"
        )));
    }
    let handover = state
        .store
        .hand_over(id, unit, note, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"handover_id": handover, "unit": unit})),
    ))
}
