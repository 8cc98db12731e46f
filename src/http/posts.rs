//! Post follow-up (issue 21): `GET /api/v1/posts`, `GET /api/v1/posts/{id}`,
//! `POST|GET /api/v1/posts/refresh` (a refresh in the background and its progress),
//! `POST /api/v1/posts/{id}/notes`, `GET /api/v1/post-notes` and `PATCH|DELETE
//! /api/v1/post-notes/{id}`. For communicators and administrators, within their channel limit
//! (what lies outside it is answered 404, as if it did not exist); a note is changed only by its
//! writer or an administrator; a post's words only for a reader of comments on its channel. The
//! rules are the `posts` capability's. Campaigns and goals are in `campaigns.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{parse_json, Path, Query, RawBody};
use super::AppState;
use crate::access::Role;
use crate::posts::{self, FetchConfig};
use crate::reports::ReportPeriod;
use crate::store::now_ms;
use crate::store::post_refresh::RefreshJob;
use crate::store::scope::COMMENTS;

/// A note longer than this is refused: it is the group's talking point, not a report.
pub const NOTE_MAX_CHARS: usize = 4000;

/// Whether the caller may read the words of posts on `channel`.
fn words_for(caller: &Caller) -> impl Fn(i64) -> bool {
    let scope = caller.read_scope();
    move |channel| scope.may_read(COMMENTS, channel)
}

fn period_of(text: &str) -> Result<ReportPeriod> {
    ReportPeriod::parse(text).ok_or_else(|| {
        AppError::bad_request(format!(
            "period {:?} is not a month (2026-10) or a quarter (2026Q3)",
            text.chars().take(20).collect::<String>()
        ))
    })
}

