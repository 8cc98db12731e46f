//! The library of saved replies: kept by communicators, used by agents and communicators.
//! A channel-limited communicator keeps the replies of their own channels only: a reply for
//! every channel is read-only for them (others' channels use it too), and another channel's
//! reply does not exist for them. A reply may name the placeholders `{förnamn}`, `{namn}` and
//! `{kanal}`; the preview fills them from one conversation before the reply is sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path, Query};
use super::AppState;
use crate::text::placeholders;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    channel: Option<i64>,
    /// sv or en
    language: Option<String>,
}

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
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    title: String,
    body: String,
    language: String,
    /// The channel it is for; every channel when absent.
    channel_id: Option<i64>,
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
    Ok((StatusCode::CREATED, axum::Json(json!({"id": id}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyChange {
    title: Option<String>,
    body: Option<String>,
    archived: Option<bool>,
}

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
    Ok(axum::Json(json!({"saved_reply": reply})))
}

/// `GET /api/v1/conversations/{id}/saved-replies/{reply}/preview`: the reply as it would be sent
/// in this conversation, its placeholders filled. Those who may answer the conversation may ask.
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
    Ok(axum::Json(json!({
        "saved_reply_id": reply.id,
        "title": reply.title,
        "text": text,
    })))
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
