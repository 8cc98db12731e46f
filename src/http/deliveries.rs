//! `POST /api/v1/messages/{id}/retry`: send a failed reply again, as it was or with new words.
//! The same rules as replying: the capability for the conversation's kind, the channel scope, the
//! reply window, and an entry in the audit trail.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::conversations::{readable_place, ReplyTag};
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;
use crate::inbox;
use crate::store::outbox::DeliveryView;

/// Optional: an empty body retries the message as it was, with the tag chosen before. Unknown
/// fields are refused (422).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RetryRequest, example = json!({
    "text": "Hej igen! Återvinningscentralen har öppet till 19 i dag.", "tag": "HUMAN_AGENT"
}))]
pub struct RetryBody {
    /// New words for the message, with the same limits as a reply (trimmed; not empty; at most
    /// 2,000 characters in a DM conversation, 8,000 in a comment thread). The old words are kept
    /// in the message's history as an edit: the person never received them.
    #[schema(min_length = 1, max_length = 8000, pattern = r"\S")]
    text: Option<String>,
    /// DMs only, as for a reply: `HUMAN_AGENT` to send after the 24-hour window, within 7 days
    /// of the person's last message. When absent (or null), the tag chosen for the reply before
    /// is kept.
    // Read as a word so any other gets the inbox's own 422 wording.
    #[schema(value_type = Option<ReplyTag>)]
    tag: Option<String>,
}

/// Where a retried reply stands right after it is queued again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Requeued {
    Pending,
}

#[derive(Serialize, ToSchema)]
#[schema(as = RetryQueued, example = json!({
    "message_id": 4711, "delivery": "pending", "delivery_detail": {
        "action": "reply", "status": "pending", "attempts": 0, "failure": null,
        "next_attempt_at": 1762071300000_i64, "tag": "HUMAN_AGENT", "in_doubt": false,
        "sent_at": null
    }
}))]
struct RetryQueuedView {
    /// The message retried.
    message_id: i64,
    /// Queued again; follow `message.delivery_changed` events or re-read the conversation.
    delivery: Requeued,
    /// The outbox row as it stands now (`pending`, 0 attempts).
    delivery_detail: Option<DeliveryView>,
}

#[derive(OpenApi)]
#[openapi(paths(retry), components(schemas(RetryBody)))]
pub struct Doc;

/// Send a failed reply again, optionally with new words
///
/// Puts a failed reply (or private reply) back in the outbox, with a fresh count of attempts.
/// With `text`, the message gets the new words (the old ones are kept in its history as an edit:
/// the person never received them). A DM must still fit the reply window (24 hours after the
/// person's last message in that DM conversation, or 7 days with `tag: HUMAN_AGENT`), with the
/// tag given now or, when none is given, the one chosen before; otherwise 422 with
/// `reply_window`. A reply that gave up after timeouts may have arrived (`in_doubt`): the worker
/// looks for it on the platform before sending it again. Unlike a new reply, a retry neither
/// checks nor takes the conversation's claim. The body is optional (an empty body retries as it
/// was); it is judged only after access is checked, and its Content-Type is not checked.
/// Recorded in the audit trail (`message.retried`), and followed by a `message.delivery_changed`
/// event.
///
/// **Access:** Then the message's conversation decides: a message in a DM conversation (replies
/// and private replies) needs `read_dms` and `answer_dms`, in a comment thread `read_comments`
/// and `answer_comments` (403 otherwise, with `missing_training` when training is what is
/// missing). A message on a channel outside the caller's channel scope does not exist for them
/// (404).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/retry",
    operation_id = "retryDelivery",
    tag = "conversations",
    params(("id" = i64, Path, description = "The tavla id of our message whose delivery failed.")),
    // By reference: a body of `Option<RetryBody>` would be described as possibly `null`, which
    // the handler refuses; the reference leaves the body optional and never null.
    request_body(content = ref("#/components/schemas/RetryRequest"),
        description = "Optional new words and tag."),
    responses(
        (status = 200, description = "Queued again.", body = RetryQueuedView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such message, or it is on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The message has no failed delivery: it is not one of ours \
            waiting for delivery (e.g. an inbound message), or its delivery is pending, sending \
            or sent. Note the `status` member (see RetryConflictProblem).",
            body = ref("#/components/schemas/RetryConflictProblem"),
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The text is empty or too long, the tag is not \
            `HUMAN_AGENT` (or is given in a comment thread), the body has unknown fields or wrong \
            types, or the DM's reply window does not allow the message now: `detail` says when it \
            closed and what to do, and `reply_window` gives the times (absent when the person has \
            never written in the DM conversation).",
            body = ref("#/components/schemas/ReplyWindowProblem"),
            content_type = "application/problem+json"),
    )
)]
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
    Ok(axum::Json(RetryQueuedView {
        message_id: id,
        delivery: Requeued::Pending,
        delivery_detail: state.store.delivery_of_message(id).await?,
    }))
}
