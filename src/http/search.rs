//! `GET /api/v1/search`: full-text search over the messages the caller may read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderName};
use axum::response::IntoResponse;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Authenticated, Caller};
use super::error::{AppError, Result};
use super::extract::Query;
use super::AppState;
use crate::access::read_capability;
use crate::model::{ConversationKind, ConversationStatus, Platform};
use crate::search::query::{parse, Filters, SortOrder, MAX_QUERY_CHARS};
use crate::search::snippet;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    channel: Option<i64>,
    platform: Option<String>,
    /// dm or comments
    kind: Option<String>,
    direction: Option<String>,
    status: Option<String>,
    /// From this time: RFC 3339, a date (YYYY-MM-DD, Swedish time) or milliseconds.
    from: Option<String>,
    to: Option<String>,
    author: Option<i64>,
    attachments: Option<bool>,
    /// Only messages triage flagged at this severity or above (S1..S5).
    severity: Option<String>,
    /// Only the questions of this FAQ cluster.
    faq_cluster: Option<u64>,
    /// relevance (default), newest or oldest
    sort: Option<String>,
    /// Read within 1–100 (like every page size in the API, clamped rather than refused).
    limit: Option<i64>,
    /// Read within 0–10,000.
    offset: Option<i64>,
    /// The person is still typing: the last word also matches as a prefix.
    typing: Option<bool>,
}

fn one_of(name: &str, value: Option<String>, allowed: &[&str]) -> Result<Option<String>> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(AppError::bad_request(format!(
            "{name} must be one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// RFC 3339, YYYY-MM-DD (midnight Swedish time, so "to" includes the whole day) or ms.
fn parse_time(name: &str, value: Option<String>, end_of_day: bool) -> Result<Option<i64>> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&v) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        let day = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        let local = day
            .and_hms_opt(0, 0, 0)
            .and_then(|t| {
                t.and_local_timezone(crate::text::swedish_offset(&t))
                    .single()
            })
            .map(|t| t.timestamp_millis() - i64::from(end_of_day));
        if let Some(ms) = local {
            return Ok(Some(ms));
        }
    }
    Err(AppError::bad_request(format!(
        "{name} must be a date (2026-11-01), an RFC 3339 time or milliseconds since the epoch"
    )))
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    authenticated: Option<Extension<Authenticated>>,
    Query(p): Query<SearchParams>,
) -> Result<impl IntoResponse> {
    let index = state.search.clone();
    let q = p.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::bad_request(format!(
            "the query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let scope = caller.read_scope();
    let mut kinds: Vec<String> = scope.kinds().iter().map(|k| k.to_string()).collect();
    if let Some(kind) = one_of("kind", p.kind, &ConversationKind::NAMES)? {
        caller.require(read_capability(&kind))?;
        kinds.retain(|k| *k == kind);
    }
    // Hidden, removed and deleted content is for moderators only.
    let states: Vec<String> = scope
        .readable_states()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let channels = match (scope.channels(), p.channel) {
        (Some(limit), Some(c)) => Some(if limit.contains(&c) {
            vec![c]
        } else {
            Vec::new()
        }),
        (Some(limit), None) => Some(limit.to_vec()),
        (None, Some(c)) => Some(vec![c]),
        (None, None) => None,
    };
    let filters = Filters {
        kinds,
        states: states.clone(),
        channels,
        platform: one_of("platform", p.platform, &Platform::NAMES)?,
        direction: one_of("direction", p.direction, &["inbound", "outbound"])?,
        status: one_of("status", p.status, &ConversationStatus::NAMES)?,
        author_id: p.author,
        from: parse_time("from", p.from, false)?,
        to: parse_time("to", p.to, true)?,
        attachments: p.attachments,
        min_severity: one_of("severity", p.severity, &["S1", "S2", "S3", "S4", "S5"])?,
        message_ids: match p.faq_cluster {
            Some(c) => {
                let curations = state.store.curations().await?;
                let moves = state.store.faq_moves().await?;
                Some(state.faq.members_of(c, &curations, &moves, 10_000))
            }
            None => None,
        },
    };
    let sort = match one_of("sort", p.sort, &["relevance", "newest", "oldest"])?.as_deref() {
        Some("newest") => SortOrder::Newest,
        Some("oldest") => SortOrder::Oldest,
        _ => SortOrder::Relevance,
    };
    let limit = p.limit.unwrap_or(20).clamp(1, 100) as usize;
    let offset = p.offset.unwrap_or(0).clamp(0, 10_000) as usize;
    let parsed = parse(&q, p.typing.unwrap_or(false));
    let mut timing = Timing::default();
    if let Some(Extension(Authenticated(took))) = authenticated {
        timing.took.push(("auth", took));
    }
    let hits = run(index, parsed, filters.clone(), sort, limit, offset).await?;
    // Handing the work to a blocking thread and back is the rest of this lap.
    let handing = timing.lap().saturating_sub(hits.planning + hits.searching);
    timing.took.extend([
        ("plan", hits.planning),
        ("index", hits.searching),
        ("handoff", handing),
    ]);
    let ids: Vec<i64> = hits.ids.iter().map(|(id, _)| *id).collect();
    // The store is the truth: each hit is read again within the reader's scope, in case the
    // index lags a change (a hit that was hidden since is not shown).
    let details = state.store.hit_details(&scope, &ids).await?;
    timing.phase("store");
    let shown: Vec<_> = details
        .into_iter()
        .filter(|d| filters.kinds.contains(&d.kind) && states.contains(&d.state))
        .collect();
    // The entry goes to the audit trail's writer now; its commit runs while the snippets are
    // made, and the answer waits for it below.
    let audited = state.store.audit_queued(
        &caller.actor(),
        "search.read",
        None,
        json!({
            // The query may hold a personal identity number: the trail keeps it masked.
            "q": crate::text::detectors::mask(&q), "kinds": filters.kinds, "channels": filters.channels, "shown": shown.len(),
        }),
    );
    let items: Vec<_> = shown
        .into_iter()
        .map(|d| {
            let score = hits
                .ids
                .iter()
                .find(|(id, _)| *id == d.message_id)
                .map(|(_, s)| *s)
                .unwrap_or(0.0);
            // Masked before the snippet is cut, so highlights point at the shown characters.
            let (masked, _) = crate::privacy::masking::mask(d.text.as_deref().unwrap_or(""));
            let snippet = snippet::make(&masked, &hits.highlight);
            json!({"message": d, "score": score, "snippet": snippet})
        })
        .collect();
    timing.phase("snippets");
    let body = serde_json::to_vec(&json!({
        "total": hits.total,
        "items": items,
        "limit": limit,
        "offset": offset,
        // The organisation's synonyms the search also looked for.
        "synonyms": hits.synonyms,
    }))
    .map_err(AppError::internal)?;
    timing.phase("json");
    audited.await?;
    timing.phase("audit");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (HeaderName::from_static("server-timing"), timing.header()),
        ],
        body,
    ))
}

