//! Follow-up reports: the month's or quarter's figures per channel and kind (traffic, response and
//! resolution times, the service level), the week's busy hours, the top recurring questions,
//! moderation and heated threads — every figure beside the previous period's. Aggregates only:
//! nothing is grouped by staff member (employees' data is personal data too).
//! The period's messages are read once, in order, and counted here (see `Pass`); the rarer facts
//! come grouped from the store's SQL. Percentiles here, from the durations.

pub mod period;
pub mod post_section;
pub mod render;
pub mod workflow;

use crate::model::ConversationKind;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};

use crate::faq::signals::FaqSignals;
use crate::moderation::heat;
use crate::settings::Settings;
use crate::store::reports::{MessageFact, ReportChannel, LOOKAHEAD_MS, LOOKBACK_MS};
use crate::store::scope::ReadScope;
use crate::store::Store;
use crate::text::detectors::mask;
pub use period::{PeriodKind, ReportPeriod};

const HOUR_MS: i64 = 3_600_000;

/// The figures shown per channel and kind, in the order reports show them.
pub const METRICS: [&str; 11] = [
    "inbound",
    "replies",
    "questions",
    "answered",
    "first_response_median_seconds",
    "first_response_p90_seconds",
    "within_service_level",
    "resolved",
    "resolution_median_seconds",
    "resolution_p90_seconds",
    "waiting_on_person",
];

/// What an operator sets for reports (config/default.toml).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub dm_service_level_hours: i64,
    pub comment_service_level_hours: i64,
    pub heated_min_comments: i64,
    pub faq_top: usize,
    /// The figure the post follow-up section ranks posts by (one of `posts::METRICS`); None
    /// leaves the section out, for a reader who does not follow up posts.
    pub post_metric: Option<String>,
}

impl ReportOptions {
    pub fn from_settings(s: &Settings) -> ReportOptions {
        ReportOptions {
            dm_service_level_hours: s.service_level_hours.max(1),
            comment_service_level_hours: s.comment_service_level_hours.max(1),
            heated_min_comments: s.heated_min_comments.max(1),
            faq_top: s.report_faq_top.clamp(1, 100),
            post_metric: Some("reach".to_string()),
        }
    }

    fn service_level_ms(&self, kind: &str) -> i64 {
        let hours = if kind == "dm" {
            self.dm_service_level_hours
        } else {
            self.comment_service_level_hours
        };
        hours * HOUR_MS
    }
}

// One figure and the same figure for the period before. None: nothing to measure (a median of
// no replies), which is not the same as zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReportFigure)]
pub struct Figure {
    /// This period's figure. Counts and whole seconds are integers. null: nothing to measure (a
    /// median of no answers), which is not zero.
    #[serde(serialize_with = "number")]
    #[schema(required = true)]
    pub value: Option<f64>,
    /// The same figure for the previous period (the month or quarter before).
    #[serde(serialize_with = "number")]
    #[schema(required = true)]
    pub previous: Option<f64>,
}

/// Whole numbers as integers (counts, whole seconds), the rest as decimals.
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

impl Figure {
    pub fn counts(value: i64, previous: i64) -> Figure {
        Figure {
            value: Some(value as f64),
            previous: Some(previous as f64),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportPeriod)]
pub struct PeriodInfo {
    #[schema(examples("2026-10", "2026Q3"))]
    pub label: String,
    #[schema(inline, value_type = PeriodKindName)]
    pub kind: &'static str,
    // Epoch milliseconds; `end` is exclusive. Both are midnights in Swedish time.
    /// Midnight in Swedish time on the first day (epoch milliseconds).
    #[schema(schema_with = period_start)]
    pub start: i64,
    /// Exclusive: midnight in Swedish time on the first day after the period.
    #[schema(schema_with = period_end)]
    pub end: i64,
}

// `PeriodInfo::kind` (`ReportPeriod::kind_name`), for the description only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum PeriodKindName {
    Month,
    Quarter,
}

/// A timestamp with its own description.
fn timestamp_described(description: &str) -> utoipa::openapi::Ref {
    let mut timestamp = crate::described::timestamp();
    timestamp.description = description.into();
    timestamp
}

