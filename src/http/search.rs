//! `GET /api/v1/search`: full-text search over the messages the caller may read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderName};
use axum::response::IntoResponse;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::{Authenticated, Caller};
use super::error::{AppError, Problem, Result};
use super::extract::Query;
use super::AppState;
use crate::access::read_capability;
use crate::model::{ConversationKind, ConversationStatus, Direction, Platform};
use crate::search::query::{parse, Filters, SortOrder, MAX_QUERY_CHARS};
use crate::search::snippet::{self, Snippet};
use crate::store::search::HitDetail;

/// The query, its filters and the page wanted. Values the handler reads as words (`platform`,
/// `kind`, `direction`, `status`, `severity`, `sort`) are refused with 400 outside their set.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query text: words, `"phrases"`, `-exclusions`. Empty or absent: every message the
    /// caller may read.
    #[param(max_length = 500, example = "parkering -avgift")]
    q: Option<String>,
    /// Only this channel id (within the caller's scope; outside it there are no hits).
    channel: Option<i64>,
    /// Only this platform.
    #[param(value_type = Option<Platform>)]
    platform: Option<String>,
    /// Only DM conversations or only comment threads; the caller needs the matching effective
    /// capability (`read_dms` or `read_comments`), else 403.
    #[param(value_type = Option<ConversationKind>)]
    kind: Option<String>,
    /// Only inbound or only outbound messages.
    #[param(value_type = Option<Direction>)]
    direction: Option<String>,
    /// Only messages in conversations with this status.
    #[param(value_type = Option<ConversationStatus>)]
    status: Option<String>,
    /// Only messages written at or after this time: a date `YYYY-MM-DD` in Swedish time
    /// (CET/CEST), an RFC 3339 time with an offset, or milliseconds since the Unix epoch (an
    /// all-digit value is always read as milliseconds). A date means midnight at its start.
    #[param(value_type = Option<PointInTime>, inline, example = "2026-11-01")]
    from: Option<String>,
    /// Only messages written at or before this time: a date `YYYY-MM-DD` in Swedish time
    /// (CET/CEST), an RFC 3339 time with an offset, or milliseconds since the Unix epoch (an
    /// all-digit value is always read as milliseconds). A date includes that whole day.
    #[param(value_type = Option<PointInTime>, inline, example = "2026-11-30")]
    to: Option<String>,
    /// Only messages by this person (tavla's person id: `author_id` of a hit, `PersonRef.id`).
    author: Option<i64>,
    /// `true`: only messages with attachments; `false`: only messages without.
    attachments: Option<bool>,
    /// Only messages that triage flagged at this level or above (`S3`: S3, S4 or S5). Messages
    /// triage did not flag are left out whenever this is given. `S0` and other values are
    /// refused (400).
    #[param(value_type = Option<SeverityFloor>, inline)]
    severity: Option<String>,
    /// `relevance` (best match first), or by the time the message was written, `newest` or
    /// `oldest` first (scores are then 0).
    #[param(value_type = Option<HitOrder>, inline)]
    sort: Option<String>,
    /// Page size; values outside 1–100 are clamped.
    #[param(default = 20)]
    limit: Option<i64>,
    /// Hits to skip; values outside 0–10,000 are clamped.
    #[param(default = 0)]
    offset: Option<i64>,
    /// Only the questions of this FAQ cluster (`id` in GET /api/v1/faq/clusters), at most
    /// 10,000 of them. The cluster's members are taken as clustering placed them: questions a
    /// communicator moved into it (POST /api/v1/faq/clusters/{id}/questions) or that count there
    /// through a merge (`merged_into`) are not included, and questions moved out of it still
    /// are. An unknown cluster gives no hits. The other filters and the caller's permissions
    /// still apply (FAQ clusters hold only comment-thread questions). A negative or non-integer
    /// value is refused (400).
    #[param(value_type = Option<ClusterId>, inline)]
    faq_cluster: Option<u64>,
    /// The person is still typing: the last word of `q` also matches words that start with it.
    /// Has no effect when `q` ends with a space or a closing quote.
    #[param(default = false)]
    typing: Option<bool>,
}

// Only described: the handler reads the word, so a wrong one gets its own 400 wording.
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
enum SeverityFloor {
    S1,
    S2,
    S3,
    S4,
    S5,
}

