//! Campaigns and goals (issue 21): `POST /api/v1/campaign-analytics` (web analytics per
//! campaign, from a CSV export), `GET|POST /api/v1/campaigns`, `POST /api/v1/goals` and the
//! changes and removals `PATCH|DELETE /api/v1/goals/{id}` and `/api/v1/campaigns/{id}`. For
//! communicators and administrators, within their channel limit (what lies outside it is
//! answered 404, as if it did not exist). The rules are the `posts` capability's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, RawBody};
use super::posts::{bounded, object_body, visible_post, NOTE_MAX_CHARS};
use super::AppState;
use crate::posts;
use crate::store::now_ms;
use crate::store::posts::{Campaign, Goal, GoalChange, NewGoal};

#[derive(OpenApi)]
#[openapi(paths(
    import_analytics,
    campaigns,
    create_campaign,
    change_campaign,
    remove_campaign,
    set_goal,
    change_goal,
    remove_goal
))]
pub struct Doc;

/// What a goal may measure (`posts::GOAL_METRICS`), as a string enum; with `null` too when the
/// field may be left as it is.
fn metric_schema(nullable: bool, description: &str) -> ObjectBuilder {
    let mut names: Vec<Option<&str>> = posts::GOAL_METRICS.iter().copied().map(Some).collect();
    let kind = if nullable {
        names.push(None);
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .enum_values(Some(names))
        .description(Some(description))
}

fn goal_metric() -> utoipa::openapi::Object {
    metric_schema(
        false,
        "sessions and goal_completions come from the campaign's UTM analytics (campaigns only); \
         the others from the platform's figures (a campaign's are its posts' latest figures \
         summed).",
    )
    .build()
}

fn goal_metric_or_null() -> utoipa::openapi::Object {
    metric_schema(
        true,
        "sessions and goal_completions only on a campaign's goal (422 on a post's).",
    )
    .build()
}

/// How many rows were imported.
#[derive(Serialize, ToSchema)]
struct AnalyticsImported {
    /// The file's rows imported (a day and campaign imported before is replaced, and counted).
    imported: usize,
}

/// Import web analytics per UTM campaign
///
/// A CSV export of web analytics (`text/csv`, UTF-8): a header naming `date`, `campaign` (or
/// `utm_campaign`), `sessions` and `goal_completions` in any order and case, comma or semicolon
/// separated, then one row per day and campaign. Every row or none: with any bad line the answer
/// is 422 with `errors` ({line, problem}, the line numbers of the file) and nothing is imported.
/// A day and campaign imported before is replaced (a corrected export is imported again). Web
/// analytics span every channel, so a channel-limited caller is refused (403). Audited
/// (`campaign_analytics.imported`, with counts).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    post,
    path = "/api/v1/campaign-analytics",
    operation_id = "importCampaignAnalytics",
    tag = "posts",
    request_body(
        content = String,
        content_type = "text/csv",
        description = "The export.",
        example = json!("date,campaign,sessions,goal_completions\n2026-11-01,vinterkampanj,120,7\n")
    ),
    responses(
        (status = 201, description = "Imported.", body = AnalyticsImported),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Lines of the file are not right (`errors`, `bad_lines`); \
            nothing was imported.", body = Problem, content_type = "application/problem+json"),
    )
)]

pub async fn import_analytics(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("web analytics per campaign")?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        AppError::bad_request(
            "the export is not UTF-8 text; save it as CSV in UTF-8 and send it again",
        )
    })?;
    let rows = match posts::parse_analytics(text) {
        Ok(rows) => rows,
        Err(bad) => {
            let shown: Vec<_> = bad.iter().take(100).cloned().collect();
            return Err(AppError {
                extra: Some(json!({"errors": shown, "bad_lines": bad.len()})),
                ..AppError::unprocessable(format!(
                    "{} line(s) of the export are not right, so nothing was imported; correct them \
                     (see errors) and send the whole file again",
                    bad.len()
                ))
            });
        }
    };
    let imported = state
        .store
        .import_campaign_analytics(&rows, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AnalyticsImported { imported }),
    ))
}