/// The post, when it exists and lies within the caller's channels (404 otherwise, so a limited
/// caller learns nothing of other channels' posts).
pub(super) async fn visible_post(state: &AppState, caller: &Caller, id: i64) -> Result<i64> {
    match state.store.post_channel(id).await? {
        Some(channel) if caller.may_see_channel(channel) => Ok(channel),
        _ => Err(AppError::not_found(format!(
            "there is no post {id} on your channels; list them with GET /api/v1/posts"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A month (2026-10) or quarter (2026Q3): posts published then or whose threads had
    /// comments then, with that period's counts. Without it: every post, all-time counts.
    period: Option<String>,
    channel_id: Option<i64>,
    /// time (default), questions, moderation, comments, or a figure's name.
    sort: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse> {
    let (from, to, label) = match q.period.as_deref() {
        Some(text) => {
            let p = period_of(text)?;
            (p.start_ms(), p.end_ms(), Some(p.label()))
        }
        None => (i64::MIN / 4, i64::MAX / 4, None),
    };
    let channels: Option<Vec<i64>> = match (q.channel_id, &caller.scope) {
        (Some(c), _) if !caller.may_see_channel(c) => {
            return Err(AppError::forbidden(format!(
            "channel {c} is outside your channel limit; ask an administrator if your work needs it"
        )))
        }
        (Some(c), _) => Some(vec![c]),
        (None, scope) => scope.clone(),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let readable = words_for(&caller);
    // Sorting by counts looks at every post of the period, then keeps the first `limit`.
    let sort = q.sort.as_deref().unwrap_or("time");
    let mut items = state
        .store
        .post_summaries(
            channels.as_deref(),
            from,
            to,
            if sort == "time" { limit } else { 10_000 },
            &readable,
        )
        .await?;
    posts::sort_posts(&mut items, sort).map_err(AppError::bad_request)?;
    items.truncate(limit as usize);
    let fetches = state.store.fetch_states().await?;
    let fetches: Vec<_> = fetches
        .into_iter()
        .filter(|(c, _)| caller.may_see_channel(*c))
        .map(|(c, f)| json!({"channel_id": c, "last": f}))
        .collect();
    state
        .store
        .audit(
            &caller.actor(),
            "posts.read",
            None,
            json!({"period": label, "posts": items.len()}),
        )
        .await?;
    Ok(axum::Json(json!({
        "period": label,
        "sort": sort,
        "items": items,
        "fetches": fetches,
    })))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    visible_post(&state, &caller, id).await?;
    let readable = words_for(&caller);
    let post = state
        .store
        .post_summary(id, &readable)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no post {id}")))?;
    let comments = state.store.post_thread_comments(id).await?;
    let replied = state.store.post_replied_comments(id).await?;
    let thread = posts::thread_figures(&comments, state.settings.heated_min_comments.max(1));
    let questions = posts::raised_questions(
        &state.store,
        &state.faq,
        &comments,
        &replied,
        &caller.read_scope(),
    )
    .await?;
    let campaigns = state.store.campaigns().await?;
    let goals = posts::evaluate(
        &state.store,
        state.store.goals(Some(id), None).await?,
        &campaigns,
        now_ms(),
    )
    .await?;
    let notes = state
        .store
        .evaluation_notes(Some(id), i64::MIN / 4, i64::MAX / 4, None)
        .await?;
    let series = posts::series(state.store.post_series(id).await?);
    state
        .store
        .audit(
            &caller.actor(),
            "post.read",
            Some(&format!("post:{id}")),
            json!({}),
        )
        .await?;
    Ok(axum::Json(posts::PostView {
        post,
        series,
        thread,
        questions,
        goals,
        notes,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// One channel; without it every channel within the caller's limit.
    channel_id: Option<i64>,
}

pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let body: RefreshBody = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshBody::default()
    } else {
        parse_json(&body)?
    };
    let channels = match (body.channel_id, &caller.scope) {
        (Some(c), _) if !caller.may_see_channel(c) => {
            return Err(AppError::forbidden(format!(
            "channel {c} is outside your channel limit; ask an administrator if your work needs it"
        )))
        }
        (Some(c), _) => Some(vec![c]),
        (None, scope) => scope.clone(),
    };
    let config = FetchConfig::from_settings(&state.settings);
    let client = config.client().map_err(AppError::internal)?;
    let started = posts::start(
        &state.store,
        &config,
        &client,
        channels.as_deref(),
        Some(caller.staff.id),
    )
    .await?;
    let job = state.store.latest_refresh_job().await?;
    let job = match (started, job) {
        (Some(id), Some(job)) if job.id == id => job,
        (None, Some(job)) if job.state == "running" => job,
        _ => {
            return Err(AppError::conflict(
                "a refresh is starting on another instance; ask again in a moment",
                json!({}),
            ))
        }
    };
    state
        .store
        .audit(
            &caller.actor(),
            if started.is_some() {
                "posts.refresh_started"
            } else {
                "posts.refresh_joined"
            },
            Some(&format!("post_refresh:{}", job.id)),
            json!({"channel_id": body.channel_id}),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job_view(&job, &caller))))
}

/// A refresh as the caller may see it: only the channels within their limit, and its progress
/// counted over those.
fn job_view(job: &RefreshJob, caller: &Caller) -> serde_json::Value {
    let channels: Vec<&serde_json::Value> = job
        .channels
        .iter()
        .filter(|c| {
            c["channel_id"]
                .as_i64()
                .is_some_and(|id| caller.may_see_channel(id))
        })
        .collect();
    let done = channels
        .iter()
        .filter(|c| c["outcome"] != "pending")
        .count();
    let posts: i64 = channels.iter().filter_map(|c| c["posts"].as_i64()).sum();
    let failed = channels.iter().filter(|c| c["outcome"] == "failed").count();
    json!({
        "id": job.id,
        "state": job.state,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "requested_by": job.requested_by,
        "channels_total": channels.len(),
        "channels_done": done,
        "channels_failed": failed,
        "posts_fetched": posts,
        "channels": channels,
    })
}

pub async fn refresh_progress(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let job = state.store.latest_refresh_job().await?.ok_or_else(|| {
        AppError::not_found("no refresh has run yet; start one with POST /api/v1/posts/refresh")
    })?;
    Ok(axum::Json(job_view(&job, &caller)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

pub async fn write_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    visible_post(&state, &caller, id).await?;
    let body: NoteBody = parse_json(&body)?;
    let text = bounded(Some(body.text), "note", NOTE_MAX_CHARS)?.ok_or_else(|| {
        AppError::unprocessable("the note is empty; write what worked and what to do differently")
    })?;
    let note = state
        .store
        .add_evaluation_note(id, &text, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(note)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesQuery {
    period: String,
}

pub async fn notes(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<NotesQuery>,
) -> Result<impl IntoResponse> {
    let period = period_of(&q.period)?;
    let items = state
        .store
        .evaluation_notes(
            None,
            period.start_ms(),
            period.end_ms(),
            caller.scope.as_deref(),
        )
        .await?;
    state
        .store
        .audit(
            &caller.actor(),
            "post_notes.read",
            None,
            json!({"period": period.label(), "notes": items.len()}),
        )
        .await?;
    Ok(axum::Json(
        json!({"period": period.label(), "items": items}),
    ))
}

/// A text field trimmed, absent when blank, refused when longer than `max` characters.
pub(super) fn bounded(text: Option<String>, what: &str, max: usize) -> Result<Option<String>> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(t) = &text {
        let n = t.chars().count();
        if n > max {
            return Err(AppError::unprocessable(format!(
                "the {what} has {n} characters; at most {max}: shorten it"
            )));
        }
    }
    Ok(text)
}

/// A change's body: a JSON object only (serde would also read a struct from an array).
pub(super) fn object_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let value: serde_json::Value = parse_json(body)?;
    if !value.is_object() {
        return Err(AppError::unprocessable(
            "the body must be a JSON object with the fields to change",
        ));
    }
    parse_json(body)
}

/// The note, when its post is within the caller's channels (404 otherwise) and the caller wrote
/// it or is an administrator (403 otherwise: the group's notes are each writer's own words).
async fn own_note(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let missing = || {
        AppError::not_found(format!(
            "there is no note {id} on your channels; list them with GET /api/v1/post-notes"
        ))
    };
    let (note, writer) = state.store.evaluation_note(id).await?.ok_or_else(missing)?;
    visible_post(state, caller, note.post_id)
        .await
        .map_err(|_| missing())?;
    if !caller.roles.contains(Role::Admin) && writer != Some(caller.staff.id) {
        return Err(AppError::forbidden(
            "only the note's writer or an administrator may change or remove it; write a note of your own",
        ));
    }
    Ok(())
}

pub async fn change_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    own_note(&state, &caller, id).await?;
    let body: NoteBody = object_body(&body)?;
    let text = bounded(Some(body.text), "note", NOTE_MAX_CHARS)?.ok_or_else(|| {
        AppError::unprocessable("the note is empty; to take it away, remove it (DELETE)")
    })?;
    let note = state
        .store
        .change_evaluation_note(id, Some(&text), &caller.actor())
        .await?;
    Ok(axum::Json(note))
}

pub async fn remove_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    own_note(&state, &caller, id).await?;
    state
        .store
        .change_evaluation_note(id, None, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