// Only described, as SeverityFloor.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase", default = "relevance")]
#[allow(dead_code)]
enum HitOrder {
    Relevance,
    Newest,
    Oldest,
}

/// A date, an RFC 3339 time or milliseconds, as [`parse_time`] reads them.
// Only described: the handler reads the text.
struct PointInTime;

impl utoipa::PartialSchema for PointInTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::KnownFormat;
        let text = || ObjectBuilder::new().schema_type(Type::String);
        AnyOfBuilder::new()
            .item(text().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .item(text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
            .item(text().pattern(Some("^-?[0-9]{1,18}$")))
            .into()
    }
}

impl ToSchema for PointInTime {}

/// A cluster id: any unsigned 64-bit integer.
struct ClusterId;

impl utoipa::PartialSchema for ClusterId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::MAX))
            .into()
    }
}

impl ToSchema for ClusterId {}

/// One page of search hits.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "total": 1,
    "limit": 20,
    "offset": 0,
    "items": [{
        "message": {
            "message_id": 4702, "conversation_id": 17, "channel_id": 1,
            "channel_name": "Kommunen", "platform": "facebook", "kind": "dm",
            "message_kind": "dm", "direction": "inbound", "state": "visible", "status": "open",
            "author_id": 9, "author_platform_id": "7001002003", "author_name": "Anna",
            "platform_time": 1762071300000_i64
        },
        "score": 7.31,
        "snippet": {
            "text": "Hej! Var kan jag söka parkeringstillstånd för boende?",
            "highlights": [[22, 41]],
            "html": "Hej! Var kan jag söka <mark>parkeringstillstånd</mark> för boende?"
        }
    }],
    "synonyms": []
}))]
struct SearchPage {
    /// How many messages the index matched in all, with the caller's permissions and the
    /// filters applied. Counted in the index, before the page's hits are re-checked against the
    /// store, so it may briefly include a message that a very recent change took out of reach.
    #[schema(minimum = 0)]
    total: usize,
    /// The page, in the order asked for. A hit the store no longer shows the caller (its kind,
    /// channel or visibility changed after it was indexed) is left out, so a page may be
    /// shorter than `limit` even when more follow.
    items: Vec<SearchHit>,
    /// The page size applied (after clamping to 1–100).
    #[schema(minimum = 1, maximum = 100)]
    limit: usize,
    /// The offset applied (after clamping to at most 10,000).
    #[schema(minimum = 0, maximum = 10000)]
    offset: usize,
    /// The terms of the organisation's synonym groups that the search also looked for (as
    /// written in their group), because the query held another term of their group; empty when
    /// none applied.
    synonyms: Vec<String>,
}

// One hit: the message as the store has it now, its score and its snippet.
#[derive(Serialize, ToSchema)]
struct SearchHit {
    message: HitDetail,
    /// Relevance (higher is better; comparable only within one search). 0 when sorted by time.
    score: f32,
    snippet: Snippet,
}

// The `Server-Timing` header's value, for its example. Only described: the header is written by
// `Timing::header`.
#[derive(ToSchema)]
#[schema(
    example = "auth;dur=0.300, plan;dur=0.210, index;dur=0.350, handoff;dur=0.030, store;dur=0.400, snippets;dur=0.120, json;dur=0.050, audit;dur=0.300"
)]
#[allow(dead_code)]
struct ServerTiming(String);

#[derive(OpenApi)]
#[openapi(paths(search), components(schemas(ServerTiming)))]
pub struct Doc;

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

