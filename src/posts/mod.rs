//! Post follow-up (issue 21): what each of the channels' own posts reached, what it stirred up
//! and whether it met its goal. The platform's figures (reach, impressions, engagements,
//! reactions, shares, link clicks, video views) are fetched with the channel's token on a
//! schedule and on demand and kept as a time series per post; beside them, what only tavla
//! knows: the questions the post raised (FAQ), how hateful its thread became (triage) and its
//! heated hours (the rule of `moderation::heat`). Goals on a post or a campaign are judged met,
//! not met or too early. Aggregates only: nothing here names a person.

pub mod graph;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::faq::signals::FaqSignals;
use crate::moderation::heat;
use crate::store::posts::{
    AnalyticsRow, Campaign, FetchChannel, Goal, Measurement, PostSummary, ThreadComment,
};
use crate::store::scope::ReadScope;
use crate::store::{now_ms, Store};

/// A post's words are cut to this many characters when fetched.
pub const POST_TEXT_MAX: usize = 5000;

/// The figures tavla keeps per post (the platforms' names differ; see `graph`).
pub const METRICS: [&str; 7] = [
    "reach",
    "impressions",
    "engagements",
    "reactions",
    "shares",
    "link_clicks",
    "video_views",
];

// For the API description only (the figures are kept and read as strings); a test holds it to
// `METRICS`.
/// A post figure.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum Metric {
    Reach,
    Impressions,
    Engagements,
    Reactions,
    Shares,
    LinkClicks,
    VideoViews,
}

/// What a goal may measure: a post's figure, or for a campaign also its UTM campaign's web
/// sessions and goal completions.
pub const GOAL_METRICS: [&str; 9] = [
    "reach",
    "impressions",
    "engagements",
    "reactions",
    "shares",
    "link_clicks",
    "video_views",
    "sessions",
    "goal_completions",
];

const HOUR_MS: i64 = 3_600_000;

/// How one channel's refresh went.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelRefresh {
    pub channel_id: i64,
    pub channel_name: String,
    /// fetched, partial, skipped or failed.
    pub outcome: &'static str,
    pub posts: usize,
    pub figures: usize,
    /// What went wrong and what to do, in plain words.
    pub problem: Option<String>,
    /// When the platform lets tavla ask again (rate limiting), epoch ms.
    pub retry_after: Option<i64>,
}

/// How fetching reads the platform.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub graph_base_url: String,
    pub timeout: Duration,
    /// Posts published this many days back are followed.
    pub lookback_days: i64,
}

impl FetchConfig {
    pub fn from_settings(settings: &crate::settings::Settings) -> FetchConfig {
        FetchConfig {
            graph_base_url: settings.graph_base_url.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(settings.graph_timeout_seconds.max(1)),
            lookback_days: settings.posts_lookback_days.max(1),
        }
    }

    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            // A redirect could carry the token's request elsewhere: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tavla/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client for post follow-up: {e}"))
    }
}

/// A channel's entry in a refresh's progress before it is read.
fn pending(channel: &FetchChannel) -> serde_json::Value {
    serde_json::json!({"channel_id": channel.id, "channel_name": channel.name, "outcome": "pending",
        "posts": 0, "figures": 0, "problem": null, "retry_after": null})
}

/// How long the refresh lease lives without renewal: a stopped instance gives it up within this.
fn lease_ms(config: &FetchConfig) -> i64 {
    (config.timeout.as_millis() as i64) * 4 + 60_000
}

/// Starts a refresh of `channels` (None: every approved Facebook and Instagram channel) in the
/// background, under the lease that lets one instance at a time fetch. Some(its job id); None
/// when a refresh runs already (on this or another instance): that one is the answer.
pub async fn start(
    store: &Store,
    config: &FetchConfig,
    client: &reqwest::Client,
    channels: Option<&[i64]>,
    requested_by: Option<i64>,
) -> crate::store::Result<Option<i64>> {
    let Some(lease) = store.take_lease(LEASE, lease_ms(config), None).await? else {
        return Ok(None);
    };
    match prepare(store, channels, requested_by).await {
        Ok((job, fetch)) => {
            let (store, config, client) = (store.clone(), config.clone(), client.clone());
            let full = channels.is_none();
            tokio::spawn(async move {
                run(&store, &config, &client, lease, job, fetch, full).await;
            });
            Ok(Some(job))
        }
        Err(e) => {
            if let Err(e) = store.release_lease(&lease, false).await {
                tracing::warn!(error = %e, "could not give back the post follow-up lease");
            }
            Err(e)
        }
    }
}

