//! `POST /api/v1/conversations/{id}/notes`: an internal note on a conversation, for colleagues.
//! Those who may answer the conversation may write one; those who may read it see it in the
//! conversation's timeline (`notes` on `GET /api/v1/conversations/{id}`). Nothing goes to the
//! platform.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::auth::Caller;
use super::conversations::readable;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;

/// A note longer than this is refused: it is a word to colleagues, not a case file.
pub const NOTE_MAX_CHARS: usize = 4000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// The note's text, trimmed, when it is one tavla keeps.
fn note_text(text: &str) -> Result<&str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::unprocessable(
            "the note is empty; write what your colleagues need to know",
        ));
    }
    let length = text.chars().count();
    if length > NOTE_MAX_CHARS {
        return Err(AppError::unprocessable(format!(
            "the note has {length} characters; a note may have at most {NOTE_MAX_CHARS}: shorten it"
        )));
    }
    Ok(text)
}

pub async fn write(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: NoteBody = parse_json(&body)?;
    let text = note_text(&body.text)?;
    let note = state.store.add_note(id, text, &caller.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(note)))
}
