//! `GET /api/v1/audit`: the audit trail with filters, newest first. Reading it is audited too.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::Result;
use super::extract::Query;
use super::AppState;
use crate::store::audit::AuditFilter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

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
    Ok(axum::Json(
        json!({"items": items, "next_before": next_before}),
    ))
}
