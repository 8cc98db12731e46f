//! The monthly and quarterly report's post follow-up section (issue 21, item 4): per channel the
//! top posts published in the period by the chosen figure, the goals judged in the period (met,
//! not met), and each campaign's web sessions and goal completions — each beside the period
//! before. Built on its own so the report can take it in as one more section: `build` gives the
//! figures, `csv_rows` and `html` render them the report's way. Aggregates and post excerpts
//! only (masked, for readers of comments); nothing names a person.

use serde::Serialize;

use super::{excerpt, Figure, ReportPeriod};
use crate::posts::{self, GoalStatus};
use crate::store::posts::PostSummary;
use crate::store::scope::{ReadScope, COMMENTS};
use crate::store::Store;

/// Posts listed per channel and period.
pub const TOP_POSTS: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct TopPost {
    pub post_id: i64,
    pub platform_id: String,
    /// The post's words, cut and masked; None for a reader who does not read comments there.
    pub excerpt: Option<String>,
    pub published_at: Option<i64>,
    /// The chosen figure, latest measurement (None: not measured).
    pub value: Option<i64>,
    pub comments: i64,
    pub questions: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelTop {
    pub channel_id: i64,
    pub channel_name: String,
    pub top: Vec<TopPost>,
    /// The same list for the period before.
    pub previous_top: Vec<TopPost>,
    /// Posts published in the period, and in the one before.
    pub posts: Figure,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignFigures {
    pub campaign_id: i64,
    pub name: String,
    pub sessions: Figure,
    pub goal_completions: Figure,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostSection {
    /// The figure posts are ranked by.
    pub metric: String,
    pub channels: Vec<ChannelTop>,
    /// Goals whose day fell in the period: met and not met, beside the period before.
    pub goals_met: Figure,
    pub goals_not_met: Figure,
    pub campaigns: Vec<CampaignFigures>,
}

fn top_of(
    posts: &[PostSummary],
    channel: i64,
    metric: &str,
    from: i64,
    to: i64,
) -> (Vec<TopPost>, i64) {
    let mut chosen: Vec<&PostSummary> = posts
        .iter()
        .filter(|p| p.channel_id == channel)
        .filter(|p| p.published_at.is_some_and(|t| t >= from && t < to))
        .collect();
    let count = chosen.len() as i64;
    chosen.sort_by_key(|p| std::cmp::Reverse(p.figures.get(metric).copied().unwrap_or(-1)));
    let top = chosen
        .into_iter()
        .take(TOP_POSTS)
        .map(|p| TopPost {
            post_id: p.id,
            platform_id: p.platform_id.clone(),
            excerpt: p.text.as_deref().map(|t| excerpt(t, 160)),
            published_at: p.published_at,
            value: p.figures.get(metric).copied(),
            comments: p.comments,
            questions: p.questions,
        })
        .collect();
    (top, count)
}

/// The section for `period` within the reader's scope, posts ranked by `metric` (one of
/// `posts::METRICS`; reach when unknown).
pub async fn build(
    store: &Store,
    period: &ReportPeriod,
    scope: &ReadScope,
    metric: &str,
) -> crate::store::Result<PostSection> {
    let metric = if posts::METRICS.contains(&metric) {
        metric
    } else {
        "reach"
    };
    let before = period.previous();
    let (start, end) = (period.start_ms(), period.end_ms());
    let (b_start, b_end) = (before.start_ms(), before.end_ms());
    let readable = {
        let scope = scope.clone();
        move |channel: i64| scope.may_read(COMMENTS, channel)
    };
    let now_posts = store
        .post_summaries(scope.channels(), start, end, 100_000, &readable)
        .await?;
    let before_posts = store
        .post_summaries(scope.channels(), b_start, b_end, 100_000, &readable)
        .await?;
    let mut channels = Vec::new();
    let mut seen: Vec<(i64, String)> = now_posts
        .iter()
        .chain(&before_posts)
        .map(|p| (p.channel_id, p.channel_name.clone()))
        .collect();
    seen.sort();
    seen.dedup();
    for (channel_id, channel_name) in seen {
        let (top, n) = top_of(&now_posts, channel_id, metric, start, end);
        let (previous_top, m) = top_of(&before_posts, channel_id, metric, b_start, b_end);
        if n == 0 && m == 0 {
            continue;
        }
        channels.push(ChannelTop {
            channel_id,
            channel_name,
            top,
            previous_top,
            posts: Figure::counts(n, m),
        });
    }
    // Goals judged in each period (their day fell in it), within the reader's channels.
    let campaigns = store.campaigns().await?;
    let within = |channels: &[i64]| channels.iter().all(|c| scope.within_channel(*c));
    let mut goals = Vec::new();
    for goal in store.goals(None, None).await? {
        let visible = match (goal.post_id, goal.campaign_id) {
            (Some(post), _) => store
                .post_channel(post)
                .await?
                .is_some_and(|c| scope.within_channel(c)),
            (None, Some(c)) => campaigns
                .iter()
                .find(|x| x.id == c)
                .is_some_and(|x| within(&x.channel_ids)),
            _ => false,
        };
        if visible {
            goals.push(goal);
        }
    }
    let judged = posts::evaluate(store, goals, &campaigns, crate::store::now_ms()).await?;
    let count = |from: i64, to: i64, status: GoalStatus| {
        judged
            .iter()
            .filter(|g| g.goal.due_at > from && g.goal.due_at <= to && g.status == status)
            .count() as i64
    };
    let goals_met = Figure::counts(
        count(start, end, GoalStatus::Met),
        count(b_start, b_end, GoalStatus::Met),
    );
    let goals_not_met = Figure::counts(
        count(start, end, GoalStatus::NotMet),
        count(b_start, b_end, GoalStatus::NotMet),
    );
    // Campaigns' web figures in each period: the sums up to its last day less those before it.
    let day_before = |ms: i64| {
        super::period::local_time(ms - 1)
            .format("%Y-%m-%d")
            .to_string()
    };
    let mut campaign_figures = Vec::new();
    for c in campaigns.iter().filter(|c| within(&c.channel_ids)) {
        let (s_end, g_end) = store
            .campaign_web_figures(&c.name, &day_before(end))
            .await?;
        let (s_start, g_start) = store
            .campaign_web_figures(&c.name, &day_before(start))
            .await?;
        let (s_b, g_b) = store
            .campaign_web_figures(&c.name, &day_before(b_start))
            .await?;
        let now = (s_end - s_start, g_end - g_start);
        let then = (s_start - s_b, g_start - g_b);
        if now == (0, 0) && then == (0, 0) {
            continue;
        }
        campaign_figures.push(CampaignFigures {
            campaign_id: c.id,
            name: c.name.clone(),
            sessions: Figure::counts(now.0, then.0),
            goal_completions: Figure::counts(now.1, then.1),
        });
    }
    Ok(PostSection {
        metric: metric.to_string(),
        channels,
        goals_met,
        goals_not_met,
        campaigns: campaign_figures,
    })
}

fn number(v: Option<f64>) -> String {
    v.map(|x| format!("{}", x as i64)).unwrap_or_default()
}

/// The section's rows for the report's CSV: `section,channel,item,value,previous`.
pub fn csv_rows(section: &PostSection) -> String {
    use super::render::csv_cell;
    let mut out = String::new();
    let mut row = |cells: [&str; 5]| {
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    for c in &section.channels {
        row([
            "posts",
            &c.channel_name,
            "published",
            &number(c.posts.value),
            &number(c.posts.previous),
        ]);
        for (rank, p) in c.top.iter().enumerate() {
            let item = format!(
                "top {} by {}: {}",
                rank + 1,
                section.metric,
                p.excerpt.as_deref().unwrap_or(&p.platform_id)
            );
            row([
                "posts",
                &c.channel_name,
                &item,
                &p.value.map(|v| v.to_string()).unwrap_or_default(),
                "",
            ]);
        }
    }
    row([
        "goals",
        "",
        "met",
        &number(section.goals_met.value),
        &number(section.goals_met.previous),
    ]);
    row([
        "goals",
        "",
        "not met",
        &number(section.goals_not_met.value),
        &number(section.goals_not_met.previous),
    ]);
    for c in &section.campaigns {
        row([
            "campaigns",
            "",
            &format!("{} sessions", c.name),
            &number(c.sessions.value),
            &number(c.sessions.previous),
        ]);
        row([
            "campaigns",
            "",
            &format!("{} goal completions", c.name),
            &number(c.goal_completions.value),
            &number(c.goal_completions.previous),
        ]);
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The section for the printable page: a `<section>` with its own heading, every text escaped.
pub fn html(section: &PostSection, lang: super::render::Lang) -> String {
    let sv = matches!(lang, super::render::Lang::Sv);
    let t = |sv_text: &'static str, en: &'static str| if sv { sv_text } else { en };
    let mut out = format!(
        "<section><h2>{}</h2>",
        t("Inlägg, mål och kampanjer", "Posts, goals and campaigns")
    );
    for c in &section.channels {
        out.push_str(&format!(
            "<h3>{}</h3><p>{}: {} ({} {})</p><ol>",
            escape(&c.channel_name),
            t("Publicerade inlägg", "Posts published"),
            number(c.posts.value),
            t("perioden före", "the period before"),
            number(c.posts.previous)
        ));
        for p in &c.top {
            out.push_str(&format!(
                "<li>{} — {} {}</li>",
                escape(p.excerpt.as_deref().unwrap_or(&p.platform_id)),
                escape(&section.metric),
                p.value.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
            ));
        }
        out.push_str("</ol>");
    }
    out.push_str(&format!(
        "<p>{}: {} ({} {}); {}: {} ({} {})</p>",
        t("Mål uppnådda", "Goals met"),
        number(section.goals_met.value),
        t("perioden före", "the period before"),
        number(section.goals_met.previous),
        t("ej uppnådda", "not met"),
        number(section.goals_not_met.value),
        t("perioden före", "the period before"),
        number(section.goals_not_met.previous)
    ));
    if !section.campaigns.is_empty() {
        out.push_str("<ul>");
        for c in &section.campaigns {
            out.push_str(&format!(
                "<li>{}: {} {} ({} {}), {} {}</li>",
                escape(&c.name),
                number(c.sessions.value),
                t("besök", "sessions"),
                t("perioden före", "the period before"),
                number(c.sessions.previous),
                number(c.goal_completions.value),
                t("måluppfyllelser", "goal completions")
            ));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}
