//! The library of saved replies: kept by communicators, used by agents and communicators.
//! A channel-limited communicator keeps the replies of their own channels only: a reply for
//! every channel is read-only for them (others' channels use it too), and another channel's
//! reply does not exist for them. A reply may name the placeholders `{förnamn}`, `{namn}` and
//! `{kanal}`; the preview fills them from one conversation before the reply is sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{Json, Path, Query};
use super::AppState;
use crate::store::saved_replies::{ReplyLanguage, SavedReply};
use crate::text::placeholders;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the replies for this channel id and those for every channel. A channel outside the
    /// caller's scope answers 404.
    channel: Option<i64>,
    /// Only replies in this language: `sv` or `en`. Other values are not refused; they match
    /// nothing.
    language: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SavedReplyList)]
struct ReplyList {
    /// Replies not archived, by title.
    items: Vec<SavedReply>,
}

#[derive(OpenApi)]
#[openapi(paths(list, add, update, preview))]
pub struct Doc;

/// The saved replies
///
/// Lists the saved replies that are not archived, by title: with `channel`, the replies for that
/// channel and those for every channel; without it, every reply. A reply for a channel outside
/// the caller's channel scope does not exist for them; replies for every channel (`channel_id`
/// null) are within everyone's scope. Archived replies are not listed (they can still be changed
/// by id). Not recorded in the audit trail.
///
/// **Access:** Any one of them is enough; the list does not depend on which.
#[utoipa::path(
    get,
    path = "/api/v1/saved-replies",
    operation_id = "listSavedReplies",
    tag = "saved-replies",
    params(ListQuery),
    responses(
        (status = 200, description = "The replies.", body = ReplyList),
        (status = 400, response = BadRequest),
        (status = 404, description = "`channel` is outside the caller's channel scope.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse> {
    if let Some(c) = q.channel {
        if !caller.may_see_channel(c) {
            return Err(AppError::not_found(format!("there is no channel {c}")));
        }
    }
    let items: Vec<_> = state
        .store
        .saved_replies(q.channel, q.language.as_deref())
        .await?
        .into_iter()
        .filter(|r| r.channel_id.is_none_or(|c| caller.may_see_channel(c)))
        .collect();
    Ok(axum::Json(ReplyList { items }))
}

/// A saved reply to add. Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewSavedReply, example = json!({
    "title": "Storgatan", "language": "sv",
    "body": "Storgatan är avstängd till mars. Läs mer på exempelby.se/storgatan."
}))]
pub struct NewReply {
    /// Must not be empty after trimming; at most 200 characters (counted before trimming).
    /// Stored trimmed.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    /// Must not be empty after trimming; at most 2,000 characters (counted before trimming).
    /// Stored trimmed.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    body: String,
    /// Any other value is refused (422).
    // Read as a word so any other gets `check`'s own wording.
    #[schema(value_type = ReplyLanguage)]
    language: String,
    /// The channel it is for; every channel when absent or null. A channel outside the caller's
    /// channel scope answers 404; an unknown channel 422.
    channel_id: Option<i64>,
}

/// Added.
#[derive(Serialize, ToSchema)]
#[schema(as = SavedReplyCreated, example = json!({"id": 3}))]
struct Created {
    /// The new saved reply's id.
    id: i64,
}

fn check(title: &str, body: &str, language: &str) -> Result<()> {
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err(AppError::unprocessable(
            "the title must be 1 to 200 characters",
        ));
    }
    if body.trim().is_empty() || body.chars().count() > 2000 {
        return Err(AppError::unprocessable(
            "the reply must be 1 to 2000 characters (Messenger's limit)",
        ));
    }
    if language != "sv" && language != "en" {
        return Err(AppError::unprocessable("language must be sv or en"));
    }
    let unknown = placeholders::unknown(body);
    if !unknown.is_empty() {
        return Err(AppError::unprocessable(format!(
            "the reply names {} which tavla cannot fill; the placeholders are {} (write them exactly so, or remove the braces)",
            unknown.join(", "),
            placeholders::KNOWN.join(", ")
        )));
    }
    Ok(())
}