// Its name and posts (described on the operation's request body).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CampaignBody {
    // The campaign's name, as its UTM links name it (utm_campaign): trimmed, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    #[schema(max_items = 500)]
    post_ids: Vec<i64>,
}

/// Create a campaign of posts
///
/// A campaign is a set of posts named as its UTM campaign (`utm_campaign`), so its goals can be
/// measured in sessions and goal completions from imported analytics, or in its posts' figures
/// summed. Every post must be within the caller's channels (404 otherwise). Audited
/// (`campaign.created`).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns",
    operation_id = "createCampaign",
    tag = "posts",
    request_body(content = inline(CampaignBody), description = "Its name and posts."),
    responses(
        (status = 201, description = "Created.", body = Campaign),
        (status = 400, response = BadRequest),
        (status = 404, description = "A post is not there, or on a channel outside the caller's \
            scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A campaign of that name exists.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The name is empty or longer than 200 characters, or more \
            than 500 posts.", body = Problem, content_type = "application/problem+json"),
    )
)]

pub async fn create_campaign(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let body: CampaignBody = parse_json(&body)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::unprocessable(
            "the campaign needs a name of 1 to 200 characters: the utm_campaign of its links",
        ));
    }
    if body.post_ids.len() > 500 {
        return Err(AppError::unprocessable(
            "a campaign may have at most 500 posts",
        ));
    }
    for post in &body.post_ids {
        visible_post(&state, &caller, *post).await?;
    }
    let campaign = state
        .store
        .add_campaign(name, &body.post_ids, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(campaign)))
}

/// The campaigns the caller sees.
#[derive(Serialize, ToSchema)]
struct CampaignList {
    items: Vec<CampaignGoals>,
}

/// A campaign with its goals judged now.
#[derive(Serialize, ToSchema)]
struct CampaignGoals {
    campaign: Campaign,
    goals: Vec<posts::EvaluatedGoal>,
}

/// Campaigns and their goals
///
/// Every campaign whose posts are all within the caller's channels, with its goals judged now.
/// Audited (`campaigns.read`).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns",
    operation_id = "listCampaigns",
    tag = "posts",
    responses(
        (status = 200, description = "The campaigns.", body = CampaignList),
        (status = 400, response = BadRequest),
    )
)]
pub async fn campaigns(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    let all = state.store.campaigns().await?;
    let visible: Vec<_> = all
        .iter()
        .filter(|c| c.channel_ids.iter().all(|ch| caller.may_see_channel(*ch)))
        .filter(|c| caller.scope.is_none() || !c.channel_ids.is_empty())
        .cloned()
        .collect();
    let mut items = Vec::new();
    for c in &visible {
        let goals = posts::evaluate(
            &state.store,
            state.store.goals(None, Some(c.id)).await?,
            &all,
            now_ms(),
        )
        .await?;
        items.push(CampaignGoals {
            campaign: c.clone(),
            goals,
        });
    }
    state
        .store
        .audit(
            &caller.actor(),
            "campaigns.read",
            None,
            json!({"campaigns": items.len()}),
        )
        .await?;
    Ok(axum::Json(CampaignList { items }))
}

/// A goal. Exactly one of `post_id` and `campaign_id`; `sessions` and `goal_completions` only on
/// a campaign (422 otherwise).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoalRequest)]
struct GoalBody {
    /// The post the goal is on; or
    post_id: Option<i64>,
    /// the campaign (exactly one of the two).
    campaign_id: Option<i64>,
    #[schema(schema_with = goal_metric)]
    metric: String,
    #[schema(minimum = 1)]
    target: i64,
    /// Who the goal is to reach.
    #[schema(max_length = 500)]
    audience: Option<String>,
    /// The communication plan's own words for the goal.
    #[schema(max_length = 4000)]
    plan_text: Option<String>,
    /// The day the goal is judged on (its end, Swedish time).
    #[schema(format = Date)]
    due: String,
}

