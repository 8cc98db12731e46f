//! `POST /api/v1/conversations/{id}/notes`: an internal note on a conversation, for colleagues.
//! Those who may answer the conversation may write one; those who may read it see it in the
//! conversation's timeline (`notes` on `GET /api/v1/conversations/{id}`). Nothing goes to the
//! platform.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::conversations::readable;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;
use crate::store::notes::Note;

/// A note longer than this is refused: it is a word to colleagues, not a case file.
pub const NOTE_MAX_CHARS: usize = 4000;

/// The note's text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NoteRequest)]
struct NoteBody {
    /// The note, 1 to 4,000 characters after trimming. Shown as text, never as markup.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    text: String,
}

#[derive(OpenApi)]
#[openapi(paths(write))]
pub struct Doc;

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

/// Write an internal note on a conversation
///
/// Adds an internal note for colleagues to the conversation ("called back, waiting for
/// Bygglov"). A note is never sent to the platform (no delivery is queued); it is shown in the
/// conversation's timeline (`notes` on GET /api/v1/conversations/{id}) to everyone who may read
/// the conversation, with personal data masked there. It is audited (`conversation.noted`, with
/// the note's id and length, not its words) and put on the event log (a `conversation.noted`
/// event with {note_id}, seen by those who may read the conversation). Notes go with their
/// conversation when retention disposes of it; an erasure that pseudonymises the person's
/// messages masks personal data in the notes too; a person's export (GET
/// /api/v1/privacy/authors/{platform_id}) includes the notes on their direct-message
/// conversations, masked. Notes are not in search.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/notes",
    operation_id = "writeConversationNote",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    request_body(content = NoteBody, description = "The note's text."),
    responses(
        (status = 201, description = "Written.", body = Note, example = json!({
            "id": 7, "text": "Ringde upp, väntar på Bygglov.", "written_by": "anna",
            "written_at": 1767225600000_i64
        })),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The text is empty or longer than 4,000 characters (after \
            trimming), or the body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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