/// The channels to read and the job row that follows their progress.
async fn prepare(
    store: &Store,
    channels: Option<&[i64]>,
    requested_by: Option<i64>,
) -> crate::store::Result<(i64, Vec<FetchChannel>)> {
    let fetch = store.post_fetch_channels(channels).await?;
    let entries: Vec<serde_json::Value> = fetch.iter().map(pending).collect();
    let job = store.start_refresh_job(&entries, requested_by).await?;
    Ok((job, fetch))
}

/// Reads the channels one by one under the lease, writing the job's progress after each; each
/// channel's problem is recorded and never stops the others. Gives the lease back at the end: a
/// refresh of every channel counts as the schedule's run. False when the store refused.
async fn run(
    store: &Store,
    config: &FetchConfig,
    client: &reqwest::Client,
    lease: crate::store::lease::Lease,
    job: i64,
    channels: Vec<FetchChannel>,
    full: bool,
) -> bool {
    let renewal = crate::store::lease::Renewal::start(store, &lease);
    let mut entries: Vec<serde_json::Value> = channels.iter().map(pending).collect();
    let mut ok = true;
    for (i, channel) in channels.iter().enumerate() {
        match refresh_channel(store, config, client, channel).await {
            Ok(outcome) => entries[i] = serde_json::to_value(&outcome).unwrap_or_default(),
            Err(e) => {
                tracing::error!(error = %e, channel = channel.id, "post follow-up could not store what it fetched; it is tried again later");
                ok = false;
                break;
            }
        }
        if let Err(e) = store.update_refresh_job(job, &entries, None).await {
            tracing::warn!(error = %e, "could not record the refresh's progress");
        }
    }
    let state = if ok { "done" } else { "failed" };
    if let Err(e) = store.update_refresh_job(job, &entries, Some(state)).await {
        tracing::warn!(error = %e, "could not record the refresh's end");
    }
    drop(renewal);
    if let Err(e) = store.release_lease(&lease, ok && full).await {
        tracing::warn!(error = %e, "could not give back the post follow-up lease");
    }
    ok
}

async fn refresh_channel(
    store: &Store,
    config: &FetchConfig,
    client: &reqwest::Client,
    channel: &FetchChannel,
) -> crate::store::Result<ChannelRefresh> {
    let now = now_ms();
    let mut report = ChannelRefresh {
        channel_id: channel.id,
        channel_name: channel.name.clone(),
        outcome: "fetched",
        posts: 0,
        figures: 0,
        problem: None,
        retry_after: None,
    };
    if channel.not_before > now {
        report.outcome = "skipped";
        report.retry_after = Some(channel.not_before);
        report.problem = Some(format!(
            "{} asked tavla to wait (rate limited); the channel is read again after that",
            crate::platform::meta::platform_name(&channel.platform)
        ));
        return Ok(report);
    }
    let token = match crate::outbound::token::load(channel.token_file.as_deref()) {
        Ok(token) => token,
        Err(e) => {
            let problem = format!(
                "{}; without a token tavla cannot read the channel's posts",
                e.to_string().trim_end_matches('.')
            );
            store.record_fetch_problem(channel.id, &problem, 0).await?;
            report.outcome = "failed";
            report.problem = Some(problem);
            return Ok(report);
        }
    };
    let graph = graph::Graph {
        client,
        base: &config.graph_base_url,
        token: &token,
    };
    let since = now - config.lookback_days * 24 * HOUR_MS;
    match graph.fetch(channel, since).await {
        Ok(fetched) => {
            let problem = (!fetched.missing.is_empty()).then(|| {
                let shown: Vec<&str> = fetched
                    .missing
                    .iter()
                    .take(10)
                    .map(String::as_str)
                    .collect();
                format!(
                    "the platform gave no figure for {}{}; the other figures were kept",
                    shown.join(", "),
                    if fetched.missing.len() > 10 {
                        ", …"
                    } else {
                        ""
                    }
                )
            });
            report.figures = store
                .save_fetched_posts(channel.id, &fetched.posts, now, problem.as_deref(), 0)
                .await?;
            report.posts = fetched.posts.len();
            if problem.is_some() {
                report.outcome = "partial";
            }
            report.problem = problem;
        }
        Err(e) => {
            let not_before = match &e {
                graph::FetchError::RateLimited(wait) => now + wait.as_millis() as i64,
                _ => 0,
            };
            let problem = token.redact(&e.describe(&channel.platform));
            store
                .record_fetch_problem(channel.id, &problem, not_before)
                .await?;
            report.outcome = "failed";
            report.problem = Some(problem);
            report.retry_after = (not_before > 0).then_some(not_before);
        }
    }
    Ok(report)
}

