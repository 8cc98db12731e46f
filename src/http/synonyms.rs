//! The organisation's search synonyms: read by everyone who searches (a search's answer names
//! the synonyms it used), kept by administrators. A change applies to the next search on this
//! instance at once, and on the others when they read its event from the log; it is audited with
//! the terms before and after.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::search::synonyms::{check_terms, MAX_GROUPS};
use crate::store::synonyms::SynonymGroup;

#[derive(OpenApi)]
#[openapi(paths(list, add, change, remove))]
pub struct Doc;

/// Every synonym group, oldest first.
#[derive(Serialize, ToSchema)]
#[schema(as = SynonymGroupList, example = json!({"items": [{"id": 1,
    "terms": ["sopor", "avfall", "hushållsavfall"], "updated_by": "admin",
    "updated_at": 1762071300000_i64}]}))]
struct GroupList {
    items: Vec<SynonymGroup>,
}

/// A group as added or changed.
#[derive(Serialize, ToSchema)]
#[schema(as = SynonymGroupResult)]
struct GroupResult {
    id: i64,
    /// The terms as kept (trimmed, without empty ones and repeats).
    terms: Vec<String>,
}

/// The organisation's search synonyms
///
/// A synonym group is a list of terms that mean the same to the people who write in: a search for
/// any of its terms also finds messages with the others (ranked a little below the term typed),
/// each in any of its forms and with or without å, ä and ö. A term of several words (`lagen om
/// stöd och service`) matches those words in a row of the query. Groups apply when a search is
/// made: a change takes effect at once on this instance and on other instances when they read its
/// event (`search.synonyms_changed`) from the log, within a second; the index is never rebuilt for
/// it. Lists every group, oldest first. Not recorded in the audit trail (the list holds no
/// messages).
///
/// **Access:** Any one of them is enough; the list does not depend on which.
#[utoipa::path(
    get,
    path = "/api/v1/search/synonyms",
    operation_id = "listSynonymGroups",
    tag = "search",
    responses(
        (status = 200, description = "The groups.", body = GroupList),
        (status = 400, response = BadRequest),
    )
)]
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<impl IntoResponse> {
    let groups = state.store.synonym_groups().await?;
    Ok(axum::Json(GroupList { items: groups }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SynonymTerms, example = json!({"terms": ["sopor", "avfall", "hushållsavfall"]}))]
pub struct Terms {
    /// The terms, each one to six words, as the people who write in use them. A term given twice
    /// (in any case) counts once; the group needs two different terms (422 otherwise).
    #[schema(schema_with = terms_schema)]
    terms: Vec<String>,
}

/// The terms' limits as `check_terms` applies them (after trimming and dropping repeats).
fn terms_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::{schema::Type, ArrayBuilder, ObjectBuilder};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(80))
                // "A letter or a digit" in any alphabet: no pattern says it, since validators
                // read `\w` as ASCII; a term without one is refused (422).
                .description(Some(
                    "One to six words; a term needs a letter or a digit (in any alphabet).",
                )),
        )
        .min_items(Some(2))
        .max_items(Some(crate::search::synonyms::MAX_TERMS))
        .description(Some(
            "The terms, each one to six words, as the people who write in use them. A term given \
             twice (in any case) counts once; the group needs two different terms (422 otherwise).",
        ))
        .build()
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

/// Add a synonym group
///
/// A synonym group is a list of terms that mean the same to the people who write in: a search for
/// any of its terms also finds messages with the others (ranked a little below the term typed),
/// each in any of its forms and with or without å, ä and ö. A term of several words (`lagen om
/// stöd och service`) matches those words in a row of the query. Groups apply when a search is
/// made: a change takes effect at once on this instance and on other instances when they read its
/// event (`search.synonyms_changed`) from the log, within a second; the index is never rebuilt for
/// it. Adds a group; terms are trimmed, empty ones and repeats (regardless of case) dropped.
/// Recorded in the audit trail (`synonyms.added`, with the terms).
#[utoipa::path(
    post,
    path = "/api/v1/search/synonyms",
    operation_id = "addSynonymGroup",
    tag = "search",
    request_body(content = Terms, description = "The group's terms."),
    responses(
        (status = 201, description = "Added.", body = GroupResult),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Fewer than two different terms, more than 20, a term \
            longer than 80 characters or 6 words or without letters or digits, 2,000 groups \
            already (when adding), or the body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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
    Ok((StatusCode::CREATED, axum::Json(GroupResult { id, terms })))
}

/// Change a synonym group's terms
///
/// A synonym group is a list of terms that mean the same to the people who write in: a search for
/// any of its terms also finds messages with the others (ranked a little below the term typed),
/// each in any of its forms and with or without å, ä and ö. A term of several words (`lagen om
/// stöd och service`) matches those words in a row of the query. Groups apply when a search is
/// made: a change takes effect at once on this instance and on other instances when they read its
/// event (`search.synonyms_changed`) from the log, within a second; the index is never rebuilt for
/// it. Replaces the group's terms. Recorded in the audit trail (`synonyms.changed`, with the terms
/// before and after).
#[utoipa::path(
    patch,
    path = "/api/v1/search/synonyms/{id}",
    operation_id = "changeSynonymGroup",
    tag = "search",
    params(("id" = i64, Path, description = "The synonym group id.")),
    request_body(content = Terms, description = "The group's terms."),
    responses(
        (status = 200, description = "The group as changed.", body = GroupResult),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such group.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Fewer than two different terms, more than 20, a term \
            longer than 80 characters or 6 words or without letters or digits, 2,000 groups \
            already (when adding), or the body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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
    Ok(axum::Json(GroupResult { id, terms }))
}

/// Remove a synonym group
///
/// A synonym group is a list of terms that mean the same to the people who write in: a search for
/// any of its terms also finds messages with the others (ranked a little below the term typed),
/// each in any of its forms and with or without å, ä and ö. A term of several words (`lagen om
/// stöd och service`) matches those words in a row of the query. Groups apply when a search is
/// made: a change takes effect at once on this instance and on other instances when they read its
/// event (`search.synonyms_changed`) from the log, within a second; the index is never rebuilt for
/// it. Removes the group. Recorded in the audit trail (`synonyms.removed`, with the terms it had).
#[utoipa::path(
    delete,
    path = "/api/v1/search/synonyms/{id}",
    operation_id = "removeSynonymGroup",
    tag = "search",
    params(("id" = i64, Path, description = "The synonym group id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such group.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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
