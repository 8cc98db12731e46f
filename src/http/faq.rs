//! FAQ signals for communicators: the questions that come again and again, and their curation.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{Json, Path, Query};
use super::AppState;
use crate::faq::cluster::TopicSummary;
use crate::faq::signals::Building;
use crate::faq::signals::{Period, Signal};
use crate::store::faq::Curation;
use crate::store::now_ms;

#[derive(OpenApi)]
#[openapi(paths(clusters, curate, move_questions, topics))]
pub struct Doc;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignalQuery {
    /// The period counted, ending now, compared with the period of the same length before it.
    #[param(inline, value_type = Option<PeriodName>, default = "week")]
    period: Option<String>,
    /// Also list clusters a communicator dismissed.
    #[param(default = false)]
    include_dismissed: Option<bool>,
    /// At most this many clusters (after dismissed ones are left out); values outside 1–500 are
    /// clamped.
    #[param(default = 50)]
    limit: Option<usize>,
}

// The handler reads the words (a wrong one is 400); this enum only describes them.
/// A period FAQ signals count, ending now.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum PeriodName {
    Day,
    Week,
    Month,
    Quarter,
}

/// The FAQ clusters for a period.
#[derive(Serialize, ToSchema)]
#[schema(as = FaqSignalList)]
struct SignalList {
    /// Clusters with at least one question in the period or the one before (within the caller's
    /// scope), except those merged into another; dismissed ones only with
    /// `include_dismissed=true`. Pinned first, then by `people`, then by `count`, both
    /// descending.
    items: Vec<Signal>,
    /// The period counted, as asked for (`week` when absent).
    #[schema(inline, value_type = PeriodName)]
    period: String,
    /// How far placing the questions the store held without FAQ placements at start is (after
    /// a restore, an import or an upgrade; they are placed in the background in batches of
    /// `faq_placing_batch` comments, each batch stored as it goes, so a restart resumes); null
    /// when nothing is left to place. Meanwhile `items` counts only the questions placed so far.
    /// Every start looks again at the comments no placement names (remarks that are no
    /// questions among them), so a restart shows it briefly with `placed` 0.
    building: Option<Building>,
}

/// FAQ signals: recurring questions
///
/// Lists the FAQ clusters with their figures for a period ending now (`day`, `week`, `month` or
/// `quarter`: 1, 7, 30 or 91 days) against the period before it, so communicators see which
/// questions come again and again, which grow, and whether an answer helps. Clusters are derived
/// from public questions (comment threads only; direct messages never) and kept current from the
/// event log; communicators' curation (PATCH /api/v1/faq/clusters/{id}), merges and moves are
/// applied. Only questions on channels within the caller's channel scope are counted, and a
/// cluster with none in the two periods is left out. Each read is recorded in the audit trail
/// (`faq.read`, with how many clusters were shown).
#[utoipa::path(
    get,
    path = "/api/v1/faq/clusters",
    operation_id = "listFaqClusters",
    tag = "faq",
    params(SignalQuery),
    responses(
        (status = 200, description = "The clusters.", body = SignalList),
        (status = 400, description = "`period` is not `day`, `week`, `month` or `quarter`, or a \
            query parameter is unknown or has the wrong type (e.g. a negative `limit`).",
            body = Problem, content_type = "application/problem+json"),
    )
)]
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
    let (window, previous) = period.windows(now_ms());
    let mut items = state
        .faq
        .signals_counted(&state.store, window, previous, &caller.read_scope())
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
    Ok(axum::Json(SignalList {
        items,
        period: q.period.unwrap_or_else(|| "week".into()),
        building: state.faq.building(),
    }))
}

/// What to change about a cluster; absent (or null) fields stay as they are. Unknown fields are
/// refused (422). Curation is kept in the store: it survives re-clustering and restarts, and
/// follows a cluster that consolidation merges into another.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FaqCurationChange, example = json!({"name": "Avstängningen av Storgatan",
    "pinned": true, "answered_url": "saved-reply:3"}))]