/// The lease that makes one instance of several fetch per interval.
const LEASE: &str = "posts-refresh";

/// Fetches every channel's posts every `every`, the first time after `first`, once per interval
/// however many instances share the store, as a refresh job others can follow.
pub async fn scheduled(
    store: Store,
    config: FetchConfig,
    first: Duration,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = match config.client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "post follow-up cannot fetch on its schedule");
            return;
        }
    };
    let every_ms = every.as_millis() as i64;
    let mut wait = first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = every
            .min(Duration::from_secs(60))
            .max(Duration::from_millis(200));
        let done_before = now_ms() - every_ms + wait.as_millis() as i64 / 2;
        // The same job as a refresh asked for, under the same lease: never two at once.
        let outcome = match store
            .take_lease(LEASE, lease_ms(&config), Some(done_before))
            .await
        {
            Ok(Some(lease)) => match prepare(&store, None, None).await {
                Ok((job, fetch)) => {
                    if run(&store, &config, &client, lease, job, fetch, true).await {
                        "ran"
                    } else {
                        "failed"
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "post follow-up could not start its scheduled refresh; it is tried again later");
                    if let Err(e) = store.release_lease(&lease, false).await {
                        tracing::warn!(error = %e, "could not give back the post follow-up lease");
                    }
                    "failed"
                }
            },
            Ok(None) => "skipped",
            Err(e) => {
                tracing::error!(error = %e, "cannot take the post follow-up lease; it is tried again later");
                "failed"
            }
        };
        crate::metrics::count_job("posts_refresh", outcome, &store.instance);
    }
}

/// How a thread went: its comments, the share triage flagged S2 or above, and the hours in which
/// it was heated by the rule of `GET /api/v1/moderation/heated`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ThreadFigures {
    pub comments: i64,
    pub flagged: i64,
    /// flagged / comments, 0 without comments.
    pub hateful_share: f64,
    pub heated_hours: i64,
    /// The start of each heated hour, epoch ms.
    pub heated_hour_starts: Vec<i64>,
}

pub fn thread_figures(comments: &[ThreadComment], min_comments: i64) -> ThreadFigures {
    let mut hours: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for c in comments {
        let e = hours.entry(c.at.div_euclid(HOUR_MS)).or_default();
        e.0 += 1;
        e.1 += i64::from(c.flagged);
    }
    let mut starts = Vec::new();
    for (&hour, &(count, flagged)) in &hours {
        let day_before: i64 = hours.range(hour - 24..hour).map(|(_, n)| n.0).sum();
        if heat::is_heated(count, flagged, day_before, min_comments) {
            starts.push(hour * HOUR_MS);
        }
    }
    let total = comments.len() as i64;
    let flagged = comments.iter().filter(|c| c.flagged).count() as i64;
    ThreadFigures {
        comments: total,
        flagged,
        hateful_share: if total > 0 {
            ((flagged as f64 / total as f64) * 1000.0).round() / 1000.0
        } else {
            0.0
        },
        heated_hours: starts.len() as i64,
        heated_hour_starts: starts,
    }
}

/// A FAQ question cluster the post raised questions in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RaisedQuestion {
    pub cluster_id: u64,
    /// The curated name or the cluster's label, for a reader of comments; `#id` otherwise.
    pub name: String,
    /// Questions from this post's thread in the cluster.
    pub questions: i64,
    /// Of those, how many the organisation replied to in the thread.
    pub replied: i64,
    /// The cluster is marked answered (a web page or saved reply).
    pub answered: bool,
    pub answered_url: Option<String>,
}

