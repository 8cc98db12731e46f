//! The organisation's search synonyms: read by everyone who searches (a search's answer names
//! the synonyms it used), kept by administrators. A change applies to the next search on this
//! instance at once, and on the others when they read its event from the log; it is audited with
//! the terms before and after.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::search::synonyms::{check_terms, MAX_GROUPS};

pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<impl IntoResponse> {
    let groups = state.store.synonym_groups().await?;
    Ok(axum::Json(json!({ "items": groups })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// The group's terms, each one or more words (`sopor`, `lagen om stöd och service`).
    terms: Vec<String>,
}

fn checked(terms: &[String]) -> Result<Vec<String>> {
    if terms.len() > 4 * crate::search::synonyms::MAX_TERMS {
        return Err(AppError::unprocessable(
            "too many terms in one group; split it into groups of at most 20",
        ));
    }
    check_terms(terms).map_err(AppError::unprocessable)
}

/// The groups in use here, loaded again after a change (other instances follow the log).
async fn reload(state: &AppState) {
    crate::search::indexer::load_synonyms(&state.store, &state.search).await;
}

pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Terms>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's search synonyms")?;
    let terms = checked(&body.terms)?;
    if state.store.synonym_group_count().await? >= MAX_GROUPS as i64 {
        return Err(AppError::unprocessable(format!(
            "there are {MAX_GROUPS} synonym groups already; remove or join some first"
        )));
    }
    let id = state
        .store
        .add_synonym_group(&terms, &caller.actor())
        .await?;
    reload(&state).await;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "terms": terms})),
    ))
}

pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Terms>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's search synonyms")?;
    let terms = checked(&body.terms)?;
    if !state
        .store
        .change_synonym_group(id, &terms, &caller.actor())
        .await?
    {
        return Err(no_such_group(id));
    }
    reload(&state).await;
    Ok(axum::Json(json!({"id": id, "terms": terms})))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's search synonyms")?;
    if !state
        .store
        .remove_synonym_group(id, &caller.actor())
        .await?
    {
        return Err(no_such_group(id));
    }
    reload(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

fn no_such_group(id: i64) -> AppError {
    AppError::not_found(format!(
        "there is no synonym group {id}; GET /api/v1/search/synonyms lists them"
    ))
}
