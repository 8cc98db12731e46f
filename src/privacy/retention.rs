//! The retention job: applies `config/retention.toml` at a given moment. Idempotent (a second
//! run at the same moment finds nothing to do), audited, and written to the event log so search
//! and FAQ follow. The clock is a parameter, so tests choose it and the daily job passes the real one.

use serde::Serialize;

use super::rules::{due_at, Disposal, OtherRecords, RetentionRules, DAY_MS};
use super::Kept;
use crate::store::audit::Actor;
use crate::store::privacy::{Disposal as Why, Dispose, RecordState};
use crate::store::sweep::{OtherCounts, OtherCutoffs};
use crate::store::Store;

/// Records read per page.
const PAGE: i64 = 1000;
/// Records disposed of per transaction: each transaction holds the store's write lock, so a
/// large run leaves room for ingestion between its transactions.
const CHUNK: usize = 200;
/// Report lists are capped; counts are always whole.
const LISTED: usize = 1000;

/// What a run does (or, in a dry run, would do) to one record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Planned {
    pub message_id: i64,
    pub conversation_id: i64,
    pub rule: String,
    pub action: Dispose,
    #[schema(schema_with = crate::described::timestamp)]
    pub due_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionReport {
    #[schema(schema_with = crate::described::timestamp)]
    pub clock: i64,
    pub dry_run: bool,
    /// The stored run; null for a dry run.
    #[schema(required = true)]
    pub run_id: Option<i64>,
    pub deleted: i64,
    pub pseudonymised: i64,
    /// Records due by their rule but kept by a legal hold or an open moderation case.
    pub kept_count: i64,
    /// At most 1000 listed.
    #[schema(inline)]
    pub actions: Vec<Planned>,
    /// At most 1000 listed.
    pub kept: Vec<Kept>,
    // Described in `other_counts`.
    #[schema(schema_with = other_counts)]
    pub other: OtherCounts,
}

/// The report's `other` counts: `OtherCounts` inline, described as the report's field.
fn other_counts() -> utoipa::openapi::Schema {
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::PartialSchema;
    let RefOr::T(Schema::Object(mut object)) = OtherCounts::schema() else {
        unreachable!("the counts derive an object schema")
    };
    object.description = Some(
        "The records beside the messages deleted (in a dry run: that would be) by the [other] periods of the retention rules: reactions, quarantined deliveries (waiting or released), unrecognised deliveries, staff sessions, failed sign-ins, post follow-up's records (measurements of posts' figures that a later measurement of the same figure stands in for, web analytics rows, goals, campaigns without goals, evaluation notes), and people no record refers to any more. A dry run counts the people nothing refers to now, before the messages it would dispose of."
            .into(),
    );
    Schema::Object(object)
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("another instance is applying retention right now; try again in a minute")]
    Busy,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What the rules say about one record at `now`: nothing yet, dispose, or keep (and why).
pub fn decide(rules: &RetentionRules, r: &RecordState, now: i64) -> Option<Result<Planned, Kept>> {
    let rule = rules.for_message(&r.platform, &r.message_kind);
    let due = due_at(rule, r.resolved_at, r.case_closed_at)?;
    if due > now {
        return None;
    }
    let kept = |reason| {
        Some(Err(Kept {
            message_id: r.message_id,
            conversation_id: r.conversation_id,
            rule: rule.name(),
            reason,
            until: Some(due),
        }))
    };
    if r.holds > 0 {
        return kept("legal_hold");
    }
    if r.open_cases > 0 {
        return kept("open_moderation_case");
    }
    let action = match rule.then {
        Disposal::Delete => Dispose::Delete,
        Disposal::Pseudonymise if r.disposal.is_some() => return None,
        Disposal::Pseudonymise => Dispose::Pseudonymise,
    };
    Some(Ok(Planned {
        message_id: r.message_id,
        conversation_id: r.conversation_id,
        rule: rule.name(),
        action,
        due_at: due,
    }))
}

/// The lease under which one instance at a time applies retention.
const LEASE: &str = "retention";
/// Renewed every third of this while a run works; a stopped run lets it go within this.
const LEASE_MS: i64 = 60_000;

/// Applies the rules as they stand at `now` (epoch ms). With `dry_run` nothing is written and
/// no lease is taken: a dry run never waits for, nor holds up, a real one. A real run takes the
/// retention lease (refused with `Busy` while another instance holds it) and keeps it renewed.
pub async fn run(
    store: &Store,
    rules: &RetentionRules,
    now: i64,
    dry_run: bool,
    actor: &Actor,
) -> Result<RetentionReport, RetentionError> {
    if dry_run {
        return apply(store, rules, now, true, actor).await;
    }
    let lease = store
        .take_lease(LEASE, LEASE_MS, None)
        .await?
        .ok_or(RetentionError::Busy)?;
    under_lease(store, rules, now, actor, lease).await
}

/// A real run under a lease already taken; the lease is given back at the end, the run counted
/// as the last completed one when it succeeded.
async fn under_lease(
    store: &Store,
    rules: &RetentionRules,
    now: i64,
    actor: &Actor,
    lease: crate::store::lease::Lease,
) -> Result<RetentionReport, RetentionError> {
    let renewal = crate::store::lease::Renewal::start(store, &lease);
    let result = apply(store, rules, now, false, actor).await;
    drop(renewal);
    store.release_lease(&lease, result.is_ok()).await?;
    result
}

