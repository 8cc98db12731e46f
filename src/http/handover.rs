//! `POST /api/v1/conversations/{id}/handover`: a conversation handed to a unit of the
//! organisation (Bygglov, Socialtjänsten, …) or to a named colleague, with a note. The handover
//! is recorded, audited and put on the event log: the receiver's console hears of it live, and
//! receivers configured in `integrations_file` hear of handovers to units
//! (src/outbound/integrations.rs). The receiver finds it in `GET /api/v1/conversations?handed=me`
//! or `?handed=unit`; the person's waiting time keeps counting (nothing is reset).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::conversations::readable;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, RawBody};
use super::AppState;
use crate::access::{answer_capability, read_capability};

/// A note longer than this is refused: it is for the unit, not a copy of the conversation.
const NOTE_MAX_CHARS: usize = 2000;

/// Exactly one of `unit` and `to`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = HandoverRequest)]
struct HandoverBody {
    /// The unit the conversation goes to.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    unit: Option<String>,
    /// A colleague's username (one of the conversation's `handover_colleagues`).
    to: Option<String>,
    /// What the receiver needs to know.
    // Trimmed before it is measured, so only the trimmed length is held to the limit.
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// Handed over.
#[derive(Serialize, ToSchema)]
#[schema(as = Handover)]
struct Handed {
    handover_id: i64,
    /// The unit; for a handover to a colleague, their unit (null when they have none).
    unit: Option<String>,
    /// The colleague's username; null for a handover to a unit.
    to: Option<String>,
}

#[derive(OpenApi)]
#[openapi(paths(hand_over))]
pub struct Doc;

/// Hand a conversation to a unit or a colleague
///
/// Records that the conversation goes to a unit of the organisation (Bygglov, Socialtjänsten,
/// …; `unit`) or to a named colleague (`to`, a username from the conversation's
/// `handover_colleagues`: a person whose role and current training let them read and answer it
/// and whose channel limit includes its channel; the colleague's unit is recorded with it), with
/// an optional note, audited (`conversation.handed_over`) and put on the event log (a
/// `conversation.handed_over` event). The receiver finds it with `GET
/// /api/v1/conversations?handed=me` or `?handed=unit`; the person's waiting time
/// (`oldest_unanswered_at`) keeps counting. The event's payload names the receiver (`to_staff`,
/// the colleague's staff id, or null; `unit`), so their console tells them at once. For a
/// handover to a unit, receivers configured in `integrations_file` that ask for
/// `conversation.handed_over` get a signed webhook with the handover, the conversation, its
/// channel and the person's newest message; its words only when the receiver has
/// `include_dm_text` for a DM, never for S5 content. The conversation's status and claim are not
/// changed. When `integrations_file` lists `units`, the unit must be one of them.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/handover",
    operation_id = "handOverConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    request_body(content = HandoverBody, description = "The unit or the colleague, and a note."),
    responses(
        (status = 201, description = "Handed over.", body = Handed,
            example = json!({"handover_id": 12, "unit": "Bygglov", "to": null})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Neither or both of `unit` and `to` given; the unit is \
            empty, longer than 100 characters or not one of the configured `units` (`detail` \
            lists them); the colleague is the caller, unknown, or may not read and answer the \
            conversation; the note is longer than 2,000 characters; or the body has unknown \
            fields.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn hand_over(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: HandoverBody = parse_json(&body)?;
    let (unit, to_staff) = match (body.unit.as_deref(), body.to.as_deref()) {
        (Some(unit), None) => (Some(checked_unit(&state, unit)?), None),
        (None, Some(to)) => {
            let (staff_id, unit) = colleague(&state, &caller, id, &kind, to.trim()).await?;
            (unit, Some(staff_id))
        }
        _ => {
            return Err(AppError::unprocessable(
                "give either \"unit\" (a unit of the organisation) or \"to\" (a colleague's username), not both",
            ))
        }
    };
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
        .hand_over(id, unit.as_deref(), to_staff, note, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Handed {
            handover_id: handover,
            unit,
            to: body.to.map(|t| t.trim().to_string()),
        }),
    ))
}

fn checked_unit(state: &AppState, unit: &str) -> Result<String> {
    let unit = unit.trim();
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
    Ok(unit.to_string())
}

/// The colleague's id and unit, if they may take the conversation over: a person's account,
/// not disabled, not the caller, whose role and training let them read and answer this kind of
/// conversation, and whose channel limit includes its channel. Anyone else is refused by name
/// alone, so the refusal tells nothing about accounts the caller could not otherwise see.
async fn colleague(
    state: &AppState,
    caller: &Caller,
    conversation: i64,
    kind: &str,
    username: &str,
) -> Result<(i64, Option<String>)> {
    let refused = || {
        AppError::unprocessable(format!(
            "{username:?} cannot take this conversation over: hand it to a colleague who may answer it (see handover_colleagues in GET /api/v1/conversations/{conversation}), or to a unit"
        ))
    };
    if username == caller.staff.username {
        return Err(AppError::unprocessable(
            "you cannot hand a conversation to yourself; name a colleague or a unit",
        ));
    }
    let place = state
        .store
        .conversation_place(conversation)
        .await?
        .ok_or_else(refused)?;
    // Only the named account is judged (not every colleague's training), so forty handovers
    // at once do not each read every account's training.
    let found = state.store.staff_by_username(username).await?;
    let account = match found {
        Some(staff) => state.store.staff_account(staff.id).await?,
        None => None,
    }
    .ok_or_else(refused)?;
    if !may_take_over(
        state,
        &account,
        kind,
        place.channel_id,
        crate::store::now_ms(),
    )
    .await?
    {
        return Err(refused());
    }
    Ok((account.id, account.unit))
}

/// Whether the account may take over a conversation of this kind on this channel: a person
/// (not a service account), not disabled, whose roles and current training give both reading
/// and answering it, within whose channel limit it lies.
async fn may_take_over(
    state: &AppState,
    account: &crate::store::access::StaffAccount,
    kind: &str,
    channel_id: i64,
    now: i64,
) -> Result<bool> {
    if account.disabled || account.kind != "person" {
        return Ok(false);
    }
    if !(account.channels.is_empty() || account.channels.contains(&channel_id)) {
        return Ok(false);
    }
    let Some(roles) = crate::access::Roles::parse_all(&account.roles) else {
        return Ok(false);
    };
    let needed = [read_capability(kind), answer_capability(kind)];
    if !needed.iter().all(|c| roles.can(*c)) {
        return Ok(false);
    }
    let completions = state.store.completions(account.id).await?;
    let effective = state.training.effective(&roles, &completions, now);
    Ok(needed.iter().all(|c| effective.has(*c)))
}

/// A colleague a conversation may be handed to.
#[derive(serde::Serialize)]
pub struct Colleague {
    #[serde(skip)]
    pub id: i64,
    pub username: String,
    pub unit: Option<String>,
}

/// Those who may take over a conversation of this kind on this channel: people (not service
/// accounts), not disabled, whose role and current training give both reading and answering it,
/// within whose channel limit it lies. By username.
pub async fn colleagues(state: &AppState, kind: &str, channel_id: i64) -> Result<Vec<Colleague>> {
    let now = crate::store::now_ms();
    let mut out = Vec::new();
    for account in state.store.staff_accounts().await? {
        if may_take_over(state, &account, kind, channel_id, now).await? {
            out.push(Colleague {
                id: account.id,
                username: account.username,
                unit: account.unit,
            });
        }
    }
    Ok(out)
}
