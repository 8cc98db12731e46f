//! A person's request for erasure (GDPR art. 17), as far as the law allows: the archive duty
//! (arkivlagen) overrides erasure for public records still inside their period, and holds and
//! open cases keep what they cover. Everything else about the person is deleted or pseudonymised
//! as the rules say, and the report explains what was kept and why.

use serde::Serialize;

use super::rules::{due_at, OnRequest, RetentionRules};
use super::Kept;
use crate::store::audit::Actor;
use crate::store::privacy::{Disposal as Why, Dispose, RecordState};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureReport {
    pub platform_id: String,
    pub dry_run: bool,
    pub deleted: i64,
    pub pseudonymised: i64,
    /// `[message_id, "delete" | "pseudonymise"]` pairs.
    #[schema(inline)]
    pub actions: Vec<(i64, Dispose)>,
    #[schema(inline)]
    pub kept: Vec<KeptExplained>,
    /// Whether the person's author record itself went (nothing refers to it any more).
    pub author_removed: bool,
}

/// A record kept, with the reason in words.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeptExplained {
    #[serde(flatten)]
    pub kept: Kept,
    /// Erasure reports only: the reason in words.
    pub why: &'static str,
}

/// What an erasure request does to one record at `now`.
pub fn decide(rules: &RetentionRules, r: &RecordState, now: i64) -> Result<Option<Dispose>, Kept> {
    let rule = rules.for_message(&r.platform, &r.message_kind);
    let due = due_at(rule, r.resolved_at, r.case_closed_at);
    let kept = |reason| Kept {
        message_id: r.message_id,
        conversation_id: r.conversation_id,
        rule: rule.name(),
        reason,
        until: due,
    };
    if r.holds > 0 {
        return Err(kept("legal_hold"));
    }
    if r.open_cases > 0 {
        return Err(kept("open_moderation_case"));
    }
    if due.is_some_and(|d| d <= now) {
        return Ok(Some(Dispose::Delete));
    }
    if r.case_closed_at.is_some() {
        return Err(kept("moderation_record"));
    }
    match rule.on_request {
        OnRequest::Keep => Err(kept("public_record")),
        OnRequest::Delete => Ok(Some(Dispose::Delete)),
        OnRequest::Pseudonymise if r.disposal.is_some() => Ok(None),
        OnRequest::Pseudonymise => Ok(Some(Dispose::Pseudonymise)),
    }
}

/// Erases what may be erased about the person with this platform id. None: no such person.
pub async fn erase(
    store: &Store,
    rules: &RetentionRules,
    platform_id: &str,
    now: i64,
    dry_run: bool,
    actor: &Actor,
) -> Result<Option<ErasureReport>, StoreError> {
    let authors: Vec<_> = store
        .authors_by_platform_id(platform_id)
        .await?
        .into_iter()
        .filter(|a| !a.platform_id.starts_with("pseudonym:"))
        .collect();
    if authors.is_empty() {
        return Ok(None);
    }
    let mut report = ErasureReport {
        platform_id: platform_id.to_string(),
        dry_run,
        deleted: 0,
        pseudonymised: 0,
        actions: Vec::new(),
        kept: Vec::new(),
        author_removed: false,
    };
    for author in &authors {
        for record in store.author_records(author.id).await? {
            match decide(rules, &record, now) {
                Ok(Some(action)) => report.actions.push((record.message_id, action)),
                Ok(None) => {}
                Err(kept) => report.kept.push(KeptExplained {
                    why: super::explain(kept.reason),
                    kept,
                }),
            }
        }
    }
    if dry_run {
        for (_, action) in &report.actions {
            match action {
                Dispose::Delete => report.deleted += 1,
                Dispose::Pseudonymise => report.pseudonymised += 1,
            }
        }
        return Ok(Some(report));
    }
    let ids: Vec<i64> = report.actions.iter().map(|(id, _)| *id).collect();
    let kept: Vec<i64> = report.kept.iter().map(|k| k.kept.message_id).collect();
    let (deleted, pseudonymised) = store
        .dispose(
            &report.actions,
            Why {
                reason: "erasure",
                audit_action: "privacy.erased",
                audit_target: Some(format!("author:{platform_id}")),
                audit_detail: serde_json::json!({"messages": ids, "kept": kept}),
                mask: &super::masking::for_disposal,
            },
            actor,
        )
        .await?;
    report.deleted = deleted;
    report.pseudonymised = pseudonymised;
    // Under a legal hold nothing else about the person goes either (their reactions, their name).
    if !report.kept.iter().any(|k| k.kept.reason == "legal_hold") {
        let mut removed = true;
        for author in &authors {
            removed &= store.forget_author(author.id).await?;
        }
        report.author_removed = removed;
    }
    Ok(Some(report))
}