fn period_start() -> utoipa::openapi::Ref {
    timestamp_described("Midnight in Swedish time on the first day (epoch milliseconds).")
}

fn period_end() -> utoipa::openapi::Ref {
    timestamp_described("Exclusive: midnight in Swedish time on the first day after the period.")
}

/// A `ReportFigure` with the description of what it counts.
fn figure(description: &str) -> utoipa::openapi::Schema {
    use utoipa::ToSchema;
    utoipa::openapi::schema::AllOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(Figure::name()))
        .description(Some(description))
        .build()
        .into()
}

/// Schema functions for figures with their own descriptions (`schema_with` takes no argument).
macro_rules! figure_described {
    ($($function:ident => $description:literal),* $(,)?) => {
        $(
            fn $function() -> utoipa::openapi::Schema {
                figure($description)
            }
        )*
    };
}

figure_described!(
    cases_figure => "Cases opened in the period.",
    time_to_action_figure => "From the message's platform time to a moderator's first step \
        (automatic steps excluded).",
    police_reports_figure => "police_report steps (each carries the police's reference).",
    hidden_off_hours_figure => "Comments hidden automatically outside staffed hours.",
);

/// The figures of one channel (or the totals) and kind: each key always present.
fn channel_figures() -> utoipa::openapi::Object {
    let mut object = utoipa::openapi::ObjectBuilder::new();
    for (key, description) in FIGURE_DESCRIPTIONS {
        object = object.property(key, figure(description)).required(key);
    }
    object.build()
}

/// The keys of `ChannelFigures::figures`, described (a test holds them to `METRICS` and to what
/// `Acc::figures` puts in).
const FIGURE_DESCRIPTIONS: [(&str, &str); 11] = [
    ("inbound", "Messages from people (direct messages; or comments, visitors' posts and mentions) in the period."),
    ("replies", "Our messages in the period (replies from tavla and from the platform's own tools), except deliveries that failed."),
    ("questions", "Waits that started in the period: a visible inbound message whose previous message in the conversation is ours or absent (read up to 7 days back). Messages that follow unanswered ones continue the same wait."),
    ("answered", "Of those, the ones our reply followed (up to 7 days after the period's end)."),
    ("first_response_median_seconds", "Median time from the start of a wait to our first reply after it, over the answered waits (the mean of the two middle values for an even count)."),
    ("first_response_p90_seconds", "90th percentile of the same (nearest rank)."),
    ("within_service_level", "Share (0 to 1) of the period's waits answered within the service level (service_level_hours for direct messages, comment_service_level_hours for comments); unanswered waits count against it. null when nothing was asked."),
    ("resolved", "Conversations marked resolved in the period."),
    ("resolution_median_seconds", "Median time from the person's first message since the conversation was last resolved (up to a year back) to the resolution."),
    ("resolution_p90_seconds", "90th percentile of the same (nearest rank)."),
    ("waiting_on_person", "Conversations whose last status change before the period's end was to waiting, and whose person had not written since."),
];

/// The report's heat maps: one per kind, both always present.
fn heatmaps() -> utoipa::openapi::Object {
    use utoipa::ToSchema;
    let map = || utoipa::openapi::Ref::from_schema_name(HeatMap::name());
    utoipa::openapi::ObjectBuilder::new()
        .property("dm", map())
        .required("dm")
        .property("comments", map())
        .required("comments")
        .build()
}

/// `Report::posts`: the post section, or null.
fn post_section() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    use utoipa::ToSchema;
    OneOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(
            post_section::PostSection::name(),
        ))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Post follow-up; null for a caller who does not follow up posts (only communicators \
             and administrators do).",
        ))
        .build()
        .into()
}

/// A heat map's rows: 7 weekdays of 24 hours.
fn heat_rows() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, Object, Type};
    ArrayBuilder::new()
        .items(
            ArrayBuilder::new()
                .items(Object::with_type(Type::Integer))
                .min_items(Some(24))
                .max_items(Some(24)),
        )
        .min_items(Some(7))
        .max_items(Some(7))
        .build()
}