/// The end of a Swedish calendar day, epoch ms.
fn end_of_day(text: &str) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    let midnight = day
        .succ_opt()?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp_millis();
    // Swedish time is an hour or two ahead of UTC; midnight is never inside a clock change.
    let ahead = crate::reports::period::local_time(midnight)
        .and_utc()
        .timestamp_millis()
        - midnight;
    Some(midnight - ahead)
}

/// Set a goal on a post or a campaign
///
/// A goal: the metric, the target, the day it is judged on, and who it is to reach or the
/// communication plan's words for it. Judged on the post's view and with its campaign: met once
/// the figure reaches the target, too_early until its date, not_met after. Audited
/// (`goal.set`); a `posts.evaluation_changed` event.
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    post,
    path = "/api/v1/goals",
    operation_id = "setGoal",
    tag = "posts",
    request_body(content = GoalBody, description = "The goal."),
    responses(
        (status = 201, description = "Set.", body = Goal),
        (status = 400, response = BadRequest),
        (status = 404, description = "The post or campaign is not there, or on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Neither or both of post_id and campaign_id, an unknown \
            metric, sessions on a post, a target below 1, or a due that is not YYYY-MM-DD.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_goal(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let body: GoalBody = parse_json(&body)?;
    match (body.post_id, body.campaign_id) {
        (Some(post), None) => {
            visible_post(&state, &caller, post).await?;
            if matches!(body.metric.as_str(), "sessions" | "goal_completions") {
                return Err(AppError::unprocessable(
                    "sessions and goal_completions come from a UTM campaign: set the goal on a campaign (campaign_id)",
                ));
            }
        }
        (None, Some(campaign)) => {
            let found = state.store.campaigns().await?;
            let visible = found.iter().find(|c| c.id == campaign).is_some_and(|c| {
                c.channel_ids.iter().all(|ch| caller.may_see_channel(*ch))
                    && (caller.scope.is_none() || !c.channel_ids.is_empty())
            });
            if !visible {
                return Err(AppError::not_found(format!(
                    "there is no campaign {campaign} on your channels; list them with GET /api/v1/campaigns"
                )));
            }
        }
        _ => {
            return Err(AppError::unprocessable(
                "name either a post (post_id) or a campaign (campaign_id) for the goal",
            ))
        }
    }
    if !posts::GOAL_METRICS.contains(&body.metric.as_str()) {
        return Err(AppError::unprocessable(format!(
            "metric must be one of {}",
            posts::GOAL_METRICS.join(", ")
        )));
    }
    if body.target < 1 {
        return Err(AppError::unprocessable("the target must be at least 1"));
    }
    let due_at = end_of_day(&body.due).ok_or_else(|| {
        AppError::unprocessable("due must be the date the goal is judged on, as YYYY-MM-DD")
    })?;
    let goal = NewGoal {
        post_id: body.post_id,
        campaign_id: body.campaign_id,
        metric: body.metric,
        target: body.target,
        audience: bounded(body.audience, "audience", 500)?,
        plan_text: bounded(body.plan_text, "plan text", NOTE_MAX_CHARS)?,
        due_at,
    };
    let goal = state.store.add_goal(&goal, &caller.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(goal)))
}

/// The campaign, when it exists and all its posts lie within the caller's channels (a limited
/// caller does not see a campaign without posts); 404 otherwise.
async fn visible_campaign(state: &AppState, caller: &Caller, id: i64) -> Result<Campaign> {
    state
        .store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .filter(|c| {
            c.channel_ids.iter().all(|ch| caller.may_see_channel(*ch))
                && (caller.scope.is_none() || !c.channel_ids.is_empty())
        })
        .ok_or_else(|| {
            AppError::not_found(format!(
                "there is no campaign {id} on your channels; list them with GET /api/v1/campaigns"
            ))
        })
}

