//! FAQ signals for communicators: the questions that come again and again, and their curation.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path, Query};
use super::AppState;
use crate::faq::signals::Period;
use crate::store::faq::Curation;
use crate::store::now_ms;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalQuery {
    /// day, week (default), month or quarter: the period counted, against the one before.
    period: Option<String>,
    /// Also list dismissed clusters.
    include_dismissed: Option<bool>,
    limit: Option<usize>,
}

pub async fn clusters(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SignalQuery>,
) -> Result<impl IntoResponse> {
    let period = match q.period.as_deref() {
        None => Period::Week,
        Some(p) => Period::parse(p)
            .ok_or_else(|| AppError::bad_request("period must be day, week, month or quarter"))?,
    };
    let curations = state.store.curations().await?;
    let moves: std::collections::HashMap<i64, i64> = state.store.faq_moves().await?;
    let faq = state.faq.clone();
    let scope = caller.read_scope();
    let mut items = tokio::task::spawn_blocking(move || {
        faq.signals(period, now_ms(), &scope, &curations, &moves)
    })
    .await
    .map_err(AppError::internal)?;
    if !q.include_dismissed.unwrap_or(false) {
        items.retain(|s| !s.dismissed);
    }
    items.truncate(q.limit.unwrap_or(50).clamp(1, 500));
    state
        .store
        .audit(
            &caller.actor(),
            "faq.read",
            None,
            json!({"shown": items.len()}),
        )
        .await?;
    Ok(axum::Json(
        json!({"items": items, "period": q.period.unwrap_or_else(|| "week".into()),
            "building": state.faq.building()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurationBody {
    name: Option<String>,
    pinned: Option<bool>,
    dismissed: Option<bool>,
    /// The web page or saved reply that answers the question; an empty string clears it.
    answered_url: Option<String>,
    /// Merge this cluster into another (its questions count there from now on); 0 undoes it.
    merged_into: Option<i64>,
}

pub async fn curate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<CurationBody>,
) -> Result<impl IntoResponse> {
    // Clusters span channels: curating them is for staff without a channel limit.
    if caller.scope.is_some() {
        return Err(AppError::forbidden(
            "FAQ clusters span every channel, so curating them needs an account without a channel limit; ask an administrator",
        ));
    }
    if id < 0 || !cluster_exists(&state, id).await? {
        return Err(AppError::not_found(format!("there is no FAQ cluster {id}")));
    }
    let mut c = state
        .store
        .curations()
        .await?
        .into_iter()
        .find(|c| c.cluster_id == id)
        .unwrap_or(Curation {
            cluster_id: id,
            ..Default::default()
        });
    if let Some(name) = body.name {
        let name = name.trim().to_string();
        if name.chars().count() > 200 {
            return Err(AppError::unprocessable(
                "the name is longer than 200 characters",
            ));
        }
        c.name = (!name.is_empty()).then_some(name);
    }
    if let Some(p) = body.pinned {
        c.pinned = p;
    }
    if let Some(d) = body.dismissed {
        c.dismissed = d;
    }
    if let Some(url) = body.answered_url {
        let url = url.trim().to_string();
        let allowed = ["https://", "http://", "saved-reply:"];
        if !url.is_empty() && !allowed.iter().any(|p| url.starts_with(p)) {
            return Err(AppError::unprocessable(
                "answered_url must be a web address (https://…) or saved-reply:ID",
            ));
        }
        c.answered_at = (!url.is_empty()).then(now_ms);
        c.answered_url = (!url.is_empty()).then_some(url);
    }
    if let Some(into) = body.merged_into {
        if into == 0 {
            c.merged_into = None;
        } else if into == id || into < 0 || !cluster_exists(&state, into).await? {
            return Err(AppError::unprocessable(
                "merged_into must name another existing FAQ cluster (0 undoes a merge)",
            ));
        } else {
            c.merged_into = Some(into);
        }
    }
    state.store.save_curation(&c, &caller.actor()).await?;
    Ok(axum::Json(json!({"curation": c})))
}

/// The coarse level: topics that group question clusters.
pub async fn topics(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // Topic labels are drawn from every channel, so staff limited to some channels get the
    // question clusters (which honour the scope) instead.
    if caller.scope.is_some() {
        return Ok(axum::Json(
            json!({"items": [], "note": "topics span every channel; use /api/v1/faq/clusters"}),
        ));
    }
    let faq = state.faq.clone();
    let scope = caller.read_scope();
    let topics = tokio::task::spawn_blocking(move || faq.topics(&scope))
        .await
        .map_err(AppError::internal)?;
    Ok(axum::Json(json!({"items": topics})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// Questions (message ids) to move into this cluster: a split, or a fix of one question.
    messages: Vec<i64>,
}

pub async fn move_questions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<MoveBody>,
) -> Result<impl IntoResponse> {
    // Clusters span channels: curating them is for staff without a channel limit.
    if caller.scope.is_some() {
        return Err(AppError::forbidden(
            "FAQ clusters span every channel, so curating them needs an account without a channel limit; ask an administrator",
        ));
    }
    if id < 0 || !cluster_exists(&state, id).await? {
        return Err(AppError::not_found(format!("there is no FAQ cluster {id}")));
    }
    if body.messages.is_empty() || body.messages.len() > 1000 {
        return Err(AppError::unprocessable(
            "name 1 to 1000 questions (message ids) to move",
        ));
    }
    // Placements are the store's, so any instance answers alike.
    let placed: std::collections::HashSet<i64> = state
        .store
        .faq_placements(&body.messages)
        .await?
        .iter()
        .map(|p| p.message_id)
        .collect();
    if let Some(m) = body.messages.iter().find(|m| !placed.contains(m)) {
        return Err(AppError::unprocessable(format!(
            "message {m} is not one of the clustered questions"
        )));
    }
    state
        .store
        .move_questions(&body.messages, id, &caller.actor())
        .await?;
    Ok(axum::Json(
        json!({"moved": body.messages.len(), "into": id}),
    ))
}

/// A cluster exists when this instance holds it (its placement may still be on its way to the
/// store) or the store has members placed in it (by another instance).
async fn cluster_exists(state: &AppState, id: i64) -> Result<bool> {
    Ok(state.faq.holds_cluster(id as u64) || state.store.faq_cluster_exists(id).await?)
}
