//! A person's data (export, erasure), legal holds, retention runs and the audited reveal of one
//! masked value. The rules themselves live in `crate::privacy`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{parse_json, Json, Path, Query, RawBody};
use super::AppState;
use crate::access::{read_capability, Capability};
use crate::privacy::retention::RetentionError;

/// Platform ids are digits (Meta's ids) or short tokens; anything else is refused before a query.
fn platform_id(id: &str) -> Result<&str> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(AppError::bad_request(
            "give the person's platform id as the platform shows it (digits, letters, - _ .)",
        ));
    }
    Ok(id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindQuery {
    /// Part of the person's name as the platform showed it.
    name: String,
}

#[instrument(skip_all)]
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FindQuery>,
) -> Result<impl IntoResponse> {
    let name = q.name.trim();
    if name.chars().count() < 2 || name.chars().count() > 100 {
        return Err(AppError::bad_request(
            "give 2 to 100 characters of the person's name",
        ));
    }
    let items = state.store.find_authors(name, 50).await?;
    state
        .store
        .audit(
            &caller.actor(),
            "privacy.authors_searched",
            None,
            json!({"shown": items.len()}),
        )
        .await?;
    Ok(axum::Json(json!({"items": items})))
}

#[instrument(skip_all)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse> {
    let id = platform_id(&id)?;
    let scope = caller.privacy_request_scope()?;
    let export = crate::privacy::export::export(&state.store, &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("nothing is stored about {id}")))?;
    state
        .store
        .audit(
            &caller.actor(),
            "privacy.exported",
            Some(&format!("author:{id}")),
            json!({"people": export["people"].as_array().map(Vec::len)}),
        )
        .await?;
    Ok(axum::Json(export))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// true: report what would happen and change nothing. Required, so nothing is erased by
    /// an empty body.
    dry_run: bool,
}

#[instrument(skip_all)]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RunBody>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("erasing a person's data (in every channel they wrote to)")?;
    let id = platform_id(&id)?;
    let report = crate::privacy::erasure::erase(
        &state.store,
        &state.retention,
        id,
        crate::store::now_ms(),
        body.dry_run,
        &caller.actor(),
    )
    .await?
    .ok_or_else(|| AppError::not_found(format!("nothing is stored about {id}")))?;
    Ok(axum::Json(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsQuery {
    /// Lifted holds too.
    all: Option<bool>,
}

pub async fn holds(
    State(state): State<AppState>,
    Query(q): Query<HoldsQuery>,
) -> Result<impl IntoResponse> {
    let items = state.store.holds(q.all.unwrap_or(false)).await?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    /// message | conversation | author
    scope: String,
    /// The message's or conversation's id.
    id: Option<i64>,
    /// For scope author: the person's platform id.
    platform_id: Option<String>,
    /// Why (a case number, a decision): required, shown to whoever wonders why records stay.
    reason: String,
}

#[instrument(skip_all)]
pub async fn place_hold(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewHold>,
) -> Result<impl IntoResponse> {
    // Holds are the registry's, kept and lifted centrally: a hold on a person covers them in
    // every channel, and one placed by someone without a limit must not be lifted by someone
    // with one.
    caller.require_every_channel("placing a legal hold")?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::unprocessable(
            "say why the records are held (1 to 500 characters), e.g. the case number",
        ));
    }
    let targets =
        match (body.scope.as_str(), body.id, body.platform_id.as_deref()) {
            ("author", None, Some(pid)) => {
                let pid = platform_id(pid)?;
                let ids: Vec<i64> = state
                    .store
                    .authors_by_platform_id(pid)
                    .await?
                    .into_iter()
                    .map(|a| a.id)
                    .collect();
                if ids.is_empty() {
                    return Err(AppError::not_found(format!(
                        "nothing is stored about {pid}"
                    )));
                }
                ids
            }
            ("message", Some(id), None) => {
                state
                    .store
                    .message_place(id)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("there is no message {id}")))?;
                vec![id]
            }
            ("conversation", Some(id), None) => {
                state
                    .store
                    .conversation_place(id)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
                vec![id]
            }
            _ => return Err(AppError::unprocessable(
                "give scope message or conversation with its id, or scope author with platform_id",
            )),
        };
    let ids = state
        .store
        .place_hold(&body.scope, &targets, reason, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ids": ids}))))
}

#[instrument(skip_all)]
pub async fn lift_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("lifting a legal hold")?;
    if state.store.lift_hold(id, &caller.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!(
            "there is no legal hold {id} in force"
        )))
    }
}

#[instrument(skip_all)]
pub async fn run_retention(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RunBody>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("a retention run")?;
    // A run goes on to its end even if the caller goes away (the route is also exempt from the
    // timeout): a run stopped half-way would hold the retention lease until it ran out.
    let run = tokio::spawn(async move {
        crate::privacy::retention::run(
            &state.store,
            &state.retention,
            crate::store::now_ms(),
            body.dry_run,
            &caller.actor(),
        )
        .await
    });
    match run.await.map_err(AppError::internal)? {
        Ok(report) => Ok(axum::Json(report)),
        Err(RetentionError::Busy) => Err(AppError::conflict(
            RetentionError::Busy.to_string(),
            json!({}),
        )),
        Err(RetentionError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealBody {
    /// The value's index among the message's detections (`masked[].index`).
    index: usize,
}

/// Shows one masked value of a message to someone who may read it (or answers privacy
/// requests), and records that they saw it — never the value itself.
#[instrument(skip_all)]
pub async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: RawBody,
) -> Result<impl IntoResponse> {
    let place = state
        .store
        .message_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no message {id}")))?;
    let scope = if caller.can(Capability::HandlePrivacyRequests) {
        caller.privacy_request_scope()?
    } else {
        caller.require(read_capability(&place.kind))?;
        caller.read_scope()
    };
    // The body is read after the access check, so a caller who may not read learns nothing.
    let body: RevealBody = parse_json(&body.0)?;
    // Words the scope withholds (S5 content, hidden content for non-moderators) reveal nothing.
    let text = state
        .store
        .message_text(&scope, id)
        .await?
        .unwrap_or_default();
    let (kind, value) = crate::privacy::masking::reveal(&text, body.index).ok_or_else(|| {
        AppError::not_found(format!(
            "message {id} has no masked value {}; use an index from its `masked` list",
            body.index
        ))
    })?;
    state
        .store
        .audit(
            &caller.actor(),
            "personal_data.revealed",
            Some(&format!("message:{id}")),
            json!({"index": body.index, "kind": kind}),
        )
        .await?;
    Ok(axum::Json(
        json!({"message_id": id, "index": body.index, "kind": kind, "value": value}),
    ))
}
