//! `POST /api/v1/messages/{id}/retry`: send a failed reply again, as it was or with new words.
//! The same rules as replying: the capability for the conversation's kind, the channel scope, the
//! reply window, and an entry in the audit trail.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::conversations::readable_place;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;
use crate::inbox;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// New words for the message (an edit: the person never received the old ones).
    text: Option<String>,
    /// "HUMAN_AGENT" for a DM past its 24 hours; the tag chosen before is kept when absent.
    tag: Option<String>,
}

pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let not_found = || AppError::not_found(format!("there is no message {id}"));
    let place = state
        .store
        .message_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(not_found)?;
    let conversation = readable_place(&state, &caller, place.conversation_id).await?;
    caller.require(answer_capability(&conversation.kind))?;
    let body: RetryBody = if body.is_empty() {
        RetryBody::default()
    } else {
        parse_json(&body)?
    };
    inbox::retry(
        &state.store,
        &conversation,
        &inbox::Redraft {
            message_id: id,
            text: body.text.as_deref(),
            tag: body.tag.as_deref(),
        },
        &caller.actor(),
    )
    .await?;
    Ok(axum::Json(json!({
        "message_id": id,
        "delivery": "pending",
        "delivery_detail": state.store.delivery_of_message(id).await?,
    })))
}