/// Search messages
///
/// Full-text search over every message the caller may read (see Access), in pages. **Query text**
/// (`q`): all words must match; `"a phrase"` matches the words in that order; `-word` excludes
/// messages with the word; with `typing=true` the last word also matches as a prefix (search as you
/// type). At most 16 words, 16 exclusions and 4 phrases are used; the rest is ignored. An empty or
/// absent `q` matches every message (then use the filters and `sort`). Words are matched the
/// Swedish way: any form of a word finds every form of it (plural, definite, genitive, verb and
/// adjective forms, irregular ones: `förskolor` finds `förskolan`, `böcker` `boken`), English text
/// is stemmed as English; å, ä and ö are letters of their own, yet a word typed without them also
/// matches (`forskola`, ranked lower); long compounds are found by their parts (`parkering` finds
/// `parkeringstillstånd`) and a compound by its parts written apart (`busshållplats` finds
/// "hållplatsen för bussen"); a word of five letters or more also matches words one typing error
/// away (a letter missing, added, changed, or two swapped), ranked below every exact match, and
/// never a word shorter than five letters (`sopor` never matches `spor`). The organisation's
/// synonyms (GET /api/v1/search/synonyms) widen the query: a term of a group also finds the group's
/// other terms, and `synonyms` in the answer names those used. **Results**: each hit carries the
/// message's details as the store has them now and a snippet (plain text with highlight ranges, and
/// escaped HTML with `<mark>`). The index follows the event log within moments; each hit is
/// re-checked against the store before it is shown (its conversation kind, channel scope and
/// visibility), and left out when the caller may no longer see it. Other filters are applied in the
/// index only. Each search is recorded in the audit trail (`search.read`, with the query, the kinds
/// and channels searched, the total and how many hits the index found for the page; the re-check
/// may show fewer) before it is answered.
///
/// **Access:** What the search covers then follows the caller's effective capabilities: DM
/// conversations with `read_dms`, comment threads with `read_comments`; with `kind=dm` the caller
/// needs `read_dms`, with `kind=comments` `read_comments` (403 otherwise, with `missing_training`
/// when training is what is missing). Hidden, removed and deleted messages are found only by
/// callers with an effective `moderate`; everyone else finds visible messages only. Channels
/// outside the caller's channel scope are left out (a `channel` outside it gives no hits). These
/// limits are applied by the server, never taken from the query text.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    operation_id = "search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of hits.", body = SearchPage, headers(
            ("Server-Timing" = ServerTiming, description = "Where the search's time went, in milliseconds (shown by browsers' developer tools): `auth` (who the caller is and what they may do), `plan` (the query from the words typed, with near spellings and compound parts looked up in the index), `index`, `handoff` (to a worker thread and back), `store` (each hit re-read within the caller's scope; the search's audit entry is already being committed meanwhile), `snippets` (masking and highlights), `json`, `audit` (the rest of the wait until the audit entry was committed: the answer is sent only then). Durations only; nothing of the query or the results."),
        )),
        (status = 400, description = "A query parameter is unknown or has the wrong type (e.g. a negative `limit`); `platform`, `kind`, `direction`, `status`, `severity` or `sort` is outside its allowed values; `from` or `to` is not a date, an RFC 3339 time or milliseconds; or `q` is longer than 500 characters.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Search is not available right now; the rest of the service works. While the search index is rebuilt from the store (after it was found damaged or lost: the damaged one is set aside and a fresh one filled, with no one needing to act), the answer carries `Retry-After` and `rebuilding`: `{\"done\": N, \"total\": M}` messages; searches are never answered from a partly rebuilt index. Try again after Retry-After seconds.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32))),
    )
)]
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
                Some(
                    state
                        .faq
                        .members_in(&state.store, c, &curations, &moves, 10_000)
                        .await?,
                )
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
    // The entry goes to the audit trail's writer as soon as the index has answered: its commit
    // runs while the hits are re-read, masked and serialised, and the answer waits for it below.
    // `found` is the page as the index gave it; the store's re-check may show fewer.
    let audited = state.store.audit_queued(
        &caller.actor(),
        "search.read",
        None,
        json!({
            // The query may hold a personal identity number: the trail keeps it masked.
            "q": crate::text::detectors::mask(&q), "kinds": filters.kinds, "channels": filters.channels,
            "total": hits.total, "found": ids.len(),
        }),
    );
    // The store is the truth: each hit is read again within the reader's scope, in case the
    // index lags a change (a hit that was hidden since is not shown).
    let details = state.store.hit_details(&scope, &ids).await?;
    timing.phase("store");
    let shown: Vec<_> = details
        .into_iter()
        .filter(|d| filters.kinds.contains(&d.kind) && states.contains(&d.state))
        .collect();
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
            SearchHit {
                message: d,
                score,
                snippet,
            }
        })
        .collect();
    timing.phase("snippets");
    let body = serde_json::to_vec(&SearchPage {
        total: hits.total,
        items,
        limit,
        offset,
        // The organisation's synonyms the search also looked for.
        synonyms: hits.synonyms,
    })
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
