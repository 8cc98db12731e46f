//! Post follow-up (issue 21): `GET /api/v1/posts`, `GET /api/v1/posts/{id}`,
//! `POST|GET /api/v1/posts/refresh` (a refresh in the background and its progress),
//! `POST /api/v1/posts/{id}/notes`, `GET /api/v1/post-notes` and `PATCH|DELETE
//! /api/v1/post-notes/{id}`. For communicators and administrators, within their channel limit
//! (what lies outside it is answered 404, as if it did not exist); a note is changed only by its
//! writer or an administrator; a post's words only for a reader of comments on its channel. The
//! rules are the `posts` capability's. Campaigns and goals are in `campaigns.rs`. Each handler
//! describes itself for the API description (`Doc`, gathered in `description::typed`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, Query, RawBody};
use super::AppState;
use crate::access::Role;
use crate::described;
use crate::posts::{self, FetchConfig, PostView};
use crate::reports::ReportPeriod;
use crate::store::now_ms;
use crate::store::post_refresh::{ChannelProgress, RefreshJob};
use crate::store::posts::{EvaluationNote, FetchState, PostSummary};
use crate::store::scope::COMMENTS;

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        show,
        refresh,
        refresh_progress,
        write_note,
        notes,
        change_note,
        remove_note
    ),
    components(schemas(RefreshBody))
)]
pub struct Doc;

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

// `period`: posts published then or whose threads had comments then, with that period's
// counts; without it every post, all-time counts.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A month (2026-10) or quarter (2026Q3), Swedish time.
    #[param(pattern = r"^{blank}*2[0-9]{3}(-(0[1-9]|1[0-2])|-?[Qq][1-4]){blank}*$")]
    period: Option<String>,
    /// One channel (403 outside the caller's scope).
    channel_id: Option<i64>,
    /// time (default, newest first), questions, moderation, comments, or a figure's name (reach,
    /// impressions, engagements, reactions, shares, link_clicks, video_views).
    #[param(inline, value_type = Option<PostSort>)]
    sort: Option<String>,
    /// Posts per page; values outside 1–500 are clamped.
    #[param(default = 100)]
    limit: Option<i64>,
}

// The orders `posts::sort_posts` reads (another is 400), the figures `posts::METRICS`
// (a test below holds them together); this enum only describes them.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum PostSort {
    Time,
    Questions,
    Moderation,
    Comments,
    Reach,
    Impressions,
    Engagements,
    Reactions,
    Shares,
    LinkClicks,
    VideoViews,
}

/// The posts and each channel's last fetch.
#[derive(Serialize, ToSchema)]
struct PostList {
    /// The period asked for (its label); null without one.
    period: Option<String>,
    /// The order applied.
    sort: String,
    items: Vec<PostSummary>,
    /// How the last fetch of each channel within the caller's limit went.
    fetches: Vec<ChannelFetch>,
}

/// A channel's last fetch.
#[derive(Serialize, ToSchema)]
struct ChannelFetch {
    channel_id: i64,
    last: FetchState,
}

/// List the channels' own posts with their figures
///
/// The channels' own posts (fetched from the Graph API, and those known from comments) with
/// their latest figures and their threads' counts. With `period`, the posts published then or
/// whose threads had comments then, with that period's counts: `sort=questions` gives the posts
/// that raised the most questions, `sort=moderation` those whose threads needed moderation most
/// (cases opened and comments flagged S2 or above). `fetches` says how the last fetch of each
/// channel went. Audited (`posts.read`).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    get,
    path = "/api/v1/posts",
    operation_id = "listPosts",
    tag = "posts",
    params(ListQuery),
    responses(
        (status = 200, description = "The posts, and each channel's last fetch.", body = PostList),
        (status = 400, response = BadRequest),
    )
)]
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
        .map(|(channel_id, last)| ChannelFetch { channel_id, last })
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
    Ok(axum::Json(PostList {
        period: label,
        sort: sort.to_string(),
        items,
        fetches,
    }))
}

