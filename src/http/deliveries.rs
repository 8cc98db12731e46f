//! `POST /api/v1/messages/{id}/retry`: send a failed reply again, as it was or with new words.
//! The same rules as replying: the capability for the conversation's kind, the channel scope, the
//! reply window, and an entry in the audit trail.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::conversations::{
    checked_tag, needs_human_agent_tag, readable, reply_text, window_closed,
};
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;
use crate::store::retry::RetryOutcome;

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
    let kind = readable(&state, &caller, place.conversation_id).await?;
    caller.require(answer_capability(&kind))?;
    let body: RetryBody = if body.is_empty() {
        RetryBody::default()
    } else {
        parse_json(&body)?
    };
    let text = body
        .text
        .as_deref()
        .map(|t| reply_text(t, &kind))
        .transpose()?;
    let tag = checked_tag(body.tag.as_deref(), &kind)?;
    match state
        .store
        .retry_delivery(id, text, tag, &caller.actor())
        .await?
    {
        RetryOutcome::Queued => Ok(axum::Json(json!({
            "message_id": id,
            "delivery": "pending",
            "delivery_detail": state.store.delivery_of_message(id).await?,
        }))),
        RetryOutcome::NotFound => Err(AppError::conflict(
            "this message is not one of ours waiting for delivery, so there is nothing to retry",
            json!({}),
        )),
        RetryOutcome::NotFailed(status) => Err(AppError::conflict(
            format!(
                "the delivery is {status}, not failed; only a failed delivery can be retried \
                 (a pending one is retried by itself)"
            ),
            json!({ "delivery_status": status }),
        )),
        RetryOutcome::NeedsHumanAgentTag(w) => Err(needs_human_agent_tag(w)),
        RetryOutcome::WindowClosed(w) => Err(window_closed(w)),
    }
}