impl PeriodInfo {
    fn of(p: &ReportPeriod) -> PeriodInfo {
        PeriodInfo {
            label: p.label(),
            kind: p.kind_name(),
            start: p.start_ms(),
            end: p.end_ms(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportChannelFigures)]
pub struct ChannelFigures {
    /// null in totals.
    #[schema(required = true)]
    pub channel_id: Option<i64>,
    #[schema(required = true)]
    pub channel_name: Option<String>,
    #[schema(required = true)]
    pub platform: Option<String>,
    // dm or comments (comments, visitors' posts and mentions).
    #[schema(schema_with = crate::described::conversation_kind)]
    pub kind: String,
    // Described in `channel_figures`.
    #[schema(schema_with = channel_figures)]
    pub figures: BTreeMap<&'static str, Figure>,
}

/// Inbound messages per weekday (index 0 Monday … 6 Sunday) and hour (0–23), Swedish local time.
#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
#[schema(as = ReportHeatMap)]
pub struct HeatMap {
    #[schema(schema_with = heat_rows)]
    pub value: Vec<Vec<i64>>,
    #[schema(schema_with = heat_rows)]
    pub previous: Vec<Vec<i64>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportFaqItem)]
pub struct FaqFigure {
    pub cluster_id: u64,
    /// The curated name, or the most central question the caller may read, or `#id`; personal data
    /// masked.
    pub name: String,
    pub count: Figure,
    /// Distinct people who asked in the period.
    pub people: usize,
    /// count.value − count.previous
    pub change: i64,
    pub significant: bool,
    /// A communicator has linked an answer (web page or saved reply).
    pub answered: bool,
    #[schema(required = true)]
    pub answered_url: Option<String>,
    /// Questions of the cluster the caller may read (comments on channels within their scope),
    /// personal data masked; empty for callers who do not read comments.
    #[schema(max_items = 3)]
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportModeration)]
pub struct ModerationFigures {
    // The figures' descriptions are in `figure_described!` below.
    #[schema(schema_with = cases_figure)]
    pub cases: Figure,
    /// S0 … S5, each present.
    pub by_level: BTreeMap<String, Figure>,
    pub by_category: BTreeMap<String, Figure>,
    #[schema(schema_with = time_to_action_figure)]
    pub time_to_action_median_seconds: Figure,
    pub time_to_action_p90_seconds: Figure,
    #[schema(schema_with = police_reports_figure)]
    pub police_reports: Figure,
    #[schema(schema_with = hidden_off_hours_figure)]
    pub hidden_off_hours: Figure,
    pub heated_threads: Figure,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportHeatedThread)]