/// The goal, when it exists and its post or campaign is within the caller's channels.
async fn visible_goal(state: &AppState, caller: &Caller, id: i64) -> Result<Goal> {
    let missing = || {
        AppError::not_found(format!(
            "there is no goal {id} on your channels; goals are listed with their post (GET /api/v1/posts/{{id}}) or campaign"
        ))
    };
    let goal = state.store.goal(id).await?.ok_or_else(missing)?;
    let visible = match (goal.post_id, goal.campaign_id) {
        (Some(post), _) => visible_post(state, caller, post).await.is_ok(),
        (None, Some(campaign)) => visible_campaign(state, caller, campaign).await.is_ok(),
        (None, None) => caller.scope.is_none(),
    };
    if visible {
        Ok(goal)
    } else {
        Err(missing())
    }
}

/// What to change of a goal; a field left out or null stays as it is (but null clears audience
/// and plan_text). The post or campaign it is on cannot change (remove the goal and set a new
/// one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoalChange)]
struct GoalPatch {
    #[schema(schema_with = goal_metric_or_null)]
    metric: Option<String>,
    #[schema(minimum = 1)]
    target: Option<i64>,
    /// null or empty clears it.
    #[serde(default, deserialize_with = "super::staff::present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    audience: Option<Option<String>>,
    /// null or empty clears it.
    #[serde(default, deserialize_with = "super::staff::present")]
    #[schema(value_type = Option<String>, max_length = 4000)]
    plan_text: Option<Option<String>>,
    /// The day the goal is judged on (its end, Swedish time).
    #[schema(format = Date)]
    due: Option<String>,
}

/// Change a goal
///
/// Changes a goal's metric, target, audience, plan text or date; what is left out stays. Answers
/// the goal judged anew. Audited (`goal.changed`, the fields changed, never their words); a
/// `posts.evaluation_changed` event. A goal, campaign or note on a channel outside the caller's
/// channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    patch,
    path = "/api/v1/goals/{id}",
    operation_id = "changeGoal",
    tag = "posts",
    params(("id" = i64, Path, description = "The goal's id (`id` in a post's `goals` or a \
        campaign's).")),
    request_body(content = GoalPatch, description = "What to change."),
    responses(
        (status = 200, description = "The goal as changed, judged.",
            body = posts::EvaluatedGoal),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such goal, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "An unknown metric, sessions or goal_completions on a post's \
            goal, a target below 1, a due that is not YYYY-MM-DD, a text too long, or the body \
            has unknown fields.", body = Problem, content_type = "application/problem+json"),
    )
)]

pub async fn change_goal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let goal = visible_goal(&state, &caller, id).await?;
    let body: GoalPatch = object_body(&body)?;
    if let Some(metric) = &body.metric {
        if !posts::GOAL_METRICS.contains(&metric.as_str()) {
            return Err(AppError::unprocessable(format!(
                "metric must be one of {}",
                posts::GOAL_METRICS.join(", ")
            )));
        }
        if goal.post_id.is_some() && matches!(metric.as_str(), "sessions" | "goal_completions") {
            return Err(AppError::unprocessable(
                "sessions and goal_completions come from a UTM campaign: set such a goal on a campaign",
            ));
        }
    }
    if body.target.is_some_and(|t| t < 1) {
        return Err(AppError::unprocessable("the target must be at least 1"));
    }
    let due_at = match body.due.as_deref() {
        Some(day) => Some(end_of_day(day).ok_or_else(|| {
            AppError::unprocessable("due must be the date the goal is judged on, as YYYY-MM-DD")
        })?),
        None => None,
    };
    let change = GoalChange {
        metric: body.metric,
        target: body.target,
        audience: match body.audience {
            Some(text) => Some(bounded(text, "audience", 500)?),
            None => None,
        },
        plan_text: match body.plan_text {
            Some(text) => Some(bounded(text, "plan text", NOTE_MAX_CHARS)?),
            None => None,
        },
        due_at,
    };
    let goal = state
        .store
        .change_goal(id, &change, &caller.actor())
        .await?;
    let campaigns = state.store.campaigns().await?;
    let judged = posts::evaluate(&state.store, vec![goal], &campaigns, now_ms()).await?;
    Ok(axum::Json(judged.into_iter().next().ok_or_else(|| {
        AppError::not_found(format!("there is no goal {id}"))
    })?))
}