/// The clusters a post's questions are in, the most asked first.
pub async fn raised_questions(
    store: &Store,
    faq: &FaqSignals,
    comments: &[ThreadComment],
    replied_to: &[String],
    scope: &ReadScope,
) -> crate::store::Result<Vec<RaisedQuestion>> {
    let curations = store.curations().await?;
    let moves = store.faq_moves().await?;
    let ids: Vec<i64> = comments.iter().map(|c| c.message_id).collect();
    let clusters = faq
        .clusters_of_messages(store, &ids, &curations, &moves)
        .await?;
    let mut by_cluster: HashMap<u64, (i64, i64)> = HashMap::new();
    for c in comments {
        if let Some(&cluster) = clusters.get(&c.message_id) {
            let e = by_cluster.entry(cluster).or_default();
            e.0 += 1;
            if c.platform_id
                .as_ref()
                .is_some_and(|p| replied_to.contains(p))
            {
                e.1 += 1;
            }
        }
    }
    if by_cluster.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<u64> = by_cluster.keys().copied().collect();
    let names = faq.names(&asked, scope, &curations);
    let mut out: Vec<RaisedQuestion> = by_cluster
        .into_iter()
        .map(|(id, (questions, replied))| {
            let curation = curations.iter().find(|c| c.cluster_id == id as i64);
            RaisedQuestion {
                cluster_id: id,
                name: names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
                questions,
                replied,
                answered: curation
                    .is_some_and(|c| c.answered_url.is_some() || c.answered_at.is_some()),
                answered_url: curation.and_then(|c| c.answered_url.clone()),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.questions
            .cmp(&a.questions)
            .then(a.cluster_id.cmp(&b.cluster_id))
    });
    Ok(out)
}

/// Where a goal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    Met,
    NotMet,
    /// Not reached yet, and its date has not come.
    TooEarly,
}

/// A goal beside its figure now: met once the figure reaches the target (even before its date);
/// until its date too_early; after it not_met.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvaluatedGoal {
    #[serde(flatten)]
    pub goal: Goal,
    /// The figure now (null: nothing measured yet).
    #[schema(required = true)]
    pub value: Option<i64>,
    pub status: GoalStatus,
}

/// A goal is met once its figure reaches the target (even before its date); until its date it is
/// too early to call, after it not met.
pub fn judge(value: Option<i64>, target: i64, due_at: i64, now: i64) -> GoalStatus {
    if value.is_some_and(|v| v >= target) {
        GoalStatus::Met
    } else if now < due_at {
        GoalStatus::TooEarly
    } else {
        GoalStatus::NotMet
    }
}

/// Swedish calendar day (YYYY-MM-DD) of an instant, for comparing with analytics days.
fn swedish_day(ms: i64) -> String {
    crate::reports::period::local_time(ms)
        .format("%Y-%m-%d")
        .to_string()
}

/// Each goal with its figure and status: a post's latest figure; a campaign's posts' latest
/// figures summed, or its UTM campaign's sessions and goal completions up to the goal's date.
pub async fn evaluate(
    store: &Store,
    goals: Vec<Goal>,
    campaigns: &[Campaign],
    now: i64,
) -> crate::store::Result<Vec<EvaluatedGoal>> {
    let mut out = Vec::with_capacity(goals.len());
    for goal in goals {
        let value = match (goal.post_id, goal.campaign_id) {
            (Some(post), _) => store
                .latest_figures(&[post])
                .await?
                .get(&post)
                .and_then(|f| f.get(&goal.metric).copied()),
            (None, Some(campaign)) => {
                let Some(c) = campaigns.iter().find(|c| c.id == campaign) else {
                    continue;
                };
                if goal.metric == "sessions" || goal.metric == "goal_completions" {
                    let (sessions, completions) = store
                        .campaign_web_figures(&c.name, &swedish_day(goal.due_at.min(now)))
                        .await?;
                    Some(if goal.metric == "sessions" {
                        sessions
                    } else {
                        completions
                    })
                } else {
                    let latest = store.latest_figures(&c.post_ids).await?;
                    let values: Vec<i64> = latest
                        .values()
                        .filter_map(|f| f.get(&goal.metric).copied())
                        .collect();
                    (!values.is_empty()).then(|| values.iter().sum())
                }
            }
            (None, None) => None,
        };
        let status = judge(value, goal.target, goal.due_at, now);
        out.push(EvaluatedGoal {
            goal,
            value,
            status,
        });
    }
    Ok(out)
}