/// A reply for every channel is changed only by someone who works with every channel.
fn every_channel(caller: &Caller) -> Result<()> {
    if caller.scope.is_some() {
        return Err(AppError::forbidden(
            "a reply for every channel is used in channels outside your limit, so it is read-only for you; give channel_id of one of your channels, or ask a communicator without a channel limit",
        ));
    }
    Ok(())
}

/// Add a saved reply
///
/// Adds a reply to the library, for one channel or (without `channel_id`) for every channel. The
/// title, text and language are checked first (422), then the channel (404 outside the caller's
/// channel scope, 422 when unknown). Recorded in the audit trail (`saved_reply.added`, with the
/// title). A channel-limited caller adds replies only for their own channels: without
/// `channel_id` (every channel) the answer is 403. The body may name the placeholders
/// `{förnamn}`, `{namn}` and `{kanal}`, filled per conversation by GET
/// /api/v1/conversations/{id}/saved-replies/{reply}/preview; any other `{word}` is refused (422,
/// `detail` lists the known ones).
#[utoipa::path(
    post,
    path = "/api/v1/saved-replies",
    operation_id = "addSavedReply",
    tag = "saved-replies",
    request_body(content = NewReply, description = "The reply to add."),
    responses(
        (status = 201, description = "Added.", body = Created),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or a channel-limited caller asked for a reply for every channel.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, description = "`channel_id` is outside the caller's channel scope.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The title is empty or longer than 200 characters, the \
            text is empty or longer than 2,000, the language is not `sv` or `en`, the channel is \
            unknown, or the body has unknown or missing fields, or the body names a placeholder \
            other than `{förnamn}`, `{namn}` and `{kanal}`.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(r): Json<NewReply>,
) -> Result<impl IntoResponse> {
    check(&r.title, &r.body, &r.language)?;
    match r.channel_id {
        Some(c) if !caller.may_see_channel(c) => {
            return Err(AppError::not_found(format!("there is no channel {c}")));
        }
        None => every_channel(&caller)?,
        Some(_) => {}
    }
    let id = state
        .store
        .add_saved_reply(
            r.channel_id,
            &r.language,
            r.title.trim(),
            r.body.trim(),
            &caller.actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

/// What to change; absent (or null) fields stay as they are. Unknown fields are refused (422).
/// The language and the channel cannot be changed. The result must meet the same rules as a new
/// reply.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SavedReplyChange, example = json!({
    "body": "Storgatan är avstängd till april. Läs mer på exempelby.se/storgatan."
}))]
pub struct ReplyChange {
    /// The new title; trimmed, then 1 to 200 characters (422 otherwise).
    #[schema(max_length = 200)]
    title: Option<String>,
    /// The new text; trimmed, then 1 to 2,000 characters (422 otherwise).
    #[schema(max_length = 2000)]
    body: Option<String>,
    /// `true` archives it (no longer listed or suggested); `false` brings it back.
    archived: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SavedReplyResult)]
struct Changed {
    /// The reply as changed. As implemented, `updated_by` and `updated_at` here still hold the
    /// values from before this change (the stored ones are updated).
    saved_reply: SavedReply,
}