/// Remove a goal
///
/// Removes a goal. Audited (`goal.removed`); a `posts.evaluation_changed` event. A goal, campaign
/// or note on a channel outside the caller's channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    delete,
    path = "/api/v1/goals/{id}",
    operation_id = "removeGoal",
    tag = "posts",
    params(("id" = i64, Path, description = "The goal's id (`id` in a post's `goals` or a \
        campaign's).")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such goal, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_goal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    visible_goal(&state, &caller, id).await?;
    state.store.remove_goal(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What to change of a campaign; a field left out or null stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CampaignChange)]
struct CampaignPatch {
    /// Its UTM campaign (utm_campaign).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: Option<String>,
    /// Replaces its posts; each must be within the caller's channels (404 otherwise).
    #[schema(max_items = 500)]
    post_ids: Option<Vec<i64>>,
}

/// Rename a campaign or replace its posts
///
/// Renames a campaign (its UTM campaign) or replaces its posts; what is left out stays. Audited
/// (`campaign.changed`); a `posts.evaluation_changed` event. A goal, campaign or note on a
/// channel outside the caller's channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    patch,
    path = "/api/v1/campaigns/{id}",
    operation_id = "changeCampaign",
    tag = "posts",
    params(("id" = i64, Path, description = "The campaign's id (`campaign.id` in GET \
        /api/v1/campaigns).")),
    request_body(content = CampaignPatch, description = "What to change."),
    responses(
        (status = 200, description = "The campaign as changed.", body = Campaign),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such campaign, it or a post named is on a \
            channel outside the caller's scope, or a post named is not there.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another campaign has that name.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "A name that is empty or longer than 200 characters, more \
            than 500 posts, or the body has unknown fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]

pub async fn change_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    visible_campaign(&state, &caller, id).await?;
    let body: CampaignPatch = object_body(&body)?;
    let name = body.name.as_deref().map(str::trim);
    if name.is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
        return Err(AppError::unprocessable(
            "the campaign needs a name of 1 to 200 characters: the utm_campaign of its links",
        ));
    }
    if let Some(posts) = &body.post_ids {
        if posts.len() > 500 {
            return Err(AppError::unprocessable(
                "a campaign may have at most 500 posts",
            ));
        }
        for post in posts {
            visible_post(&state, &caller, *post).await?;
        }
    }
    let campaign = state
        .store
        .change_campaign(id, name, body.post_ids.as_deref(), &caller.actor())
        .await?;
    Ok(axum::Json(campaign))
}

/// Remove a campaign with its goals
///
/// Removes a campaign and the goals set on it (they measured the campaign); its posts and the
/// imported web analytics stay. Audited (`campaign.removed`, with how many goals went); a
/// `posts.evaluation_changed` event. A goal, campaign or note on a channel outside the caller's
/// channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    delete,
    path = "/api/v1/campaigns/{id}",
    operation_id = "removeCampaign",
    tag = "posts",
    params(("id" = i64, Path, description = "The campaign's id (`campaign.id` in GET \
        /api/v1/campaigns).")),
    responses(
        (status = 204, description = "Removed, with its goals."),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such campaign, or it is on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    visible_campaign(&state, &caller, id).await?;
    state.store.remove_campaign(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
