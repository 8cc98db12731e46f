//! Categories of the contact centre's questions: administrators keep the list
//! (`/api/v1/categories`), those who may answer a conversation give it categories
//! (`POST /api/v1/conversations/{id}/categories`), and the conversation view suggests the ones
//! colleagues gave conversations whose question was in the same FAQ cluster. The reports count
//! conversations per category (src/reports/workflow.rs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::auth::Caller;
use super::conversations::readable;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
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

#[derive(OpenApi)]
#[openapi(paths(list, add, change, set))]
pub struct Doc;

// A category as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Category)]
pub struct CategoryView {
    id: i64,
    #[schema(max_length = 60)]
    name: String,
    /// Kept on the conversations that have it, offered no more.
    archived: bool,
}

impl From<crate::store::categories::Category> for CategoryView {
    fn from(c: crate::store::categories::Category) -> Self {
        CategoryView {
            id: c.id,
            name: c.name,
            archived: c.archived,
        }
    }
}

fn views(categories: Vec<crate::store::categories::Category>) -> Vec<CategoryView> {
    categories.into_iter().map(CategoryView::from).collect()
}

#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    items: Vec<CategoryView>,
}

/// The categories of the questions
///
/// The organisation's categories (avfall, bygglov, skola, …), archived ones too, by name. No
/// message text: names an administrator wrote.
///
/// **Access:** Any one of them is enough; the list does not depend on which.
#[utoipa::path(
    get,
    path = "/api/v1/categories",
    operation_id = "listCategories",
    tag = "conversations",
    responses(
        (status = 200, description = "The categories.", body = CategoryList),
    )
)]
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<impl IntoResponse> {
    Ok(axum::Json(CategoryList {
        items: views(state.store.categories().await?),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// 1 to 60 characters on one line, after surrounding spaces are trimmed.
    #[schema(
        pattern = r"^\s*(?:[^\s\x00-\x1f\x7f-\x9f]|[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]{0,58}[^\s\x00-\x1f\x7f-\x9f])\s*$"
    )]
    name: String,
}

/// Add a category
///
/// Adds a category to the organisation's list, audited (`category.added`). The list is the
/// organisation's, so an administrator with a channel limit may not change it (403).
#[utoipa::path(
    post,
    path = "/api/v1/categories",
    operation_id = "addCategory",
    tag = "conversations",
    request_body(content = NewCategory),
    responses(
        (status = 201, description = "Added.", body = CategoryView),
        (status = 400, response = BadRequest),
        (status = 409, description = "A category of that name exists.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The name is empty, longer than 60 characters or more than \
            one line, or the body has unknown fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewCategory>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("The organisation's categories")?;
    let name = checked_name(&body.name)?;
    let category = state.store.add_category(&name, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CategoryView::from(category)),
    ))
}

// A change to a category: its name, whether it is archived, or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChangeFields {
    /// 1 to 60 characters on one line, after surrounding spaces are trimmed.
    #[schema(
        pattern = r"^\s*(?:[^\s\x00-\x1f\x7f-\x9f]|[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]{0,58}[^\s\x00-\x1f\x7f-\x9f])\s*$"
    )]
    name: Option<String>,
    // Archived: kept on the conversations that have it, offered no more.
    archived: Option<bool>,
}

/// [`CategoryChangeFields`] and the rule across them: `name` or `archived`, at least one (the
/// handler refuses a change that changes nothing with 422).
pub struct CategoryChange;

impl PartialSchema for CategoryChange {
    fn schema() -> RefOr<Schema> {
        super::description::with_rule(
            CategoryChangeFields::schema(),
            json!({"anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {"required": ["archived"], "properties": {"archived": {"type": "boolean"}}}
            ]}),
        )
    }
}

impl ToSchema for CategoryChange {
    fn name() -> std::borrow::Cow<'static, str> {
        "CategoryChange".into()
    }
}

/// Rename or archive a category
///
/// Renames a category and/or archives it (or brings it back), audited (`category.changed`). An
/// archived category stays on the conversations that have it and is offered no more. An
/// administrator with a channel limit may not change the list (403).
#[utoipa::path(
    patch,
    path = "/api/v1/categories/{id}",
    operation_id = "changeCategory",
    tag = "conversations",
    params(("id" = i64, Path, description = "The category's id.")),
    request_body(content = CategoryChange),
    responses(
        (status = 200, description = "Changed.", body = CategoryView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such category.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another category has that name.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Nothing to change, a bad name, or unknown fields.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<CategoryChangeFields>,
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
    Ok(axum::Json(CategoryView::from(category)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CategorySelection)]
pub struct Tags {
    // The conversation's categories, all of them (an empty list takes them all away).
    #[schema(max_items = 10)]
    categories: Vec<i64>,
}

// The conversation's categories now.
#[derive(Serialize, ToSchema)]
pub struct ConversationCategories {
    categories: Vec<CategoryView>,
}

/// Give a conversation its categories
///
/// Sets the conversation's categories to exactly the ones listed (an empty list takes them all
/// away; at most 10), audited (`conversation.categorised`). New ones remember the FAQ cluster of
/// the conversation's newest question, so conversations whose question falls in the same cluster
/// are suggested them (`category_suggestions` in GET /api/v1/conversations/{id}, beside
/// `categories`). An unknown or archived category is refused (422) and nothing changes. The
/// reports count conversations per category.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/categories",
    operation_id = "categoriseConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    request_body(content = Tags),
    responses(
        (status = 200, description = "The conversation's categories now.",
            body = ConversationCategories),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "An unknown or archived category, more than 10, or unknown \
            fields.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: Tags = parse_json(&body)?;
    // Counted as given, repeats included: the description says at most 10 items.
    if body.categories.len() > MAX_PER_CONVERSATION {
        return Err(AppError::unprocessable(format!(
            "give a conversation at most {MAX_PER_CONVERSATION} categories: the ones its question is about"
        )));
    }
    let mut ids = body.categories;
    ids.sort_unstable();
    ids.dedup();
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
    Ok(axum::Json(ConversationCategories {
        categories: views(categories),
    }))
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