/// A post's follow-up
///
/// A post's figures over time (`series`) beside what its thread stirred up over all time: its
/// comments, the share triage flagged at S2 or above (`hateful_share`), the hours in which it
/// was heated by the rule of GET /api/v1/moderation/heated (`heated_hours`), the FAQ clusters
/// its questions are in (how many of its questions, how many the organisation replied to in the
/// thread, whether the cluster is marked answered), its goals judged now and the notes on its
/// evaluation. Cluster names come from questions the caller may read (`#id` otherwise).
/// Audited (`post.read`).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    get,
    path = "/api/v1/posts/{id}",
    operation_id = "getPost",
    tag = "posts",
    params(("id" = i64, Path, description = "The post's id (`id` in GET /api/v1/posts).")),
    responses(
        (status = 200, description = "The post's view.", body = PostView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such post, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(axum::Json(PostView {
        post,
        series,
        thread,
        questions,
        goals,
        notes,
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefreshRequest)]
struct RefreshBody {
    // One channel; without it every channel within the caller's limit.
    channel_id: Option<i64>,
}

/// Fetch posts and figures now
///
/// Reads each approved Facebook and Instagram channel's own posts (published up to
/// `posts_lookback_days` back) and their insights from the Graph API, in the background, with
/// the channel's page access token (the file given at registration), as the schedule does every
/// `posts_refresh_every_minutes`. Each fetch adds a measurement to every figure's time series.
/// Lists follow `paging.next`. A metric the platform refuses for a post is asked for alone and
/// left out (`partial`, with `problem` naming it); a revoked token (code 190) fails the channel
/// with what to do; rate limiting (codes 4, 17, 32, 613, HTTP 429) makes the channel wait as
/// long as the platform said (15 minutes when it did not): a refresh meanwhile skips it.
/// Insights are aggregates: nothing names a person. Answers 202 at once with the refresh and its
/// progress; follow it with GET /api/v1/posts/refresh. One refresh runs at a time however many
/// instances share the store (the scheduled one included): while one runs, it is the answer,
/// and nothing more is started (ask again when it has ended to refresh other channels). Writes
/// a `posts.refreshed` event per channel fetched; audited (`posts.refresh_started`, or
/// `posts.refresh_joined` when one was running). The body is optional.
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    post,
    path = "/api/v1/posts/refresh",
    operation_id = "refreshPosts",
    tag = "posts",
    // By reference: a body of `Option<RefreshBody>` would be described as possibly `null`, which
    // the handler refuses; the reference leaves the body optional and never null.
    request_body(
        content = ref("#/components/schemas/RefreshRequest"),
        description = "One channel (`channel_id`), or every channel in the caller's scope."
    ),
    responses(
        (status = 202, description = "The refresh started, or the one running.", body = RefreshJobView),
        (status = 400, response = BadRequest),
        (status = 409, description = "Another instance is just starting a refresh; ask again in a \
            moment.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The body has unknown fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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

/// A refresh of the channels' posts, run in the background by one instance at a time, and how
/// far it has come. Counted over the channels within the caller's channel limit (only those are
/// listed).
#[derive(Serialize, ToSchema)]
#[schema(as = RefreshJob)]
struct RefreshJobView {
    id: i64,
    #[schema(schema_with = refresh_states)]
    state: String,
    #[schema(schema_with = described::timestamp)]
    started_at: i64,
    /// Epoch ms; null while it runs.
    #[schema(required = true)]
    finished_at: Option<i64>,
    /// Who asked; null for the schedule.
    #[schema(required = true)]
    requested_by: Option<String>,
    channels_total: usize,
    channels_done: usize,
    /// Channels whose fetch failed (see each one's problem).
    channels_failed: usize,
    posts_fetched: i64,
    channels: Vec<ChannelProgress>,
}

/// A refresh's states, for the API description.
fn refresh_states() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["running", "done", "failed", "abandoned"]))
        .description(Some(
            "failed: the store refused what was fetched (tried again later); abandoned: the \
             instance running it stopped.",
        ))
        .build()
}

/// A refresh as the caller may see it: only the channels within their limit, and its progress
/// counted over those.
fn job_view(job: &RefreshJob, caller: &Caller) -> RefreshJobView {
    let channels: Vec<ChannelProgress> = job
        .channels
        .iter()
        .filter(|c| caller.may_see_channel(c.channel_id))
        .cloned()
        .collect();
    RefreshJobView {
        id: job.id,
        state: job.state.clone(),
        started_at: job.started_at,
        finished_at: job.finished_at,
        requested_by: job.requested_by.clone(),
        channels_total: channels.len(),
        channels_done: channels.iter().filter(|c| c.outcome != "pending").count(),
        channels_failed: channels.iter().filter(|c| c.outcome == "failed").count(),
        posts_fetched: channels.iter().map(|c| c.posts).sum(),
        channels,
    }
}

/// How the posts' refresh goes
///
/// The refresh running now (started on request or by the schedule, on any instance), else the
/// last one: per channel its outcome (pending until read), posts and figures fetched and what
/// went wrong, with the channels done out of all and the posts fetched so far.
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    get,
    path = "/api/v1/posts/refresh",
    operation_id = "postsRefreshProgress",
    tag = "posts",
    responses(
        (status = 200, description = "The refresh.", body = RefreshJobView),
        (status = 404, description = "No refresh has run yet.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn refresh_progress(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let job = state.store.latest_refresh_job().await?.ok_or_else(|| {
        AppError::not_found("no refresh has run yet; start one with POST /api/v1/posts/refresh")
    })?;
    Ok(axum::Json(job_view(&job, &caller)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PostNoteRequest)]
struct PostNoteBody {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    text: String,
}

/// Write a note on a post's evaluation
///
/// What worked and what to do differently, for the monthly social-media group (listed per
/// period by GET /api/v1/post-notes and on the post's view). Audited (`post.noted`, with the
/// note's id and length, not its words); a `posts.evaluation_changed` event.
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/notes",
    operation_id = "writePostNote",
    tag = "posts",
    params(("id" = i64, Path, description = "The post's id (`id` in GET /api/v1/posts).")),
    request_body(content = PostNoteBody, description = "The note's text."),
    responses(
        (status = 201, description = "Written.", body = EvaluationNote),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such post, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The text is empty or longer than 4,000 characters (after \
            trimming), or the body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn write_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    visible_post(&state, &caller, id).await?;
    let body: PostNoteBody = parse_json(&body)?;
    let text = bounded(Some(body.text), "note", NOTE_MAX_CHARS)?.ok_or_else(|| {
        AppError::unprocessable("the note is empty; write what worked and what to do differently")
    })?;
    let note = state
        .store
        .add_evaluation_note(id, &text, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(note)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotesQuery {
    /// A month (2026-10) or quarter (2026Q3), Swedish time.
    #[param(pattern = r"^{blank}*2[0-9]{3}(-(0[1-9]|1[0-2])|-?[Qq][1-4]){blank}*$")]
    period: String,
}

/// The notes written in a period.
#[derive(Serialize, ToSchema)]
struct PostNoteList {
    /// The period (its label).
    period: String,
    items: Vec<EvaluationNote>,
}

/// Notes on posts' evaluations in a period
///
/// The notes written in the period on posts within the caller's channels, oldest first. Audited
/// (`post_notes.read`).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    get,
    path = "/api/v1/post-notes",
    operation_id = "listPostNotes",
    tag = "posts",
    params(NotesQuery),
    responses(
        (status = 200, description = "The notes.", body = PostNoteList),
        (status = 400, response = BadRequest),
    )
)]
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
    Ok(axum::Json(PostNoteList {
        period: period.label(),
        items,
    }))
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteChange {
    /// The note's new words.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    text: String,
}

/// Rewrite a note on a post's evaluation
///
/// Replaces a note's words. Only its writer or an administrator may (403 for others: each note
/// is its writer's own words). Audited (`post_note.changed`, its length, never its words); a
/// `posts.evaluation_changed` event. A goal, campaign or note on a channel outside the caller's
/// channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    patch,
    path = "/api/v1/post-notes/{id}",
    operation_id = "changePostNote",
    tag = "posts",
    params(("id" = i64, Path, description = "The note's id (`id` in GET /api/v1/post-notes or a \
        post's `notes`).")),
    request_body(content = NoteChange, description = "The note's new words."),
    responses(
        (status = 200, description = "The note as changed.", body = EvaluationNote),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such note, or its post is on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The text is empty or longer than 4000 characters, or the \
            body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn change_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    own_note(&state, &caller, id).await?;
    let body: NoteChange = object_body(&body)?;
    let text = bounded(Some(body.text), "note", NOTE_MAX_CHARS)?.ok_or_else(|| {
        AppError::unprocessable("the note is empty; to take it away, remove it (DELETE)")
    })?;
    let note = state
        .store
        .change_evaluation_note(id, Some(&text), &caller.actor())
        .await?;
    Ok(axum::Json(note))
}

/// Remove a note on a post's evaluation
///
/// Removes a note. Only its writer or an administrator may (403 for others). Audited
/// (`post_note.removed`); a `posts.evaluation_changed` event. A goal, campaign or note on a
/// channel outside the caller's channel scope does not exist for them (404).
///
/// **Access:** Posts, notes and campaigns on channels outside the caller's channel scope do not
/// exist for them (404 for one named by id; left out of lists). A post's words are shown only to
/// a caller who reads comments on its channel (communicators); administrators see its figures,
/// not its text.
#[utoipa::path(
    delete,
    path = "/api/v1/post-notes/{id}",
    operation_id = "removePostNote",
    tag = "posts",
    params(("id" = i64, Path, description = "The note's id (`id` in GET /api/v1/post-notes or a \
        post's `notes`).")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such note, or its post is on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The description's orders are the ones `sort_posts` takes: the four of its own and every
    /// figure.
    #[test]
    fn the_described_orders_are_the_ones_the_list_sorts_by() {
        let schema = serde_json::to_value(<PostSort as utoipa::PartialSchema>::schema()).unwrap();
        let described: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let taken: Vec<&str> = ["time", "questions", "moderation", "comments"]
            .into_iter()
            .chain(posts::METRICS)
            .collect();
        assert_eq!(described, taken);
        for order in taken {
            assert!(posts::sort_posts(&mut [], order).is_ok(), "{order}");
        }
    }
}