async fn apply(
    store: &Store,
    rules: &RetentionRules,
    now: i64,
    dry_run: bool,
    actor: &Actor,
) -> Result<RetentionReport, RetentionError> {
    let started = crate::store::now_ms();
    let mut report = RetentionReport {
        clock: now,
        dry_run,
        run_id: None,
        deleted: 0,
        pseudonymised: 0,
        kept_count: 0,
        actions: Vec::new(),
        kept: Vec::new(),
        other: OtherCounts::default(),
    };
    // Plan first, then dispose: deleting while paging would move the pages.
    let mut planned = Vec::new();
    let mut after = 0;
    loop {
        let page = store.retention_records(now, after, PAGE).await?;
        let Some(last) = page.last().map(|r| r.message_id) else {
            break;
        };
        after = last;
        for record in &page {
            match decide(rules, record, now) {
                Some(Ok(p)) => planned.push(p),
                Some(Err(k)) => {
                    report.kept_count += 1;
                    if report.kept.len() < LISTED {
                        report.kept.push(k);
                    }
                }
                None => {}
            }
        }
    }
    for p in &planned {
        match p.action {
            Dispose::Delete => report.deleted += 1,
            Dispose::Pseudonymise => report.pseudonymised += 1,
        }
    }
    if !dry_run {
        let (mut deleted, mut pseudonymised) = (0, 0);
        for chunk in planned.chunks(CHUNK) {
            let items: Vec<(i64, Dispose)> =
                chunk.iter().map(|p| (p.message_id, p.action)).collect();
            let ids: Vec<i64> = chunk.iter().map(|p| p.message_id).collect();
            let (d, p) = store
                .dispose(
                    &items,
                    Why {
                        reason: "retention",
                        audit_action: "retention.disposed",
                        audit_target: None,
                        audit_detail: serde_json::json!({"clock": now, "messages": ids}),
                        mask: &super::masking::for_disposal,
                    },
                    actor,
                )
                .await?;
            deleted += d;
            pseudonymised += p;
        }
        report.deleted = deleted;
        report.pseudonymised = pseudonymised;
    }
    // After the messages, so people whose last record just went are counted too.
    report.other = store
        .sweep_other_records(&cutoffs(&rules.other, now), dry_run)
        .await?;
    if !dry_run {
        report.run_id = Some(
            store
                .record_retention_run(
                    started,
                    now,
                    (report.deleted, report.pseudonymised, report.kept_count),
                    &report.other,
                    actor,
                )
                .await?,
        );
        tracing::info!(
            deleted = report.deleted,
            pseudonymised = report.pseudonymised,
            kept = report.kept_count,
            other = ?report.other,
            "retention applied"
        );
    }
    planned.truncate(LISTED);
    report.actions = planned;
    Ok(report)
}

/// The moments before which each kind of record beside the messages has had its period.
fn cutoffs(periods: &OtherRecords, now: i64) -> OtherCutoffs {
    let before = |days: i64| now - days * DAY_MS;
    OtherCutoffs {
        reactions: before(periods.reactions_days),
        quarantine_waiting: before(periods.quarantine_waiting_days),
        quarantine_released: before(periods.quarantine_released_days),
        unrecognised: before(periods.unrecognised_days),
        sessions: before(periods.sessions_days),
        signin_failures: before(periods.signin_failures_days),
        people: before(periods.people_days),
        post_figures: before(periods.post_figures_days),
        // Analytics count per Swedish day: rows for days before the cutoff's day have had it.
        campaign_analytics_day: crate::reports::period::local_time(before(
            periods.campaign_analytics_days,
        ))
        .format("%Y%m%d")
        .to_string()
        .parse()
        .unwrap_or(0),
        post_plans: before(periods.post_plans_days),
        post_notes: before(periods.post_notes_days),
    }
}

/// The daily job: whichever instance finds the last completed run older than `every` takes the
/// lease and applies the rules with the real clock; the others see it done (or being done) and
/// skip. Every instance looks shortly after start (`first`) and then a few times per interval,
/// so the job runs once per interval however many instances run, and goes on when one stops.
pub async fn daily(
    store: Store,
    rules: std::sync::Arc<RetentionRules>,
    first: std::time::Duration,
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let actor = Actor {
        staff_id: None,
        name: "system:retention".into(),
        address: None,
    };
    let every_ms = every.as_millis() as i64;
    let look = (every / 4).min(std::time::Duration::from_secs(900));
    let mut wait = first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = look;
        let now = crate::store::now_ms();
        // A little slack, so an instance looking just before the interval is up does not wait
        // a whole look more.
        let done_before = now - every_ms + look.as_millis() as i64 / 2;
        let outcome = match store.take_lease(LEASE, LEASE_MS, Some(done_before)).await {
            Ok(Some(lease)) => match under_lease(&store, &rules, now, &actor, lease).await {
                Ok(_) => "ran",
                Err(e) => {
                    tracing::error!(error = %e, "retention could not run; it is tried again later");
                    "failed"
                }
            },
            Ok(None) => "skipped",
            Err(e) => {
                tracing::error!(error = %e, "cannot take the retention lease; it is tried again later");
                "failed"
            }
        };
        crate::metrics::count_job("retention", outcome, &store.instance);
    }
}
