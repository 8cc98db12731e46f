//! Categories of the contact centre's questions: administrators keep the list
//! (`/api/v1/categories`), those who may answer a conversation give it categories
//! (`POST /api/v1/conversations/{id}/categories`), and the conversation view suggests the ones
//! colleagues gave conversations whose question was in the same FAQ cluster. The reports count
//! conversations per category (src/reports/workflow.rs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::conversations::readable;
use super::error::{AppError, Result};
use super::extract::{parse_json, Json, Path, RawBody};
use super::AppState;
use crate::access::answer_capability;

/// A category's name: short, one line.
const NAME_MAX_CHARS: usize = 60;
/// No conversation needs more categories than this.
const MAX_PER_CONVERSATION: usize = 10;

fn checked_name(name: &str) -> Result<String> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::unprocessable(format!(
            "a category's name has 1 to {NAME_MAX_CHARS} characters on one line (avfall, bygglov, skola)"
        )));
    }
    Ok(name.to_string())
}

pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<impl IntoResponse> {
    Ok(axum::Json(
        json!({"items": state.store.categories().await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    name: String,
}

pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewCategory>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's categories")?;
    let name = checked_name(&body.name)?;
    let category = state.store.add_category(&name, &caller.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(category))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryChange {
    name: Option<String>,
    /// Archived: kept on the conversations that have it, offered no more.
    archived: Option<bool>,
}

pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<CategoryChange>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's categories")?;
    if body.name.is_none() && body.archived.is_none() {
        return Err(AppError::unprocessable(
            "say what changes: \"name\", \"archived\" or both",
        ));
    }
    let name = body.name.as_deref().map(checked_name).transpose()?;
    let category = state
        .store
        .change_category(id, name.as_deref(), body.archived, &caller.actor())
        .await?;
    Ok(axum::Json(json!(category)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tags {
    /// The conversation's categories, all of them (an empty list takes them all away).
    categories: Vec<i64>,
}

/// Gives a conversation its categories: those who may answer it.
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: Tags = parse_json(&body)?;
    let mut ids = body.categories;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_PER_CONVERSATION {
        return Err(AppError::unprocessable(format!(
            "give a conversation at most {MAX_PER_CONVERSATION} categories: the ones its question is about"
        )));
    }
    let detail = state
        .store
        .conversation(&caller.read_scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    let cluster = super::conversations::question_cluster(&state, &detail).await?;
    let categories = state
        .store
        .set_categories(id, &ids, cluster.map(|c| c as i64), &caller.actor())
        .await?;
    Ok(axum::Json(json!({"categories": categories})))
}

/// The conversation's categories, and those suggested for it from the FAQ cluster of its
/// question (not yet given), for the conversation view.
pub(super) async fn of_conversation(
    state: &AppState,
    id: i64,
    cluster: Option<u64>,
) -> Result<(serde_json::Value, serde_json::Value)> {
    let given = state.store.categories_of(id).await?;
    let suggested = match cluster {
        Some(c) => state
            .store
            .categories_for_cluster(c as i64, 3 + given.len() as i64)
            .await?
            .into_iter()
            .filter(|s| !given.iter().any(|g| g.id == s.id))
            .take(3)
            .collect(),
        None => Vec::new(),
    };
    Ok((json!(given), json!(suggested)))
}
