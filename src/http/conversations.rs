//! The queue and the work on one conversation: read, claim, release, reply, set status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, Query, RawBody};
use super::AppState;
use crate::access::{answer_capability, read_capability, readable_kinds};
use crate::privacy::masking;
use crate::store::conversations::{
    ClaimInfo, ClaimOutcome, QueueFilter, ReplyOutcome, ServiceLevel,
};
use crate::store::reply_window::{ReplyWindow, HUMAN_AGENT};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// dm or comments; both (those the caller may read) when absent.
    queue: Option<String>,
    channel: Option<i64>,
    status: Option<String>,
    person: Option<i64>,
    /// `me`: those whose newest handover went to the caller; `unit`: to the caller's unit.
    handed: Option<String>,
    /// `breach`: closest to breaching the service level first; the queue's order when absent.
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

const STATUSES: [&str; 3] = ["open", "waiting", "resolved"];

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse> {
    let mut kinds = readable_kinds(&caller.effective.capabilities);
    if let Some(queue) = q.queue.as_deref() {
        if queue != "dm" && queue != "comments" {
            return Err(AppError::bad_request("queue must be dm or comments"));
        }
        if !kinds.contains(&queue) {
            return Err(caller
                .require(crate::access::read_capability(queue))
                .err()
                .unwrap_or_else(|| {
                    AppError::forbidden(format!("you may not read the {queue} queue"))
                }));
        }
        kinds.retain(|k| *k == queue);
    }
    if kinds.is_empty() {
        return Err(AppError::forbidden("you may not read any conversations"));
    }
    if let Some(status) = q.status.as_deref() {
        if !STATUSES.contains(&status) {
            return Err(AppError::bad_request(
                "status must be open, waiting or resolved",
            ));
        }
    }
    let by_breach = match q.sort.as_deref() {
        None => false,
        Some("breach") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "sort must be breach (closest to breaching the service level first), or left out for the oldest unanswered first",
            ))
        }
    };
    let (handed_to_staff, handed_to_unit) = match q.handed.as_deref() {
        None => (None, None),
        Some("me") => (Some(caller.staff.id), None),
        Some("unit") => {
            let unit = state.store.staff_unit(caller.staff.id).await?.ok_or_else(|| {
                AppError::unprocessable(
                    "you belong to no unit, so nothing is handed to your unit; ask an administrator to set your unit (PATCH /api/v1/staff/{id} with \"unit\")",
                )
            })?;
            (None, Some(unit))
        }
        Some(_) => {
            return Err(AppError::bad_request(
                "handed must be me (handed to you) or unit (handed to your unit)",
            ))
        }
    };
    let level = service_level(&state);
    let scope = caller.read_scope();
    let filter = QueueFilter {
        // Narrowed to the one asked for above.
        kind: q.queue.as_ref().map(|_| kinds[0]),
        channel_id: q.channel,
        status: q.status,
        person_id: q.person,
        handed_to_staff,
        handed_to_unit,
        service_level: level,
        by_breach,
        limit: q.limit.unwrap_or(50).clamp(1, 200),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let page = state.store.queue(&scope, &filter).await?;
    let total = page.total;
    let mut items = serde_json::to_value(&page.items).map_err(AppError::internal)?;
    if let Some(list) = items.as_array_mut() {
        for item in list.iter_mut() {
            masking::summary_json(item);
            mark_service_level(item, &level);
        }
    }
    state
        .store
        .audit(
            &caller.actor(),
            "queue.read",
            None,
            json!({
                "kinds": kinds, "channel": filter.channel_id, "status": filter.status,
                "person": filter.person_id, "offset": filter.offset,
                "handed": q.handed, "sort": q.sort,
                "shown": items.as_array().map_or(0, Vec::len),
            }),
        )
        .await?;
    Ok(axum::Json(json!({
        "items": items,
        "total": total,
        "limit": filter.limit,
        "offset": filter.offset,
        "service_level": {
            "dm_hours": state.settings.service_level_hours,
            "comment_hours": state.settings.comment_service_level_hours,
            "past": page.past_service_level,
        },
    })))
}

/// The service level now, the one the reports measure (`service_level_hours` for DMs,
/// `comment_service_level_hours` for comment threads).
fn service_level(state: &AppState) -> ServiceLevel {
    const HOUR_MS: i64 = 3_600_000;
    ServiceLevel {
        now: crate::store::now_ms(),
        dm_ms: state.settings.service_level_hours.max(1) * HOUR_MS,
        comments_ms: state.settings.comment_service_level_hours.max(1) * HOUR_MS,
    }
}

/// `service_level_due_at` (when an open conversation's oldest unanswered message passes the
/// service level) and `past_service_level` on a queue item.
fn mark_service_level(item: &mut serde_json::Value, level: &ServiceLevel) {
    let kind = item["kind"].as_str().unwrap_or("dm").to_string();
    let due = match (
        item["status"].as_str(),
        item["oldest_unanswered_at"].as_i64(),
    ) {
        (Some("open"), Some(oldest)) => Some(level.due(&kind, oldest)),
        _ => None,
    };
    item["service_level_due_at"] = json!(due);
    item["past_service_level"] = json!(due.is_some_and(|d| d <= level.now));
}

