//! The monthly and quarterly report's post follow-up section (issue 21, item 4): per channel the
//! top posts of the period by the chosen figure (published in it, or measured in it), each with
//! the figure at the period's end beside the figure at its start; the same list for the period
//! before; the goals judged in the period (met, not met) and each campaign's web sessions and
//! goal completions — each beside the period before. `build` gives the figures, `csv_rows` and
//! `html` render them the report's way (the report's six CSV columns; every text escaped, since
//! post text is hostile input). Aggregates and post excerpts only (masked, and only for readers
//! of comments on the post's channel); nothing names a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::render::Lang;
use super::{excerpt, Figure, ReportPeriod};
use crate::posts::{self, GoalStatus};
use crate::store::posts::PostSummary;
use crate::store::scope::{ReadScope, COMMENTS};
use crate::store::Store;
use crate::text::escape_html as escape;

/// Posts listed per channel and period.
pub const TOP_POSTS: usize = 5;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportTopPost)]
pub struct TopPost {
    pub post_id: i64,
    pub platform_id: String,
    #[schema(required = true)]
    pub post_type: Option<String>,
    /// The post's words, cut and with personal data masked; null for a caller who does not read
    /// comments on its channel.
    #[schema(required = true)]
    pub excerpt: Option<String>,
    /// Epoch ms.
    #[schema(required = true)]
    pub published_at: Option<i64>,
    /// The chosen figure at the period's end (its last measurement before then); null: not
    /// measured.
    #[schema(required = true)]
    pub value: Option<i64>,
    /// The same figure at the period's start (the end of the period before); null: not measured by
    /// then.
    #[schema(required = true)]
    pub previous: Option<i64>,
    /// Inbound comments in the post's thread in the period.
    pub comments: i64,
    /// Of those, the ones FAQ placed in a question cluster.
    pub questions: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelTop {
    pub channel_id: i64,
    pub channel_name: String,
    /// The period's posts (published or measured in it), the highest figure first.
    #[schema(max_items = 5)]
    pub top: Vec<TopPost>,
    /// The same list for the period before.
    #[schema(max_items = 5)]
    pub previous_top: Vec<TopPost>,
    /// Posts published in the period and in the one before.
    pub posts: Figure,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignFigures {
    pub campaign_id: i64,
    pub name: String,
    pub sessions: Figure,
    pub goal_completions: Figure,
}

/// Post follow-up in the report, within the caller's channel limit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportPostSection)]
pub struct PostSection {
    // The figure posts are ranked by.
    #[schema(inline, value_type = posts::Metric)]
    pub metric: String,
    #[schema(inline)]
    pub channels: Vec<ChannelTop>,
    /// Goals whose day fell in the period: met and not met, beside the period before.
    pub goals_met: Figure,
    pub goals_not_met: Figure,
    #[schema(inline)]
    pub campaigns: Vec<CampaignFigures>,
}

/// One period's figures per post: at its end, at its start.
type Figures = BTreeMap<i64, BTreeMap<String, (i64, i64)>>;

/// A channel's posts of the period (published or measured in [from, to)), the highest figure
/// first, and how many were published in it.
fn top_of(
    posts: &[PostSummary],
    channel: i64,
    metric: &str,
    (from, to): (i64, i64),
    (at_end, at_start): (&Figures, &Figures),
) -> (Vec<TopPost>, i64) {
    let figure = |figures: &Figures, post: i64| {
        figures
            .get(&post)
            .and_then(|f| f.get(metric))
            .map(|(value, measured_at)| (*value, *measured_at))
    };
    let published = |p: &PostSummary| p.published_at.is_some_and(|t| t >= from && t < to);
    let mine: Vec<&PostSummary> = posts.iter().filter(|p| p.channel_id == channel).collect();
    let count = mine.iter().filter(|p| published(p)).count() as i64;
    let mut chosen: Vec<(&PostSummary, Option<i64>)> = mine
        .into_iter()
        .filter_map(|p| {
            let end = figure(at_end, p.id);
            let measured = end.is_some_and(|(_, at)| at >= from);
            (published(p) || measured).then_some((p, end.map(|(v, _)| v)))
        })
        .collect();
    chosen.sort_by_key(|(p, value)| (std::cmp::Reverse(value.unwrap_or(-1)), p.id));
    let top = chosen
        .into_iter()
        .take(TOP_POSTS)
        .map(|(p, value)| TopPost {
            post_id: p.id,
            platform_id: p.platform_id.clone(),
            post_type: p.post_type.clone(),
            excerpt: p.text.as_deref().map(|t| excerpt(t, 160)),
            published_at: p.published_at,
            value,
            previous: figure(at_start, p.id).map(|(v, _)| v),
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
        .post_summaries_measured(scope.channels(), start, end, 100_000, &readable)
        .await?;
    let before_posts = store
        .post_summaries_measured(scope.channels(), b_start, b_end, 100_000, &readable)
        .await?;
    // The figures at the three moments: this period's end, its start (the end of the one
    // before), and the start of the one before.
    let ids: Vec<i64> = now_posts
        .iter()
        .chain(&before_posts)
        .map(|p| p.id)
        .collect();
    let at_end = store.figures_as_of(&ids, end).await?;
    let at_start = store.figures_as_of(&ids, start).await?;
    let at_b_start = store.figures_as_of(&ids, b_start).await?;
    let mut channels = Vec::new();
    let mut seen: Vec<(i64, String)> = now_posts
        .iter()
        .chain(&before_posts)
        .map(|p| (p.channel_id, p.channel_name.clone()))
        .collect();
    seen.sort();
    seen.dedup();
    for (channel_id, channel_name) in seen {
        let (top, n) = top_of(
            &now_posts,
            channel_id,
            metric,
            (start, end),
            (&at_end, &at_start),
        );
        let (previous_top, m) = top_of(
            &before_posts,
            channel_id,
            metric,
            (b_start, b_end),
            (&at_start, &at_b_start),
        );
        if top.is_empty() && previous_top.is_empty() && n == 0 && m == 0 {
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

fn whole(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The section's rows for the report's CSV, in its columns: section, channel, kind, metric,
/// value, previous value. A top post's kind is its type (reel, photo…), its metric names the
/// rank, the figure and the post.
pub fn csv_rows(section: &PostSection) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    let mut row = |cells: [&str; 6]| out.push(cells.map(str::to_string));
    for c in &section.channels {
        row([
            "posts",
            &c.channel_name,
            "",
            "published",
            &number(c.posts.value),
            &number(c.posts.previous),
        ]);
        for (section_name, list) in [("top_posts", &c.top), ("top_posts_before", &c.previous_top)] {
            for (rank, p) in list.iter().enumerate() {
                let metric = format!(
                    "top {} by {}: {} {}",
                    rank + 1,
                    section.metric,
                    p.platform_id,
                    p.excerpt.as_deref().unwrap_or("")
                );
                row([
                    section_name,
                    &c.channel_name,
                    p.post_type.as_deref().unwrap_or(""),
                    metric.trim_end(),
                    &whole(p.value),
                    &whole(p.previous),
                ]);
            }
        }
    }
    for (what, f) in [
        ("met", &section.goals_met),
        ("not met", &section.goals_not_met),
    ] {
        row(["goals", "", "", what, &number(f.value), &number(f.previous)]);
    }
    for c in &section.campaigns {
        for (what, f) in [
            ("sessions", &c.sessions),
            ("goal completions", &c.goal_completions),
        ] {
            row([
                "campaigns",
                "",
                "",
                &format!("{} {what}", c.name),
                &number(f.value),
                &number(f.previous),
            ]);
        }
    }
    out
}

fn label(key: &str, lang: Lang) -> &'static str {
    let sv = lang == Lang::Sv;
    match key {
        "heading" if sv => "Inlägg, mål och kampanjer",
        "heading" => "Posts, goals and campaigns",
        "published" if sv => "Publicerade inlägg",
        "published" => "Posts published",
        "top" if sv => "Flest",
        "top" => "Top by",
        "before" if sv => "Perioden före",
        "before" => "The period before",
        "post" if sv => "Inlägg",
        "post" => "Post",
        "value" if sv => "Vid periodens slut",
        "value" => "At the period's end",
        "previous" if sv => "Vid periodens början",
        "previous" => "At the period's start",
        "previous_period" if sv => "perioden före",
        "previous_period" => "the period before",
        "goals_met" if sv => "Mål uppnådda",
        "goals_met" => "Goals met",
        "goals_not_met" if sv => "ej uppnådda",
        "goals_not_met" => "not met",
        "campaign" if sv => "Kampanj",
        "campaign" => "Campaign",
        "sessions" if sv => "Besök",
        "sessions" => "Sessions",
        "completions" if sv => "Måluppfyllelser",
        "completions" => "Goal completions",
        "none" if sv => "Inget att visa.",
        _ => "Nothing to show.",
    }
}

fn top_table(s: &mut String, list: &[TopPost], lang: Lang) {
    if list.is_empty() {
        let _ = write!(s, "<p>{}</p>", label("none", lang));
        return;
    }
    let _ = write!(
        s,
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        label("post", lang),
        label("value", lang),
        label("previous", lang)
    );
    let shown = |v: Option<i64>| v.map_or_else(|| "–".to_string(), |x| x.to_string());
    for p in list {
        let _ = write!(
            s,
            "<tr><td>{}<br><span class=\"prev\">{}</span></td><td>{}</td><td>{}</td></tr>",
            escape(p.excerpt.as_deref().unwrap_or("")),
            escape(&p.platform_id),
            shown(p.value),
            shown(p.previous)
        );
    }
    s.push_str("</tbody></table>");
}

/// The section for the printable page: its own heading, every text from data escaped.
pub fn html(section: &PostSection, lang: Lang) -> String {
    let mut s = format!("<h2>{}</h2>", label("heading", lang));
    for c in &section.channels {
        let _ = write!(
            s,
            "<h3>{}</h3><p>{}: {} ({} {})</p><h4>{} {}</h4>",
            escape(&c.channel_name),
            label("published", lang),
            number(c.posts.value),
            label("previous_period", lang),
            number(c.posts.previous),
            label("top", lang),
            escape(&section.metric)
        );
        top_table(&mut s, &c.top, lang);
        let _ = write!(s, "<h4>{}</h4>", label("before", lang));
        top_table(&mut s, &c.previous_top, lang);
    }
    let _ = write!(
        s,
        "<p>{}: {} ({} {}); {}: {} ({} {})</p>",
        label("goals_met", lang),
        number(section.goals_met.value),
        label("previous_period", lang),
        number(section.goals_met.previous),
        label("goals_not_met", lang),
        number(section.goals_not_met.value),
        label("previous_period", lang),
        number(section.goals_not_met.previous)
    );
    if !section.campaigns.is_empty() {
        let _ = write!(
            s,
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            label("campaign", lang),
            label("sessions", lang),
            label("completions", lang)
        );
        for c in &section.campaigns {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}<br><span class=\"prev\">{}</span></td><td>{}<br><span class=\"prev\">{}</span></td></tr>",
                escape(&c.name),
                number(c.sessions.value),
                number(c.sessions.previous),
                number(c.goal_completions.value),
                number(c.goal_completions.previous)
            );
        }
        s.push_str("</tbody></table>");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> PostSection {
        let post = TopPost {
            post_id: 1,
            platform_id: "930_1".into(),
            post_type: Some("photo".into()),
            excerpt: Some("=HYPERLINK(\"x\") <script>alert(1)</script>".into()),
            published_at: None,
            value: Some(450),
            previous: Some(120),
            comments: 0,
            questions: 0,
        };
        PostSection {
            metric: "reach".into(),
            channels: vec![ChannelTop {
                channel_id: 1,
                channel_name: "Kommunen <b>".into(),
                top: vec![post],
                previous_top: Vec::new(),
                posts: Figure::counts(1, 0),
            }],
            goals_met: Figure::counts(1, 0),
            goals_not_met: Figure::counts(0, 2),
            campaigns: vec![CampaignFigures {
                campaign_id: 1,
                name: "vinter".into(),
                sessions: Figure::counts(42, 7),
                goal_completions: Figure::counts(4, 0),
            }],
        }
    }

    #[test]
    fn csv_rows_have_the_reports_six_columns() {
        let rows = csv_rows(&section());
        assert!(rows.iter().all(|r| r.len() == 6));
        assert!(rows.contains(&[
            "top_posts".to_string(),
            "Kommunen <b>".into(),
            "photo".into(),
            "top 1 by reach: 930_1 =HYPERLINK(\"x\") <script>alert(1)</script>".into(),
            "450".into(),
            "120".into(),
        ]));
        assert!(rows.contains(&["goals", "", "", "not met", "0", "2"].map(String::from)));
        assert!(
            rows.contains(&["campaigns", "", "", "vinter sessions", "42", "7"].map(String::from))
        );
    }

    #[test]
    fn the_page_escapes_post_text_and_names() {
        let page = html(&section(), Lang::En);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Kommunen &lt;b&gt;"));
        assert!(page.contains("<td>450</td><td>120</td>"));
    }
}