pub struct HeatedThread {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    #[schema(required = true)]
    pub post_platform_id: Option<String>,
    /// The post, at most 200 characters, personal data masked; null for callers who do not read
    /// comments on its channel.
    #[schema(required = true)]
    pub post_excerpt: Option<String>,
    /// The busiest heated hour: when it began, its comments, the thread's average per hour over
    /// the day before, and how many of its comments triage flagged at S2 or above.
    #[schema(schema_with = crate::described::timestamp)]
    pub peak_hour_start: i64,
    pub peak_comments: i64,
    /// The thread's average comments per hour over the 24 hours before the peak.
    pub baseline_per_hour: f64,
    /// Comments of the peak hour flagged S2 or above.
    pub peak_flagged: i64,
    pub heated_hours: i64,
    /// Inbound comments in the thread over the period.
    pub comments: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceLevel {
    pub dm_hours: i64,
    pub comment_hours: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub period: PeriodInfo,
    pub previous_period: PeriodInfo,
    #[schema(schema_with = crate::described::timestamp)]
    pub generated_at: i64,
    #[schema(inline)]
    pub service_level: ServiceLevel,
    /// The channels the figures are limited to (the caller's channel scope); null: every channel.
    #[schema(required = true)]
    pub scope: Option<Vec<i64>>,
    /// One row per channel and kind with any figure in either period.
    pub channels: Vec<ChannelFigures>,
    /// Per kind over the channels in scope (medians from all durations, not averages of channel
    /// medians).
    pub totals: Vec<ChannelFigures>,
    // Per kind: dm, comments (described in `heatmaps`).
    #[schema(schema_with = heatmaps)]
    pub heatmap: BTreeMap<String, HeatMap>,
    /// The most frequent public questions of the period (report_faq_top, default 10), dismissed
    /// clusters left out.
    pub faq: Vec<FaqFigure>,
    pub moderation: ModerationFigures,
    #[schema(max_items = 10)]
    pub heated: Vec<HeatedThread>,
    /// Handovers per unit in the period beside the period before, within the reader's channel
    /// limit, the most first; `name` null for handovers to a colleague without a unit.
    #[schema(inline)]
    pub handovers: Vec<workflow::Counted>,
    /// Conversations begun in the period per category beside the period before, within the reader's
    /// channel limit, the most first.
    #[schema(inline)]
    pub categories: Vec<workflow::Counted>,
    // Described in `post_section`.
    #[schema(required = true, schema_with = post_section)]
    pub posts: Option<post_section::PostSection>,
}

/// dm stays dm; comments, visitors' posts and mentions (and their threads) are comments.
fn conversation_kind(kind: &str) -> &'static str {
    if kind == "dm" {
        "dm"
    } else {
        "comments"
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

/// The nearest-rank percentile: the smallest value with at least p of the values at or below it.
pub fn percentile(sorted: &[i64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1] as f64)
}

fn seconds(ms: Option<f64>) -> Option<f64> {
    ms.map(|v| v / 1000.0)
}

type Key = (Option<i64>, &'static str);

/// One period's raw figures per (channel or None for the totals, kind).
#[derive(Default)]
struct Acc {
    inbound: i64,
    replies: i64,
    questions: i64,
    within: i64,
    responses: Vec<i64>,
    resolutions: Vec<i64>,
    waiting: i64,
}

impl Acc {
    /// Adds a channel's figures into the totals.
    fn add(&mut self, other: &Acc) {
        self.inbound += other.inbound;
        self.replies += other.replies;
        self.questions += other.questions;
        self.within += other.within;
        self.responses.extend_from_slice(&other.responses);
        self.resolutions.extend_from_slice(&other.resolutions);
        self.waiting += other.waiting;
    }

    fn figures(&mut self) -> BTreeMap<&'static str, Option<f64>> {
        self.responses.sort_unstable();
        self.resolutions.sort_unstable();
        let count = |n: i64| Some(n as f64);
        BTreeMap::from([
            ("inbound", count(self.inbound)),
            ("replies", count(self.replies)),
            ("questions", count(self.questions)),
            ("answered", count(self.responses.len() as i64)),
            (
                "first_response_median_seconds",
                seconds(median(&self.responses)),
            ),
            (
                "first_response_p90_seconds",
                seconds(percentile(&self.responses, 0.9)),
            ),
            (
                "within_service_level",
                (self.questions > 0).then(|| self.within as f64 / self.questions as f64),
            ),
            ("resolved", count(self.resolutions.len() as i64)),
            (
                "resolution_median_seconds",
                seconds(median(&self.resolutions)),
            ),
            (
                "resolution_p90_seconds",
                seconds(percentile(&self.resolutions, 0.9)),
            ),
            ("waiting_on_person", count(self.waiting)),
        ])
    }
}

struct Side {
    /// The pass's figures per conversation: whether it is a DM conversation, and its figures.
    conversations: FxHashMap<i64, Thread>,
    /// Figures known per channel already (resolutions, waiting on the person).
    acc: HashMap<Key, Acc>,
    heat: BTreeMap<String, Vec<Vec<i64>>>,
    cases: Vec<crate::store::reports::CaseFacts>,
    heated: Vec<HeatedThread>,
}

async fn side(
    store: &Store,
    period: &ReportPeriod,
    scope: &ReadScope,
    options: &ReportOptions,
    channels: &[ReportChannel],
) -> crate::store::Result<Side> {
    let limit = scope.channels();
    let (start, end) = (period.start_ms(), period.end_ms());
    // The busy hours and the waits look back before the period; the pass reads from the
    // earlier of the two (the wait's week is the longer).
    let base = start - 24 * HOUR_MS;
    let from = start - LOOKBACK_MS;
    let to = end + LOOKAHEAD_MS;
    let mut pass = Pass::new(start, end, base, options);
    let (read, flagged, resolutions, waiting, cases) = tokio::join!(
        store.report_messages(from, to, limit, |m| pass.see(m)),
        store.report_flagged(base, end, limit),
        store.report_resolutions(start, end, limit),
        store.report_waiting(end, limit),
        store.report_cases(start, end, limit),
    );
    read?;
    let Pass {
        conversations,
        heat_hours,
        mut threads,
        ..
    } = pass;
    let mut acc: HashMap<Key, Acc> = HashMap::new();
    for (conversation, hour, n) in flagged? {
        if let Some(cell) = threads
            .get_mut(&conversation)
            .and_then(|hours| hours.get_mut(&hour))
        {
            cell.1 += n;
        }
    }
    let mut both = |channel: i64, kind: &'static str, f: &mut dyn FnMut(&mut Acc)| {
        f(acc.entry((Some(channel), kind)).or_default());
        f(acc.entry((None, kind)).or_default());
    };
    for r in resolutions? {
        let kind = conversation_kind(&r.conversation_kind);
        let took = (r.resolved_at - r.asked_at).max(0);
        both(r.channel_id, kind, &mut |a| a.resolutions.push(took));
    }
    for w in waiting? {
        let kind = conversation_kind(&w.conversation_kind);
        both(w.channel_id, kind, &mut |a| a.waiting += w.count);
    }
    let mut heat: BTreeMap<String, Vec<Vec<i64>>> = BTreeMap::new();
    for (hour, counts) in heat_hours.iter().enumerate() {
        for (kind, count) in ConversationKind::NAMES.into_iter().zip(counts) {
            if *count > 0 {
                let (day, hour) = period::week_cell(start + hour as i64 * HOUR_MS);
                heat.entry(kind.to_string())
                    .or_insert_with(|| vec![vec![0; 24]; 7])[day][hour] += count;
            }
        }
    }
    let heated = heated_threads(store, scope, base, &threads, options, channels).await?;
    Ok(Side {
        conversations,
        acc,
        heat,
        cases: cases?,
        heated,
    })
}

