//! `GET /api/v1/audit`: the audit trail with filters, newest first. Reading it is audited too.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::BadRequest;
use super::error::Result;
use super::extract::Query;
use super::AppState;
use crate::store::audit::{AuditEntry, AuditFilter};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries by this actor (exact match: a username, or `cli:USER`).
    actor: Option<String>,
    /// Only this action (exact match), e.g. `conversation.read` or `signin.failure`.
    action: Option<String>,
    /// Only this target (exact match), e.g. `conversation:17` or `staff:7`.
    target: Option<String>,
    /// Only entries recorded at or after this time (ms since the Unix epoch).
    from: Option<i64>,
    /// Only entries recorded at or before this time (ms since the Unix epoch).
    to: Option<i64>,
    /// Only entries with an id below this (the previous page's `next_before`).
    before: Option<i64>,
    /// Page size; values outside 1–1000 are clamped.
    #[param(default = 100)]
    limit: Option<i64>,
}

/// One page of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Matching entries, newest first.
    items: Vec<AuditEntry>,
    /// The id of the last (oldest) entry returned: pass it as `before` to get the next page.
    /// Null when the page is empty; a page shorter than `limit` is the last one.
    next_before: Option<i64>,
}

#[derive(OpenApi)]
#[openapi(paths(list))]
pub struct Doc;

/// The audit trail
///
/// Lists audit entries, newest first, filtered and in pages: every sign-in (failed ones too),
/// sign-out, session end, staff, training, token and channel change, claim, release, status
/// change, reply and retry, every moderation case opened, step taken, evidence captured and case
/// closed, every FAQ curation and move of questions, every saved reply added or changed, and
/// every read of the queue, a conversation, a search, the moderation queue, a moderation case,
/// the heated threads, the FAQ clusters, the event stream and the audit trail itself. Reading is
/// recorded too (`audit.read`, after the entries are fetched, so it appears from the next read
/// on). Page backwards with `before` = the previous page's `next_before`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "listAudit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries.", body = AuditPage),
        (status = 400, response = BadRequest),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<impl IntoResponse> {
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        target: q.target,
        from: q.from,
        to: q.to,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let items = state.store.audit_entries(&filter).await?;
    state
        .store
        .audit(
            &caller.actor(),
            "audit.read",
            None,
            json!({
                "actor": filter.actor, "action": filter.action, "target": filter.target,
            }),
        )
        .await?;
    let next_before = items.last().map(|e| e.id);
    Ok(axum::Json(AuditPage { items, next_before }))
}