pub struct CurationBody {
    /// A name for the cluster, shown as `name` instead of the label. Trimmed; at most 200
    /// characters (422 otherwise); an empty string clears it.
    #[schema(max_length = 200)]
    name: Option<String>,
    /// Pin the cluster (listed first) or unpin it.
    pinned: Option<bool>,
    /// Dismiss the cluster (left out of GET /api/v1/faq/clusters unless `include_dismissed=true`)
    /// or bring it back.
    dismissed: Option<bool>,
    /// What answers the question: a web address starting with `https://` or `http://`, or a
    /// saved reply as `saved-reply:ID` (the id in GET /api/v1/saved-replies). Trimmed; anything
    /// else is refused (422). An empty string clears it. Setting it, even to the same value,
    /// records now as the time it was answered, from which `growing_after_answer` counts. The
    /// saved reply is not looked up here; conversations suggest it (`suggested_reply`) only while
    /// it exists and is not archived.
    answered_url: Option<String>,
    /// Merge this cluster into another: from then on its questions count in that cluster and it
    /// is left out of the list. The other cluster must exist and not be this one (422
    /// otherwise); 0 undoes the merge. Chains of merges are followed (up to 8 steps); a merge
    /// into a cluster that is itself merged into this one is not refused.
    merged_into: Option<i64>,
}

/// The curation as stored now.
#[derive(Serialize, ToSchema)]
#[schema(as = FaqCurationResult)]
struct CurationResult {
    curation: Curation,
}

/// Curate a FAQ cluster
///
/// Names, pins, dismisses or marks answered a FAQ cluster, or merges it into another
/// (`merged_into`; 0 undoes it); fields left out stay as they are. The curation is stored apart
/// from the clusters, so it survives re-clustering and restarts, and follows the cluster when
/// consolidation merges it into another. A cluster marked answered by `saved-reply:ID` makes
/// conversations whose newest inbound message is one of its questions suggest that reply
/// (`suggested_reply` in GET /api/v1/conversations/{id}). The caller's channel scope does not
/// limit this route: any existing cluster can be curated, whichever channels its questions are on.
/// The body is read before the cluster is looked up. Recorded in the audit trail (`faq.curated`,
/// with the curation as stored).
#[utoipa::path(
    patch,
    path = "/api/v1/faq/clusters/{id}",
    operation_id = "curateFaqCluster",
    tag = "faq",
    params(("id" = i64, Path,
        description = "The FAQ cluster id (`id` in GET /api/v1/faq/clusters).")),
    request_body(content = CurationBody, description = "What to change."),
    responses(
        (status = 200, description = "The curation as stored now.", body = CurationResult,
            example = json!({"curation": {"cluster_id": 5, "name": "Avstängningen av Storgatan",
                "pinned": true, "dismissed": false, "answered_url": "saved-reply:3",
                "answered_at": 1762071300000_i64, "merged_into": null}})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such cluster (a negative id, or one that \
            consolidation merged away).", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`name` is longer than 200 characters; `answered_url` is \
            neither empty nor starting with `https://`, `http://` or `saved-reply:`; \
            `merged_into` names this cluster, a negative id or no existing cluster; or the body \
            has unknown fields or wrong types.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
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
    Ok(axum::Json(CurationResult { curation: c }))
}

/// The coarse level: topics that group question clusters.
/// The FAQ topics.
#[derive(Serialize, ToSchema)]
#[schema(as = FaqTopicList, example = json!({"items": [{"id": 2,
    "label": "Hur länge är Storgatan avstängd?", "top_terms": ["Storgatan", "avstängd"],
    "questions": [5, 9], "members": 23, "authors": 19, "first_ms": 1761200000000_i64,
    "last_ms": 1762071300000_i64}]}))]