/// Loads the conversation's kind and checks that the caller may read it. Outside the caller's
/// channel scope a conversation does not exist for them.
pub(super) async fn readable(state: &AppState, caller: &Caller, id: i64) -> Result<String> {
    let place = state
        .store
        .conversation_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    caller.require(read_capability(&place.kind))?;
    Ok(place.kind)
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    readable(&state, &caller, id).await?;
    let detail = state
        .store
        .conversation(&caller.read_scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    state
        .store
        .audit(
            &caller.actor(),
            "conversation.read",
            Some(&format!("conversation:{id}")),
            json!({}),
        )
        .await?;
    let cluster = question_cluster(&state, &detail).await?;
    let suggested = suggested_reply(&state, cluster).await?;
    let (categories, category_suggestions) =
        super::categories::of_conversation(&state, id, cluster).await?;
    let mut body = serde_json::to_value(&detail).map_err(AppError::internal)?;
    // Personal data masked; `masked` on each message says where, for an audited reveal.
    masking::conversation_json(&mut body);
    body["suggested_reply"] = suggested;
    // Its categories, and those colleagues gave conversations of the same FAQ cluster.
    body["categories"] = categories;
    body["category_suggestions"] = category_suggestions;
    // Handovers to the organisation's units, and the units there are to choose from (none
    // listed: any name).
    body["handovers"] = json!(state.store.handovers_of(id).await?);
    body["handover_units"] = json!(state.integrations.units);
    // The colleagues it may be handed to (who may read and answer it), by name and unit.
    let mut colleagues =
        super::handover::colleagues(&state, &detail.summary.kind, detail.summary.channel_id)
            .await?;
    colleagues.retain(|c| c.id != caller.staff.id);
    body["handover_colleagues"] = json!(colleagues);
    mark_service_level(&mut body, &service_level(&state));
    // Staff's internal notes, for the timeline; same readers as the conversation.
    // Personal data in them is masked like the messages' (the export gives it whole).
    let mut notes = state.store.notes_of(id).await?;
    for n in &mut notes {
        n.text = crate::text::detectors::mask(&n.text);
    }
    body["notes"] = json!(notes);
    Ok(axum::Json(body))
}

/// The FAQ cluster of the thread's newest question, if it has one.
pub(super) async fn question_cluster(
    state: &AppState,
    detail: &crate::store::conversations::ConversationDetail,
) -> Result<Option<u64>> {
    let Some(last) = detail
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == "inbound")
    else {
        return Ok(None);
    };
    let curations = state.store.curations().await?;
    let moves = state.store.faq_moves().await?;
    // A public question is in its cluster; a direct message is matched to the nearest one
    // without joining it (communicators never see DM text).
    Ok(state
        .faq
        .cluster_of_message(last.id, &curations, &moves)
        .or_else(|| {
            last.text
                .as_deref()
                .filter(|t| crate::faq::question::is_question(t))
                .and_then(|t| state.faq.nearest_cluster(t, &curations))
        }))
}

/// When the newest question of the thread belongs to a FAQ cluster answered by a saved reply,
/// that reply is suggested to whoever answers.
async fn suggested_reply(state: &AppState, cluster: Option<u64>) -> Result<serde_json::Value> {
    let Some(cluster) = cluster else {
        return Ok(serde_json::Value::Null);
    };
    let curations = state.store.curations().await?;
    let reply_id = curations
        .iter()
        .find(|c| c.cluster_id == cluster as i64)
        .and_then(|c| c.answered_url.as_deref())
        .and_then(|u| u.strip_prefix("saved-reply:"))
        .and_then(|id| id.parse::<i64>().ok());
    let Some(reply_id) = reply_id else {
        return Ok(serde_json::Value::Null);
    };
    Ok(match state.store.saved_reply(reply_id).await? {
        Some(r) if !r.archived => json!({"faq_cluster": cluster, "saved_reply": r}),
        _ => serde_json::Value::Null,
    })
}

fn held_by(claim: ClaimInfo) -> AppError {
    AppError::conflict(
        format!(
            "{} is working on this conversation until their claim ends; pick another one or ask them",
            claim.username
        ),
        json!({"holder": claim.username, "expires_at": claim.expires_at}),
    )
}

pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let lease_ms = state.settings.claim_lease_seconds * 1000;
    match state
        .store
        .claim(id, caller.staff.id, lease_ms, &caller.actor())
        .await?
    {
        ClaimOutcome::Claimed(c) => Ok(axum::Json(json!({"claim": c}))),
        ClaimOutcome::HeldBy(c) => Err(held_by(c)),
        ClaimOutcome::NotFound => Err(AppError::not_found(format!(
            "there is no conversation {id}"
        ))),
    }
}

pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    readable(&state, &caller, id).await?;
    match state
        .store
        .release(id, caller.staff.id, &caller.actor())
        .await?
    {
        ClaimOutcome::Claimed(_) => Ok(StatusCode::NO_CONTENT),
        ClaimOutcome::HeldBy(c) => Err(held_by(c)),
        ClaimOutcome::NotFound => Err(AppError::not_found(format!(
            "there is no conversation {id}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: StatusBody = parse_json(&body)?;
    if !STATUSES.contains(&body.status.as_str()) {
        return Err(AppError::unprocessable(
            "status must be open, waiting or resolved",
        ));
    }
    state
        .store
        .set_status(id, caller.staff.id, &body.status, &caller.actor())
        .await?;
    Ok(axum::Json(json!({"status": body.status})))
}

/// Messenger refuses text over 2,000 characters; comments take 8,000.
const MAX_DM_REPLY: usize = 2000;
const MAX_COMMENT_REPLY: usize = 8000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    text: String,
    /// For comment threads: the comment (tavla message id) answered; the newest when absent.
    in_reply_to: Option<i64>,
    /// DMs only: "HUMAN_AGENT" sends past the 24-hour window (up to 7 days), and says that a
    /// person, not an automation, answers. Chosen by the agent, never added for them.
    tag: Option<String>,
}

/// The reply's text, trimmed, if the platform will take it.
pub(super) fn reply_text<'a>(text: &'a str, kind: &str) -> Result<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::unprocessable(
            "the reply is empty; write something to send",
        ));
    }
    let max = if kind == "dm" {
        MAX_DM_REPLY
    } else {
        MAX_COMMENT_REPLY
    };
    if crate::text::placeholders::has_known(text) {
        return Err(AppError::unprocessable(
            "the reply still holds a placeholder such as {förnamn}; choose the saved reply again so its preview fills it, or write the words yourself",
        ));
    }
    let length = text.chars().count();
    if length > max {
        return Err(AppError::unprocessable(format!(
            "the reply has {length} characters; the platform takes at most {max}: shorten it or split it in two"
        )));
    }
    Ok(text)
}

pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: ReplyBody = parse_json(&body)?;
    let text = reply_text(&body.text, &kind)?;
    let tag = checked_tag(body.tag.as_deref(), &kind)?;
    let lease_ms = state.settings.claim_lease_seconds * 1000;
    match state
        .store
        .add_reply(
            id,
            caller.staff.id,
            text,
            body.in_reply_to,
            tag,
            lease_ms,
            &caller.actor(),
        )
        .await?
    {
        ReplyOutcome::Queued { message_id } => Ok((
            StatusCode::CREATED,
            axum::Json(json!({"message_id": message_id, "delivery": "pending"})),
        )),
        ReplyOutcome::HeldBy(c) => Err(held_by(c)),
        ReplyOutcome::NotFound => Err(AppError::not_found(format!("there is no conversation {id}"))),
        ReplyOutcome::NothingToAnswer => Err(AppError::unprocessable(
            "this thread has no comment to answer (or in_reply_to names a message of another thread)",
        )),
        ReplyOutcome::NeedsHumanAgentTag(w) => Err(needs_human_agent_tag(w)),
        ReplyOutcome::WindowClosed(w) => Err(window_closed(w)),
    }
}

/// The only tag there is, and only for DMs.
pub(super) fn checked_tag<'a>(tag: Option<&'a str>, kind: &str) -> Result<Option<&'a str>> {
    match tag {
        None => Ok(None),
        Some(HUMAN_AGENT) if kind == "dm" => Ok(Some(HUMAN_AGENT)),
        Some(HUMAN_AGENT) => Err(AppError::unprocessable(
            "a tag is for direct messages only; a comment reply has no reply window",
        )),
        Some(_) => Err(AppError::unprocessable(
            "the only tag an agent may choose is HUMAN_AGENT (a person answering, within 7 days)",
        )),
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub(super) fn needs_human_agent_tag(w: ReplyWindow) -> AppError {
    AppError {
        extra: Some(json!({"reply_window": w})),
        ..AppError::unprocessable(format!(
            "the 24-hour reply window closed at {}. If you, a person, are answering the person's \
             question, you may still reply until {} by sending again with \"tag\": \"HUMAN_AGENT\"; \
             do not use it for automated or promotional messages",
            rfc3339(w.closes_at),
            rfc3339(w.human_agent_closes_at)
        ))
    }
}

pub(super) fn window_closed(w: Option<ReplyWindow>) -> AppError {
    match w {
        Some(w) => AppError {
            extra: Some(json!({"reply_window": w})),
            ..AppError::unprocessable(format!(
                "the reply window closed at {}, 7 days after the person's last message, and the \
                 platform allows no reply now; wait for them to write again, or reach them another \
                 way (phone, e-mail, letter)",
                rfc3339(w.human_agent_closes_at)
            ))
        },
        None => AppError::unprocessable(
            "the person has not written to the page, so the platform allows no message to them; \
             wait for them to write",
        ),
    }
}