/// Where a search's time went, for the `Server-Timing` header (browsers' developer tools show
/// it; the bench reads it): planning the query, the index, the store's re-check, masking and
/// snippets, the audit entry, the JSON.
struct Timing {
    mark: Instant,
    took: Vec<(&'static str, Duration)>,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            mark: Instant::now(),
            took: Vec::new(),
        }
    }
}

impl Timing {
    /// The time since the last lap.
    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        now - std::mem::replace(&mut self.mark, now)
    }

    /// Ends a phase: the time since the last one ended.
    fn phase(&mut self, name: &'static str) {
        let took = self.lap();
        self.took.push((name, took));
    }

    fn header(&self) -> String {
        self.took
            .iter()
            .map(|(name, d)| format!("{name};dur={:.3}", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Found {
    total: usize,
    ids: Vec<(i64, f32)>,
    highlight: snippet::Highlight,
    synonyms: Vec<String>,
    planning: Duration,
    searching: Duration,
}

/// Searching is CPU work: it runs off the async threads.
async fn run(
    index: Arc<crate::search::SearchIndex>,
    parsed: crate::search::query::Parsed,
    filters: Filters,
    sort: SortOrder,
    limit: usize,
    offset: usize,
) -> Result<Found> {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let planned = index.plan(&parsed, &filters);
        let planning = started.elapsed();
        let hits = index.run(planned.query.as_ref(), sort, limit, offset)?;
        Ok::<_, anyhow::Error>(Found {
            total: hits.total,
            ids: hits.ids,
            highlight: planned.highlight,
            synonyms: planned.synonyms,
            planning,
            searching: started.elapsed() - planning,
        })
    })
    .await
    .map_err(AppError::internal)?
    .map_err(searching_failed)
}

/// While the index is rebuilt from the store (after damage), search says so and how far it is,
/// rather than answering from a part of the index.
fn searching_failed(e: anyhow::Error) -> AppError {
    let Some(r) = e.downcast_ref::<crate::search::Rebuilding>() else {
        return AppError::internal(e);
    };
    AppError {
        extra: Some(json!({"rebuilding": {"done": r.done, "total": r.total}})),
        retry_after: Some(5),
        ..AppError::unavailable(format!(
            "the search index is being rebuilt from the store ({} of {} messages so far); \
             try again in a few seconds. Everything else works meanwhile.",
            r.done, r.total
        ))
    }
}