struct TopicList {
    /// Largest first (most questions), then by id. Empty for staff limited to some channels (see
    /// `note`).
    items: Vec<TopicSummary>,
    /// Present only for staff limited to some channels: topics span every channel, so they get an
    /// empty list and this note pointing to GET /api/v1/faq/clusters, which honours the scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// FAQ topics
///
/// The coarse level above the clusters: topics that group related question clusters, as clustering
/// made them, over all time. Communicators' curation is not applied. Topic labels are drawn from
/// every channel, so staff limited to some channels get an empty list with a `note` pointing to
/// GET /api/v1/faq/clusters, which honours their scope. Takes no parameters. Not recorded in the
/// audit trail.
#[utoipa::path(
    get,
    path = "/api/v1/faq/topics",
    operation_id = "listFaqTopics",
    tag = "faq",
    responses(
        (status = 200, description = "The topics (possibly none).", body = TopicList),
    )
)]
pub async fn topics(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // Topic labels are drawn from every channel, so staff limited to some channels get the
    // question clusters (which honour the scope) instead.
    if caller.scope.is_some() {
        return Ok(axum::Json(TopicList {
            items: Vec::new(),
            note: Some("topics span every channel; use /api/v1/faq/clusters"),
        }));
    }
    let faq = state.faq.clone();
    let scope = caller.read_scope();
    let topics = tokio::task::spawn_blocking(move || faq.topics(&scope))
        .await
        .map_err(AppError::internal)?;
    Ok(axum::Json(TopicList {
        items: topics,
        note: None,
    }))
}

/// Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FaqMoveRequest, example = json!({"messages": [4702, 4719]}))]
pub struct MoveBody {
    /// The questions to move, as tavla message ids (`id` of a MessageView, `message_id` of a
    /// search hit). Each must be one of the clustered questions (422 otherwise, naming the first
    /// that is not); 1 to 1,000 of them.
    #[schema(min_items = 1, max_items = 1000)]
    messages: Vec<i64>,
}

/// The questions moved.
#[derive(Serialize, ToSchema)]
#[schema(as = FaqMoveResult)]
struct MoveResult {
    /// How many message ids were given (duplicates included).
    #[schema(minimum = 1)]
    moved: usize,
    /// The cluster they now count in.
    into: i64,
}

/// Move questions into a FAQ cluster (split)
///
/// Moves questions into this cluster: to split a cluster, move the questions that do not belong to
/// it into the cluster where they do, or fix where one question landed. A moved question counts in
/// this cluster from then on, whatever clustering does later (a merge of this cluster still
/// applies); moving it again replaces the earlier move. The move is applied to GET
/// /api/v1/faq/clusters; the `faq_cluster` search filter, topics and `suggested_reply` follow
/// clustering and do not see it. The caller's channel scope does not limit this route: the cluster
/// and the questions may be on any channel. The body is read before the cluster is looked up.
/// Recorded in the audit trail (`faq.questions_moved`, with the message ids).
#[utoipa::path(
    post,
    path = "/api/v1/faq/clusters/{id}/questions",
    operation_id = "moveFaqQuestions",
    tag = "faq",
    params(("id" = i64, Path, description = "The FAQ cluster to move the questions into.")),
    request_body(content = MoveBody, description = "The questions to move."),
    responses(
        (status = 200, description = "Moved.", body = MoveResult,
            example = json!({"moved": 2, "into": 7})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such cluster (a negative id, or one that \
            consolidation merged away).", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "No message id or more than 1,000 are given; a message id \
            is not one of the clustered questions (`detail` names it); or the body has unknown \
            or missing fields.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    // Placements are the store's, so any instance answers alike; a question this instance has
    // placed and listed may be a moment from the store (measured: a move right after the list
    // was refused under load).
    let placed: std::collections::HashSet<i64> = state
        .store
        .faq_placements(&body.messages)
        .await?
        .iter()
        .map(|p| p.message_id)
        .collect();
    if let Some(m) = body
        .messages
        .iter()
        .find(|m| !placed.contains(m) && !state.faq.holds_question(**m))
    {
        return Err(AppError::unprocessable(format!(
            "message {m} is not one of the clustered questions"
        )));
    }
    state
        .store
        .move_questions(&body.messages, id, &caller.actor())
        .await?;
    Ok(axum::Json(MoveResult {
        moved: body.messages.len(),
        into: id,
    }))
}

/// A cluster exists when this instance holds it (its placement may still be on its way to the
/// store) or the store has members placed in it (by another instance).
async fn cluster_exists(state: &AppState, id: i64) -> Result<bool> {
    Ok(state.faq.holds_cluster(id as u64) || state.store.faq_cluster_exists(id).await?)
}
