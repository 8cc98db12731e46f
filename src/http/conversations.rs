//! The queue and the work on one conversation: read, claim, release, reply, set status. Parses
//! the request, checks which capability the route needs, calls the inbox (`crate::inbox`, where
//! the rules are) and answers.

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
use crate::inbox::queue::{self, Handed};
use crate::inbox::{self, claims, service_level, Status};
use crate::privacy::masking;
use crate::store::conversations::{ConversationPlace, QueueFilter};

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
        // A query that names no status there is is malformed (400), unlike a change (422).
        Status::parse(status).map_err(|r| AppError::bad_request(r.detail()))?;
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
    let handed = match q.handed.as_deref() {
        None => None,
        Some("me") => Some(Handed::Me),
        Some("unit") => Some(Handed::Unit),
        Some(_) => {
            return Err(AppError::bad_request(
                "handed must be me (handed to you) or unit (handed to your unit)",
            ))
        }
    };
    let (handed_to_staff, handed_to_unit) =
        queue::handed_to(&state.store, caller.staff.id, handed).await?;
    let (limit, offset) = queue::page(q.limit, q.offset);
    let level = service_level::at(&state.settings, crate::store::now_ms());
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
        limit,
        offset,
    };
    let page = state.store.queue(&scope, &filter).await?;
    let total = page.total;
    let mut items = serde_json::to_value(&page.items).map_err(AppError::internal)?;
    if let Some(list) = items.as_array_mut() {
        for item in list.iter_mut() {
            masking::summary_json(item);
            service_level::mark(item, &level);
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

/// Loads the conversation's kind and checks that the caller may read it. Outside the caller's
/// channel scope a conversation does not exist for them.
pub(super) async fn readable(state: &AppState, caller: &Caller, id: i64) -> Result<String> {
    Ok(readable_place(state, caller, id).await?.kind)
}

/// Like [`readable`], with the platform too (whose rules a reply follows).
pub(super) async fn readable_place(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<ConversationPlace> {
    let place = state
        .store
        .conversation_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    caller.require(read_capability(&place.kind))?;
    Ok(place)
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
    let suggested = inbox::suggestions::suggested_reply(&state.store, cluster).await?;
    let (categories, category_suggestions) =
        super::categories::of_conversation(&state, id, cluster).await?;
    let mut body = serde_json::to_value(&detail).map_err(AppError::internal)?;
    // Personal data masked; `masked` on each message says where, for an audited reveal.
    masking::conversation_json(&mut body);
    body["suggested_reply"] = json!(suggested);
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
    let now = crate::store::now_ms();
    service_level::mark(&mut body, &service_level::at(&state.settings, now));
    // DMs only: how long a reply may still be sent (DESIGN.md §2), by the platform's rules.
    body["reply_window"] = json!(inbox::window::shown(
        &detail.summary.kind,
        &detail.summary.platform,
        detail.summary.last_inbound_at,
        now
    ));
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
    Ok(inbox::suggestions::question_cluster(&state.store, &state.faq, detail).await?)
}

pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let claim = claims::claim(
        &state.store,
        id,
        caller.staff.id,
        claims::lease_ms(&state.settings),
        &caller.actor(),
    )
    .await?;
    Ok(axum::Json(json!({ "claim": claim })))
}

pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    readable(&state, &caller, id).await?;
    claims::release(&state.store, id, caller.staff.id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let status = inbox::set_status(
        &state.store,
        id,
        caller.staff.id,
        &body.status,
        &caller.actor(),
    )
    .await?;
    Ok(axum::Json(json!({"status": status.as_str()})))
}

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

pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let place = readable_place(&state, &caller, id).await?;
    caller.require(answer_capability(&place.kind))?;
    let body: ReplyBody = parse_json(&body)?;
    let message_id = inbox::reply(
        &state.store,
        &place,
        &inbox::Draft {
            conversation_id: id,
            staff_id: caller.staff.id,
            text: &body.text,
            in_reply_to: body.in_reply_to,
            tag: body.tag.as_deref(),
        },
        claims::lease_ms(&state.settings),
        &caller.actor(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"message_id": message_id, "delivery": "pending"})),
    ))
}