/// One bad line of an analytics export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: usize,
    pub problem: String,
}

/// Rows of an export at most.
pub const ANALYTICS_MAX_ROWS: usize = 50_000;

/// Reads a web analytics export: a header `date,campaign,sessions,goal_completions` (in any
/// order, any case; `;` also separates) and a row per day and campaign. Every bad line is
/// reported by its number; the rows only when all are good.
pub fn parse_analytics(text: &str) -> Result<Vec<AnalyticsRow>, Vec<BadLine>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_index, header)) = lines.next() else {
        return Err(vec![BadLine {
            line: 1,
            problem: "the file is empty; export date,campaign,sessions,goal_completions with a header line".into(),
        }]);
    };
    let separator = if header.contains(';') && !header.contains(',') {
        ';'
    } else {
        ','
    };
    let names: Vec<String> = split(header, separator)
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let column = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let columns = (
        column(&["date", "day"]),
        column(&["campaign", "utm_campaign"]),
        column(&["sessions"]),
        column(&["goal_completions", "goal completions", "conversions"]),
    );
    let (Some(date), Some(campaign), Some(sessions), Some(goals)) = columns else {
        return Err(vec![BadLine {
            line: header_index + 1,
            problem: format!(
                "the header is {header:?}; it must name the columns date, campaign, sessions and goal_completions"
            ),
        }]);
    };
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (index, line) in lines {
        let number = index + 1;
        if rows.len() + bad.len() >= ANALYTICS_MAX_ROWS {
            bad.push(BadLine {
                line: number,
                problem: format!("an export may have at most {ANALYTICS_MAX_ROWS} rows; split it"),
            });
            break;
        }
        let cells = split(line, separator);
        let cell = |i: usize| cells.get(i).map(|c| c.trim()).unwrap_or("");
        let mut problems = Vec::new();
        let day = cell(date);
        if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            problems.push(format!("the date {:?} is not YYYY-MM-DD", clip(day)));
        }
        let name = cell(campaign);
        if name.is_empty() {
            problems.push("the campaign is empty".to_string());
        } else if name.chars().count() > 200 {
            problems.push("the campaign name is longer than 200 characters".to_string());
        }
        let count = |what: &str, text: &str, problems: &mut Vec<String>| match text.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                problems.push(format!(
                    "{what} {:?} is not a whole number of at least 0",
                    clip(text)
                ));
                0
            }
        };
        let s = count("sessions", cell(sessions), &mut problems);
        let g = count("goal_completions", cell(goals), &mut problems);
        if problems.is_empty() {
            if let Some(first) = seen.insert((day.to_string(), name.to_string()), number) {
                problems.push(format!(
                    "the date {day} and campaign {:?} are on line {first} already",
                    clip(name)
                ));
            }
        }
        if problems.is_empty() {
            rows.push(AnalyticsRow {
                day: day.to_string(),
                campaign: name.to_string(),
                sessions: s,
                goal_completions: g,
            });
        } else {
            bad.push(BadLine {
                line: number,
                problem: problems.join("; "),
            });
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    if rows.is_empty() {
        return Err(vec![BadLine {
            line: header_index + 1,
            problem: "the file has a header but no rows".into(),
        }]);
    }
    Ok(rows)
}

/// A cell quoted back in an error, bounded.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Cells of a CSV line: separators inside double quotes do not split, `""` is a quote.
fn split(line: &str, separator: char) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cells.last_mut().expect("one cell").push('"');
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => cells.push(String::new()),
            c => cells.last_mut().expect("one cell").push(c),
        }
    }
    cells
}