/// Change or archive a saved reply
///
/// Changes a saved reply's title or text, or archives it (or brings it back); fields left out
/// stay as they are. A reply for a channel outside the caller's channel scope does not exist for
/// them; replies for every channel (`channel_id` null) are read-only for a channel-limited
/// caller (403), as they are used in channels outside their limit. Recorded in the audit trail
/// (`saved_reply.updated`, with whether it is archived). The body may name the placeholders
/// `{förnamn}`, `{namn}` and `{kanal}`, filled per conversation by GET
/// /api/v1/conversations/{id}/saved-replies/{reply}/preview; any other `{word}` is refused (422,
/// `detail` lists the known ones).
#[utoipa::path(
    patch,
    path = "/api/v1/saved-replies/{id}",
    operation_id = "updateSavedReply",
    tag = "saved-replies",
    params(("id" = i64, Path, description = "The saved reply's id.")),
    request_body(content = ReplyChange, description = "What to change."),
    responses(
        (status = 200, description = "The reply as changed.", body = Changed),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or the reply is for every channel and the caller is limited to some.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, description = "There is no such saved reply, or it is for a channel \
            outside the caller's scope.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The title would be empty or longer than 200 characters, \
            the text empty or longer than 2,000, or the body has unknown fields or wrong types, \
            or the body names a placeholder other than `{förnamn}`, `{namn}` and `{kanal}`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<ReplyChange>,
) -> Result<impl IntoResponse> {
    let mut reply = state
        .store
        .saved_reply(id)
        .await?
        .filter(|r| r.channel_id.is_none_or(|c| caller.may_see_channel(c)))
        .ok_or_else(|| AppError::not_found(format!("there is no saved reply {id}")))?;
    if reply.channel_id.is_none() {
        every_channel(&caller)?;
    }
    if let Some(t) = change.title {
        reply.title = t.trim().to_string();
    }
    if let Some(b) = change.body {
        reply.body = b.trim().to_string();
    }
    if let Some(a) = change.archived {
        reply.archived = a;
    }
    check(&reply.title, &reply.body, &reply.language)?;
    state
        .store
        .update_saved_reply(&reply, &caller.actor())
        .await?;
    Ok(axum::Json(Changed { saved_reply: reply }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = SavedReplyPreview)]
struct Preview {
    saved_reply_id: i64,
    title: String,
    /// The reply's body with its placeholders filled: what goes in the reply field.
    text: String,
}

// The reply as it would be sent in this conversation, its placeholders filled. Those who may
// answer the conversation may ask.
/// A saved reply filled for a conversation
///
/// The saved reply as it would be sent in this conversation: its placeholders filled from the
/// conversation (`{förnamn}`: the first word of the name the platform gave the person answered,
/// i.e. the author of the newest inbound message, else the conversation's person; `{namn}`: that
/// whole name; `{kanal}`: the channel's name). Without a name the neutral word `du` (sv) or
/// `there` (en) stands in, so no placeholder reaches a citizen; a reply holding `{förnamn}`,
/// `{namn}` or `{kanal}` is refused by POST /api/v1/conversations/{id}/replies. Nothing is sent
/// or recorded.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/saved-replies/{reply}/preview",
    operation_id = "previewSavedReply",
    tags = ["conversations", "saved-replies"],
    params(
        ("id" = i64, Path, description = "The conversation id (an integer)."),
        ("reply" = i64, Path, description = "The saved reply's id."),
    ),
    responses(
        (status = 200, description = "The filled text.", body = Preview, example = json!({
            "saved_reply_id": 3, "title": "Tack",
            "text": "Hej Anna! Tack för att du skrev till Exempelby kommun."
        })),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation or saved reply, or it is on \
            a channel outside the caller's scope.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The saved reply is for another channel than the \
            conversation's, or archived.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, reply_id)): Path<(i64, i64)>,
) -> Result<impl IntoResponse> {
    let kind = super::conversations::readable(&state, &caller, id).await?;
    caller.require(crate::access::answer_capability(&kind))?;
    let detail = state
        .store
        .conversation(&caller.read_scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    let reply = state
        .store
        .saved_reply(reply_id)
        .await?
        .filter(|r| r.channel_id.is_none_or(|c| caller.may_see_channel(c)))
        .ok_or_else(|| AppError::not_found(format!("there is no saved reply {reply_id}")))?;
    if reply
        .channel_id
        .is_some_and(|c| c != detail.summary.channel_id)
    {
        return Err(AppError::unprocessable(
            "this saved reply is for another channel; choose one for this conversation's channel or for every channel",
        ));
    }
    if reply.archived {
        return Err(AppError::unprocessable(
            "this saved reply is archived; choose another, or ask a communicator to bring it back",
        ));
    }
    let values = placeholders::Values {
        name: addressee(&detail),
        channel: &detail.summary.channel_name,
        language: &reply.language,
    };
    let text = placeholders::fill(&reply.body, &values);
    Ok(axum::Json(Preview {
        saved_reply_id: reply.id,
        title: reply.title,
        text,
    }))
}

/// Whom a reply speaks to: the author of the newest message from outside (in a comment thread,
/// the comment answered by default), or the conversation's person.
fn addressee(detail: &crate::store::conversations::ConversationDetail) -> Option<&str> {
    detail
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == "inbound")
        .and_then(|m| m.author.as_ref())
        .or(detail.summary.person.as_ref())
        .and_then(|p| p.name.as_deref())
}