/// Where a conversation stands as the pass reads its messages in order, and its figures.
#[derive(Default)]
struct Thread {
    dm: bool,
    /// The direction of its last message read (None: none read yet).
    last_inbound: Option<bool>,
    /// When the question that started the wait now running was asked.
    waiting_since: Option<i64>,
    acc: Acc,
}

/// One ordered pass over a period's messages (and the week around it): traffic per conversation,
/// the heat map, every wait with its first answer, and comments per thread and hour. It runs
/// once per message of the quarter, so it keeps to cheap steps: one lookup in a map with a fast
/// hasher, hours in a flat array; conversations are summed into channels once, at the end.
struct Pass<'a> {
    start: i64,
    end: i64,
    /// Busy hours are counted from here: the day before the period, for each hour's baseline.
    base: i64,
    options: &'a ReportOptions,
    /// Inbound messages per hour of the period (from `start`): direct messages, comments.
    heat_hours: Vec<[i64; 2]>,
    conversations: FxHashMap<i64, Thread>,
    /// Inbound comments (and how many were flagged S2+) per thread and hour from `base`.
    threads: HashMap<i64, BTreeMap<i64, (i64, i64)>>,
}

impl<'a> Pass<'a> {
    fn new(start: i64, end: i64, base: i64, options: &'a ReportOptions) -> Pass<'a> {
        Pass {
            start,
            end,
            base,
            options,
            heat_hours: vec![[0; 2]; ((end - start) / HOUR_MS + 1) as usize],
            conversations: FxHashMap::default(),
            threads: HashMap::new(),
        }
    }

    fn see(&mut self, m: MessageFact) {
        // A reply that failed to deliver never reached anyone: it neither counts nor answers.
        if m.failed {
            return;
        }
        let in_period = m.at >= self.start && m.at < self.end;
        if m.inbound && !m.dm && m.at >= self.base && m.at < self.end {
            let hour = (m.at - self.base) / HOUR_MS;
            // The flagged among them are added after the pass (`report_flagged`).
            self.threads
                .entry(m.conversation_id)
                .or_default()
                .entry(hour)
                .or_default()
                .0 += 1;
        }
        if in_period && m.inbound {
            let hour = ((m.at - self.start) / HOUR_MS) as usize;
            self.heat_hours[hour][usize::from(!m.dm)] += 1;
        }
        let thread = self.conversations.entry(m.conversation_id).or_default();
        thread.dm = m.dm;
        if in_period {
            if m.inbound {
                thread.acc.inbound += 1;
            } else {
                thread.acc.replies += 1;
            }
        }
        // A wait starts with a visible question asked in the period whose previous message in
        // the conversation is ours (or that has none in the week before); a hidden or removed
        // comment awaits no answer. Our first reply after it, up to a week past the period,
        // ends it.
        let previous_inbound = thread.last_inbound.replace(m.inbound);
        if !m.inbound {
            if let Some(asked_at) = thread.waiting_since.take() {
                let took = (m.at - asked_at).max(0);
                let kind = kind_name(m.dm);
                thread.acc.responses.push(took);
                thread.acc.within += i64::from(took <= self.options.service_level_ms(kind));
            }
        } else if m.visible && in_period && previous_inbound != Some(true) {
            thread.waiting_since = Some(m.at);
            thread.acc.questions += 1;
        }
    }
}

/// Sums each conversation's figures into its channel's and the totals.
fn by_channel(side: &mut Side, channel_of: &FxHashMap<i64, i64>) {
    for (conversation, thread) in side.conversations.drain() {
        let Some(&channel) = channel_of.get(&conversation) else {
            continue;
        };
        let kind = kind_name(thread.dm);
        side.acc.entry((None, kind)).or_default().add(&thread.acc);
        side.acc
            .entry((Some(channel), kind))
            .or_default()
            .add(&thread.acc);
    }
}

/// Threads that caught fire in the period: the rule of `GET /api/v1/moderation/heated`
/// (`moderation::heat::is_heated`) applied to every hour. `threads` holds each thread's comments
/// and flagged comments per hour counted from `base`, the day before the period.
async fn heated_threads(
    store: &Store,
    scope: &ReadScope,
    base: i64,
    threads: &HashMap<i64, BTreeMap<i64, (i64, i64)>>,
    options: &ReportOptions,
    channels: &[ReportChannel],
) -> crate::store::Result<Vec<HeatedThread>> {
    struct Heat {
        heated_hours: i64,
        peak: (i64, i64, f64, i64),
        comments: i64,
    }
    let mut found: BTreeMap<i64, Heat> = BTreeMap::new();
    for (&conversation, hours) in threads {
        for (&hour, &(count, flagged)) in hours.range(24..) {
            let day_before: i64 = hours.range(hour - 24..hour).map(|(_, n)| n.0).sum();
            if !heat::is_heated(count, flagged, day_before, options.heated_min_comments) {
                continue;
            }
            let baseline = heat::baseline_per_hour(day_before);
            let e = found.entry(conversation).or_insert_with(|| Heat {
                heated_hours: 0,
                peak: (hour, 0, baseline, 0),
                comments: hours.range(24..).map(|(_, n)| n.0).sum(),
            });
            e.heated_hours += 1;
            if count > e.peak.1 || (count == e.peak.1 && hour < e.peak.0) {
                e.peak = (hour, count, baseline, flagged);
            }
        }
    }
    let ids: Vec<i64> = found.keys().copied().collect();
    let infos = store.report_threads(scope, &ids).await?;
    let mut out: Vec<HeatedThread> = infos
        .into_iter()
        .filter_map(|info| {
            let heat = found.get(&info.conversation_id)?;
            let channel_name = channels
                .iter()
                .find(|c| c.id == info.channel_id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            Some(HeatedThread {
                conversation_id: info.conversation_id,
                channel_id: info.channel_id,
                channel_name,
                post_platform_id: info.post_platform_id,
                post_excerpt: info.post_text.map(|t| excerpt(&t, 200)),
                peak_hour_start: base + heat.peak.0 * HOUR_MS,
                peak_comments: heat.peak.1,
                baseline_per_hour: (heat.peak.2 * 100.0).round() / 100.0,
                peak_flagged: heat.peak.3,
                heated_hours: heat.heated_hours,
                comments: heat.comments,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.peak_comments
            .cmp(&a.peak_comments)
            .then(a.peak_hour_start.cmp(&b.peak_hour_start))
    });
    Ok(out)
}

/// At most `max` characters, personal data masked (masked first, so a cut never reveals a part).
pub fn excerpt(text: &str, max: usize) -> String {
    let masked = mask(text);
    let mut out: String = masked.chars().take(max).collect();
    if masked.chars().count() > max {
        out.push('…');
    }
    out
}

/// Builds the report for `period` against the one before: figures within the reader's channel
/// limit, and words (questions, posts) only where the reader may read them.
pub async fn build(
    store: &Store,
    faq: Arc<FaqSignals>,
    period: ReportPeriod,
    scope: &ReadScope,
    options: &ReportOptions,
) -> anyhow::Result<Report> {
    let previous = period.previous();
    let channels = store.report_channels().await?;
    // The two periods are independent reads: on separate connections at once.
    let (channel_of, now, before) = tokio::join!(
        store.report_conversation_channels(),
        side(store, &period, scope, options, &channels),
        side(store, &previous, scope, options, &channels),
    );
    let channel_of: FxHashMap<i64, i64> = channel_of?.into_iter().collect();
    let (mut now, mut before) = (now?, before?);
    by_channel(&mut now, &channel_of);
    by_channel(&mut before, &channel_of);

    let keys: BTreeSet<(Option<i64>, &'static str)> =
        now.acc.keys().chain(before.acc.keys()).copied().collect();
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for key in keys {
        let current = now.acc.entry(key).or_default().figures();
        let earlier = before.acc.entry(key).or_default().figures();
        let figures = METRICS
            .iter()
            .map(|m| {
                (
                    *m,
                    Figure {
                        value: current.get(m).copied().flatten(),
                        previous: earlier.get(m).copied().flatten(),
                    },
                )
            })
            .collect();
        let channel = key.0.and_then(|id| channels.iter().find(|c| c.id == id));
        let row = ChannelFigures {
            channel_id: key.0,
            channel_name: channel.map(|c| c.name.clone()),
            platform: channel.map(|c| c.platform.clone()),
            kind: key.1.to_string(),
            figures,
        };
        if key.0.is_some() {
            rows.push(row);
        } else {
            totals.push(row);
        }
    }

    let mut heatmap = BTreeMap::new();
    for kind in ConversationKind::NAMES {
        let empty = || vec![vec![0; 24]; 7];
        let value = now.heat.remove(kind).unwrap_or_else(empty);
        let prev = before.heat.remove(kind).unwrap_or_else(empty);
        heatmap.insert(
            kind.to_string(),
            HeatMap {
                value,
                previous: prev,
            },
        );
    }

    let moderation = moderation_figures(&now, &before);
    let faq = faq_figures(store, faq, &period, &previous, scope.clone(), options).await?;
    let handovers = workflow::handovers(store, &period, &previous, scope.channels()).await?;
    let categories = workflow::categories(store, &period, &previous, scope.channels()).await?;
    let posts = match options.post_metric.as_deref() {
        Some(metric) => Some(post_section::build(store, &period, scope, metric).await?),
        None => None,
    };
    let scope = scope.channels().map(<[i64]>::to_vec);
    Ok(Report {
        period: PeriodInfo::of(&period),
        previous_period: PeriodInfo::of(&previous),
        generated_at: crate::store::now_ms(),
        service_level: ServiceLevel {
            dm_hours: options.dm_service_level_hours,
            comment_hours: options.comment_service_level_hours,
        },
        scope,
        channels: rows,
        totals,
        heatmap,
        faq,
        moderation,
        heated: now.heated.into_iter().take(10).collect(),
        handovers,
        categories,
        posts,
    })
}

fn moderation_figures(now: &Side, before: &Side) -> ModerationFigures {
    let level_counts = |s: &Side| {
        let mut m: BTreeMap<String, i64> = crate::moderation::triage::Severity::ALL
            .iter()
            .map(|l| (l.to_string(), 0))
            .collect();
        for c in &s.cases {
            *m.entry(c.level.clone()).or_default() += 1;
        }
        m
    };
    let category_counts = |s: &Side| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for c in &s.cases {
            for cat in &c.categories {
                *m.entry(cat.clone()).or_default() += 1;
            }
        }
        m
    };
    let pair = |a: BTreeMap<String, i64>, b: BTreeMap<String, i64>| {
        let names: BTreeSet<String> = a.keys().chain(b.keys()).cloned().collect();
        names
            .into_iter()
            .map(|n| {
                let f = Figure::counts(
                    a.get(&n).copied().unwrap_or(0),
                    b.get(&n).copied().unwrap_or(0),
                );
                (n, f)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let actions = |s: &Side| {
        let mut v: Vec<i64> = s
            .cases
            .iter()
            .filter_map(|c| c.acted_at.map(|a| (a - c.arrived_at).max(0)))
            .collect();
        v.sort_unstable();
        v
    };
    let (a_now, a_before) = (actions(now), actions(before));
    let sum = |s: &Side, f: &dyn Fn(&crate::store::reports::CaseFacts) -> i64| {
        s.cases.iter().map(f).sum::<i64>()
    };
    ModerationFigures {
        cases: Figure::counts(now.cases.len() as i64, before.cases.len() as i64),
        by_level: pair(level_counts(now), level_counts(before)),
        by_category: pair(category_counts(now), category_counts(before)),
        time_to_action_median_seconds: Figure {
            value: seconds(median(&a_now)),
            previous: seconds(median(&a_before)),
        },
        time_to_action_p90_seconds: Figure {
            value: seconds(percentile(&a_now, 0.9)),
            previous: seconds(percentile(&a_before, 0.9)),
        },
        police_reports: Figure::counts(
            sum(now, &|c| c.police_reports),
            sum(before, &|c| c.police_reports),
        ),
        hidden_off_hours: Figure::counts(
            sum(now, &|c| i64::from(c.auto_hidden)),
            sum(before, &|c| i64::from(c.auto_hidden)),
        ),
        heated_threads: Figure::counts(now.heated.len() as i64, before.heated.len() as i64),
    }
}

async fn faq_figures(
    store: &Store,
    faq: Arc<FaqSignals>,
    period: &ReportPeriod,
    previous: &ReportPeriod,
    scope: ReadScope,
    options: &ReportOptions,
) -> anyhow::Result<Vec<FaqFigure>> {
    let window = (period.start_ms(), period.end_ms());
    let before = (previous.start_ms(), previous.end_ms());
    let mut signals = faq.signals_counted(store, window, before, &scope).await?;
    signals.retain(|s| !s.dismissed && s.count > 0);
    signals.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.people.cmp(&a.people))
            .then(a.id.cmp(&b.id))
    });
    Ok(signals
        .into_iter()
        .take(options.faq_top)
        .map(|s| FaqFigure {
            cluster_id: s.id,
            name: excerpt(&s.name, 200),
            count: Figure::counts(s.count as i64, s.previous as i64),
            people: s.people,
            change: s.change,
            significant: s.significant,
            answered: s.answered_url.is_some(),
            answered_url: s.answered_url,
            examples: s.examples.iter().take(3).map(|e| excerpt(e, 200)).collect(),
        })
        .collect())
}

/// A conversation kind's stored name, from whether it is a DM.
fn kind_name(dm: bool) -> &'static str {
    if dm {
        ConversationKind::Dm
    } else {
        ConversationKind::Comments
    }
    .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_described_figures_are_the_figures_sent() {
        let described: Vec<&str> = FIGURE_DESCRIPTIONS.iter().map(|(key, _)| *key).collect();
        assert_eq!(described, METRICS);
        let sent: Vec<&str> = Acc::default().figures().into_keys().collect();
        let mut described = described;
        described.sort_unstable();
        assert_eq!(sent, described);
    }

    #[test]
    fn medians_and_nearest_rank_percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5.0));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2.5));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 0.9), Some(9.0));
        assert_eq!(percentile(&[1, 2, 3], 0.9), Some(3.0));
        assert_eq!(percentile(&[7], 0.9), Some(7.0));
    }

    #[test]
    fn whole_figures_serialise_as_integers() {
        let f = Figure {
            value: Some(3.0),
            previous: Some(2.5),
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"value":3,"previous":2.5}"#
        );
        let none = Figure::default();
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"value":null,"previous":null}"#
        );
    }
}