/// A post's view: its figures over time beside what its thread stirred up, its goals and notes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostView {
    #[serde(flatten)]
    pub post: PostSummary,
    /// Every measurement per figure, oldest first.
    pub series: BTreeMap<String, Vec<Point>>,
    pub thread: ThreadFigures,
    /// The FAQ question clusters the post's thread raised questions in.
    // Named apart from the summary's `questions` (a count), which the view flattens in.
    #[serde(rename = "raised_questions")]
    pub questions: Vec<RaisedQuestion>,
    pub goals: Vec<EvaluatedGoal>,
    pub notes: Vec<crate::store::posts::EvaluationNote>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SeriesPoint)]
pub struct Point {
    pub at: i64,
    pub value: i64,
}

pub fn series(measurements: Vec<Measurement>) -> BTreeMap<String, Vec<Point>> {
    let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for m in measurements {
        out.entry(m.metric).or_default().push(Point {
            at: m.measured_at,
            value: m.value,
        });
    }
    out
}

/// Orders a period's posts by what the caller asked: `questions` (most raised first),
/// `moderation` (threads that needed it most), `comments`, a figure's name, or `time`.
pub fn sort_posts(posts: &mut [PostSummary], by: &str) -> Result<(), String> {
    match by {
        "time" => {}
        "questions" => posts.sort_by_key(|p| std::cmp::Reverse(p.questions)),
        "moderation" => posts.sort_by(|a, b| {
            (b.moderation_cases + b.flagged).cmp(&(a.moderation_cases + a.flagged))
        }),
        "comments" => posts.sort_by_key(|p| std::cmp::Reverse(p.comments)),
        metric if METRICS.contains(&metric) => posts.sort_by(|a, b| {
            b.figures
                .get(metric)
                .unwrap_or(&-1)
                .cmp(a.figures.get(metric).unwrap_or(&-1))
        }),
        other => {
            return Err(format!(
            "sort {other:?} is not known; use time, questions, moderation, comments or one of {}",
            METRICS.join(", ")
        ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_described_metrics_are_the_kept_ones() {
        let schema =
            serde_json::to_value(<super::Metric as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(super::METRICS));
    }

    use super::*;

    #[test]
    fn a_goal_is_met_when_reached_too_early_before_its_date_and_not_met_after() {
        assert_eq!(judge(Some(10), 10, 100, 50), GoalStatus::Met);
        assert_eq!(judge(Some(9), 10, 100, 50), GoalStatus::TooEarly);
        assert_eq!(judge(None, 10, 100, 50), GoalStatus::TooEarly);
        assert_eq!(judge(Some(9), 10, 100, 100), GoalStatus::NotMet);
        assert_eq!(judge(None, 10, 100, 200), GoalStatus::NotMet);
    }

    #[test]
    fn analytics_rows_parse_and_bad_lines_are_named() {
        let good = "Date,Campaign,Sessions,Goal_completions\n2026-11-01,\"vinter, 2026\",120,7\n2026-11-02,vinter,80,3\n";
        let rows = parse_analytics(good).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].campaign, "vinter, 2026");
        let bad = "date,campaign,sessions,goal_completions\n2026-11-01,vinter,12,1\n2026-13-01,vinter,1,1\n2026-11-02,,x,1\n2026-11-01,vinter,3,0\n";
        let lines = parse_analytics(bad).unwrap_err();
        assert_eq!(
            lines.iter().map(|l| l.line).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert!(lines[1].problem.contains("campaign is empty"));
        assert!(lines[1].problem.contains("sessions"));
        assert!(lines[2].problem.contains("line 2"));
        assert!(parse_analytics("a,b\n1,2").is_err());
    }

    #[test]
    fn heated_hours_follow_the_moderation_rule() {
        let hour = HOUR_MS;
        let mut comments = Vec::new();
        // Twelve comments in one hour after a quiet day, then one an hour later.
        for i in 0..12 {
            comments.push(ThreadComment {
                message_id: i,
                platform_id: None,
                at: 100 * hour + i * 1000,
                flagged: i < 3,
            });
        }
        comments.push(ThreadComment {
            message_id: 99,
            platform_id: None,
            at: 101 * hour,
            flagged: false,
        });
        let figures = thread_figures(&comments, 10);
        assert_eq!(figures.comments, 13);
        assert_eq!(figures.flagged, 3);
        assert_eq!(figures.heated_hours, 1);
        assert_eq!(figures.heated_hour_starts, vec![100 * hour]);
        assert!((figures.hateful_share - 0.231).abs() < 1e-9);
    }
}
