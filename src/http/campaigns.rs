//! Campaigns and goals (issue 21): `POST /api/v1/campaign-analytics` (web analytics per
//! campaign, from a CSV export), `GET|POST /api/v1/campaigns`, `POST /api/v1/goals` and the
//! changes and removals `PATCH|DELETE /api/v1/goals/{id}` and `/api/v1/campaigns/{id}`. For
//! communicators and administrators, within their channel limit (what lies outside it is
//! answered 404, as if it did not exist). The rules are the `posts` capability's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, RawBody};
use super::posts::{bounded, object_body, visible_post, NOTE_MAX_CHARS};
use super::AppState;
use crate::posts;
use crate::store::now_ms;
use crate::store::posts::{Campaign, Goal, GoalChange, NewGoal};

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
        axum::Json(json!({"imported": imported})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignBody {
    /// The campaign's name, as its UTM links name it (utm_campaign).
    name: String,
    post_ids: Vec<i64>,
}

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
        items.push(json!({"campaign": c, "goals": goals}));
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
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalBody {
    post_id: Option<i64>,
    campaign_id: Option<i64>,
    metric: String,
    target: i64,
    /// Who the goal is to reach (words from the communication plan).
    audience: Option<String>,
    /// The communication plan's own words for the goal.
    plan_text: Option<String>,
    /// The date it is judged on: YYYY-MM-DD (the end of that day, Swedish time).
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalPatch {
    metric: Option<String>,
    target: Option<i64>,
    /// null or "" clears it.
    #[serde(default, deserialize_with = "super::staff::present")]
    audience: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::staff::present")]
    plan_text: Option<Option<String>>,
    due: Option<String>,
}

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

pub async fn remove_goal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    visible_goal(&state, &caller, id).await?;
    state.store.remove_goal(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignPatch {
    name: Option<String>,
    /// Replaces the campaign's posts.
    post_ids: Option<Vec<i64>>,
}

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

pub async fn remove_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    visible_campaign(&state, &caller, id).await?;
    state.store.remove_campaign(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
