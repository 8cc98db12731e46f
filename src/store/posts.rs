//! Post follow-up's rows (issue 21): the channels' own posts with their figures over time as
//! the Graph API gave them, how fetching went per channel, web analytics per UTM campaign,
//! campaigns, goals and communicators' notes on a post's evaluation. Figures are aggregates
//! only: nothing here names a person. The rules (what a figure means, when a goal is met) are
//! the `posts` capability's; this file only reads and writes.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::scope::Args;
use super::{now_ms, Result, Store, StoreError};

/// A channel whose posts can be fetched: what the fetcher needs, the token file's path
/// included (the token itself is read from the file at each fetch, never stored).
#[derive(Debug, Clone)]
pub struct FetchChannel {
    pub id: i64,
    pub platform: String,
    pub platform_id: String,
    pub name: String,
    pub token_file: Option<String>,
    /// No request before this (the platform asked us to wait).
    pub not_before: i64,
}

/// One post as the platform gave it, with its figures at this fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchedPost {
    pub platform_id: String,
    pub text: Option<String>,
    pub post_type: Option<String>,
    pub permalink: Option<String>,
    pub platform_time: Option<i64>,
    pub figures: Vec<(String, i64)>,
}

/// How the last fetch of a channel went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FetchState {
    /// When it was last tried, epoch ms.
    pub attempted_at: i64,
    /// When it last went well, epoch ms; null if it never has.
    pub succeeded_at: Option<i64>,
    /// What went wrong at the last fetch, in plain words; null when nothing did.
    pub problem: Option<String>,
    /// No request before this (the platform asked tavla to wait), epoch ms; 0 when it did not.
    pub not_before: i64,
}

/// One of a channel's own posts: its latest figures from the platform and what its thread stirred
/// up (in the period asked for, or over all time).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostSummary {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    #[schema(schema_with = post_platform)]
    pub platform: String,
    pub platform_id: String,
    /// The post's words; null for a caller who does not read comments on its channel.
    pub text: Option<String>,
    /// Facebook's status_type; on Instagram reel, story, video, carousel or image.
    pub post_type: Option<String>,
    pub permalink: Option<String>,
    /// Epoch ms.
    pub published_at: Option<i64>,
    /// When its figures were last read from the platform, epoch ms; null for a post known from
    /// comments only.
    pub fetched_at: Option<i64>,
    /// The latest value of each figure the platform gave: reach, impressions, engagements,
    /// reactions, shares, link_clicks, video_views; for an Instagram story also replies,
    /// navigation and its breakdown taps_forward, taps_back, exits, swipes_forward. A figure the
    /// platform did not give is absent, not 0.
    pub figures: BTreeMap<String, i64>,
    /// Inbound comments in the post's thread (in the period, when one is given).
    pub comments: i64,
    /// Of those, the ones FAQ placed in a question cluster.
    pub questions: i64,
    /// Of those, the ones triage flagged at S2 or above.
    pub flagged: i64,
    /// Moderation cases opened about the thread's messages.
    pub moderation_cases: i64,
}

/// The platforms whose posts are followed, for the API description.
fn post_platform() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(crate::model::Platform::NAMES))
        .build()
}

/// One comment of a post's thread, as the post's view counts them.
#[derive(Debug, Clone)]
pub struct ThreadComment {
    pub message_id: i64,
    pub platform_id: Option<String>,
    pub at: i64,
    pub flagged: bool,
}

/// One measurement of one figure.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub metric: String,
    pub value: i64,
    pub measured_at: i64,
}

/// A goal as set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Goal {
    pub id: i64,
    /// The post the goal is on; null when it is on a campaign (a goal is on exactly one).
    pub post_id: Option<i64>,
    /// The campaign the goal is on; null when it is on a post.
    pub campaign_id: Option<i64>,
    pub metric: String,
    pub target: i64,
    /// Who the goal is to reach.
    pub audience: Option<String>,
    /// The communication plan's own words for the goal.
    pub plan_text: Option<String>,
    /// The end of the day it is judged on (Swedish time), epoch ms.
    pub due_at: i64,
    /// The username of who set it, when known.
    pub set_by: Option<String>,
    /// When it was set, epoch ms.
    pub set_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewGoal {
    pub post_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub metric: String,
    pub target: i64,
    pub audience: Option<String>,
    pub plan_text: Option<String>,
    pub due_at: i64,
}

/// What a change of a goal sets; None leaves a field as it is (`Some(None)` clears the audience
/// or the plan text).
#[derive(Debug, Clone, Default)]
pub struct GoalChange {
    pub metric: Option<String>,
    pub target: Option<i64>,
    pub audience: Option<Option<String>>,
    pub plan_text: Option<Option<String>>,
    pub due_at: Option<i64>,
}

/// A set of posts named as its UTM campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    /// Its UTM campaign (utm_campaign).
    pub name: String,
    pub post_ids: Vec<i64>,
    /// The channels of its posts (a caller sees a campaign when they see all of them).
    pub channel_ids: Vec<i64>,
    pub created_at: i64,
}

/// A note on a post's evaluation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvaluationNote {
    pub id: i64,
    pub post_id: i64,
    pub channel_id: i64,
    pub text: String,
    pub written_by: Option<String>,
    pub written_at: i64,
}

/// One row of a web analytics export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsRow {
    pub day: String,
    pub campaign: String,
    pub sessions: i64,
    pub goal_completions: i64,
}

/// The channel's own posts: fetched from the platform, or written by the page itself. A visitor's
/// post on the page is a person's, and stays out of post follow-up.
const OWN_POST: &str = "(p.author_id is null or exists (select 1 from authors a \
     where a.id = p.author_id and a.platform_id = ch.platform_id)) \
     and not exists (select 1 from messages vm where vm.channel_id = p.channel_id \
     and vm.kind = 'visitor_post' and vm.platform_id = p.platform_id)";

const SUMMARY_SELECT: &str = "select p.id, p.channel_id, ch.name as channel_name, ch.platform, \
     p.platform_id, p.text, p.post_type, p.permalink, p.platform_time, p.fetched_at";

/// `in ($n, …)` for the ids, bound through `args`.
fn in_list(args: &mut Args, ids: &[i64]) -> String {
    ids.iter()
        .map(|id| args.int(*id))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Approved Facebook and Instagram channels (those in `channels` when given), with how long
    /// the platform asked us to wait.
    pub async fn post_fetch_channels(&self, channels: Option<&[i64]>) -> Result<Vec<FetchChannel>> {
        let mut args = Args::default();
        let mut sql = "select ch.id, ch.platform, ch.platform_id, ch.name, ch.access_token_file, \
             coalesce(f.not_before, 0) as not_before from channels ch \
             left join post_fetches f on f.channel_id = ch.id \
             where ch.approved = 1 and ch.platform in ('facebook', 'instagram')"
            .to_string();
        if let Some(ids) = channels {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" and ch.id in ({})", in_list(&mut args, ids)));
        }
        sql.push_str(" order by ch.id");
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(FetchChannel {
                    id: r.try_get("id")?,
                    platform: r.try_get("platform")?,
                    platform_id: r.try_get("platform_id")?,
                    name: r.try_get("name")?,
                    token_file: r.try_get("access_token_file")?,
                    not_before: r.try_get("not_before")?,
                })
            })
            .collect()
    }

    /// Stores what one fetch of a channel found: each post (created or brought up to date) and
    /// its figures at `measured_at`, the fetch's outcome (`problem` when part of it failed) and
    /// its event, together. Returns how many figures were stored.
    pub async fn save_fetched_posts(
        &self,
        channel_id: i64,
        posts: &[FetchedPost],
        measured_at: i64,
        problem: Option<&str>,
        not_before: i64,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let mut figures = 0;
        for post in posts {
            let id: i64 = sqlx::query_scalar(
                "insert into posts (channel_id, platform_id, text, platform_time, created_at, \
                 post_type, permalink, fetched_at) values ($1, $2, $3, $4, $5, $6, $7, $8) \
                 on conflict (channel_id, platform_id) do update set \
                 text = coalesce(excluded.text, posts.text), \
                 platform_time = coalesce(posts.platform_time, excluded.platform_time), \
                 post_type = coalesce(excluded.post_type, posts.post_type), \
                 permalink = coalesce(excluded.permalink, posts.permalink), \
                 fetched_at = excluded.fetched_at returning id",
            )
            .bind(channel_id)
            .bind(&post.platform_id)
            .bind(post.text.as_deref())
            .bind(post.platform_time)
            .bind(measured_at)
            .bind(post.post_type.as_deref())
            .bind(post.permalink.as_deref())
            .bind(measured_at)
            .fetch_one(&mut *tx)
            .await?;
            for (metric, value) in &post.figures {
                figures += sqlx::query(
                    "insert into post_insights (post_id, metric, value, measured_at) \
                     values ($1, $2, $3, $4) on conflict (post_id, metric, measured_at) do nothing",
                )
                .bind(id)
                .bind(metric)
                .bind(*value)
                .bind(measured_at)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
        }
        upsert_fetch(&mut tx, channel_id, measured_at, true, problem, not_before).await?;
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::PostsRefreshed,
                channel_id: Some(channel_id),
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"posts": posts.len(), "figures": figures}),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(figures)
    }

    /// Records a fetch that got nothing: why, and when the next may be made.
    pub async fn record_fetch_problem(
        &self,
        channel_id: i64,
        problem: &str,
        not_before: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        upsert_fetch(
            &mut tx,
            channel_id,
            now_ms(),
            false,
            Some(problem),
            not_before,
        )
        .await?;
        self.commit(tx).await
    }

    /// How the last fetch of each channel went.
    pub async fn fetch_states(&self) -> Result<BTreeMap<i64, FetchState>> {
        let rows = sqlx::query(
            "select channel_id, attempted_at, succeeded_at, problem, not_before from post_fetches",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("channel_id")?,
                    FetchState {
                        attempted_at: r.try_get("attempted_at")?,
                        succeeded_at: r.try_get("succeeded_at")?,
                        problem: r.try_get("problem")?,
                        not_before: r.try_get("not_before")?,
                    },
                ))
            })
            .collect()
    }

    /// Posts on `channels` (None: every channel), with their threads' counts between `from` and
    /// `to`: posts published then, or whose threads had comments then. The newest first, at most
    /// `limit`. Words only where `readable(channel)` says so.
    pub async fn post_summaries(
        &self,
        channels: Option<&[i64]>,
        from: i64,
        to: i64,
        limit: i64,
        readable: &(dyn Fn(i64) -> bool + Sync),
    ) -> Result<Vec<PostSummary>> {
        self.summaries(channels, from, to, limit, readable, false)
            .await
    }

    /// As `post_summaries`, and also the posts measured between `from` and `to`: the report
    /// ranks a post whose figures grew in the period even when it was published before it.
    pub async fn post_summaries_measured(
        &self,
        channels: Option<&[i64]>,
        from: i64,
        to: i64,
        limit: i64,
        readable: &(dyn Fn(i64) -> bool + Sync),
    ) -> Result<Vec<PostSummary>> {
        self.summaries(channels, from, to, limit, readable, true)
            .await
    }

    async fn summaries(
        &self,
        channels: Option<&[i64]>,
        from: i64,
        to: i64,
        limit: i64,
        readable: &(dyn Fn(i64) -> bool + Sync),
        measured: bool,
    ) -> Result<Vec<PostSummary>> {
        let mut args = Args::default();
        let thread = |args: &mut Args, extra: &str| {
            format!(
                "(select count(*) from messages m join conversations c on c.id = m.conversation_id \
                 where c.post_id = p.id and c.kind = 'comments' and m.direction = 'inbound' \
                 and m.platform_time >= {} and m.platform_time < {}{extra})",
                args.int(from),
                args.int(to)
            )
        };
        let comments = thread(&mut args, "");
        let questions = thread(
            &mut args,
            " and exists (select 1 from faq_members fm where fm.message_id = m.id)",
        );
        let flagged = thread(
            &mut args,
            " and exists (select 1 from message_flags f where f.message_id = m.id and f.severity >= 'S2')",
        );
        let cases = format!(
            "(select count(*) from moderation_cases k join conversations c on c.id = k.conversation_id \
             where c.post_id = p.id and k.opened_at >= {} and k.opened_at < {})",
            args.int(from),
            args.int(to)
        );
        let mut conditions = vec![
            OWN_POST.to_string(),
            format!(
            "((p.platform_time >= {} and p.platform_time < {}) or exists (select 1 from messages m \
             join conversations c on c.id = m.conversation_id where c.post_id = p.id \
             and m.direction = 'inbound' and m.platform_time >= {} and m.platform_time < {}){}",
            args.int(from),
            args.int(to),
            args.int(from),
            args.int(to),
            if measured {
                format!(
                    " or exists (select 1 from post_insights i where i.post_id = p.id \
                     and i.measured_at >= {} and i.measured_at < {}))",
                    args.int(from),
                    args.int(to)
                )
            } else {
                ")".to_string()
            }
        ),
        ];
        if let Some(ids) = channels {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            conditions.push(format!("p.channel_id in ({})", in_list(&mut args, ids)));
        }
        let sql = format!(
            "{SUMMARY_SELECT}, {comments} as comments, {questions} as questions, {flagged} as flagged, \
             {cases} as cases from posts p join channels ch on ch.id = p.channel_id where {} \
             order by coalesce(p.platform_time, p.created_at) desc, p.id desc limit {}",
            conditions.join(" and "),
            args.int(limit)
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let channel_id: i64 = r.try_get("channel_id")?;
            out.push(PostSummary {
                id: r.try_get("id")?,
                channel_id,
                channel_name: r.try_get("channel_name")?,
                platform: r.try_get("platform")?,
                platform_id: r.try_get("platform_id")?,
                text: if readable(channel_id) {
                    r.try_get("text")?
                } else {
                    None
                },
                post_type: r.try_get("post_type")?,
                permalink: r.try_get("permalink")?,
                published_at: r.try_get("platform_time")?,
                fetched_at: r.try_get("fetched_at")?,
                figures: BTreeMap::new(),
                comments: r.try_get("comments")?,
                questions: r.try_get("questions")?,
                flagged: r.try_get("flagged")?,
                moderation_cases: r.try_get("cases")?,
            });
        }
        let ids: Vec<i64> = out.iter().map(|p| p.id).collect();
        let latest = self.latest_figures(&ids).await?;
        for post in &mut out {
            if let Some(figures) = latest.get(&post.id) {
                post.figures = figures.clone();
            }
        }
        Ok(out)
    }

    /// The latest value of each figure of each post.
    pub async fn latest_figures(
        &self,
        posts: &[i64],
    ) -> Result<BTreeMap<i64, BTreeMap<String, i64>>> {
        let mut out: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
        for chunk in posts.chunks(500) {
            let mut args = Args::default();
            let list = in_list(&mut args, chunk);
            let sql = format!(
                "select i.post_id, i.metric, i.value from post_insights i where i.post_id in ({list}) \
                 and i.measured_at = (select max(i2.measured_at) from post_insights i2 \
                 where i2.post_id = i.post_id and i2.metric = i.metric)"
            );
            for r in args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
                out.entry(r.try_get("post_id")?)
                    .or_default()
                    .insert(r.try_get("metric")?, r.try_get("value")?);
            }
        }
        Ok(out)
    }

    /// Each figure of each post as it stood just before `at`: its last measurement before then,
    /// with when it was made. A report reads its period's figures so, not today's.
    pub async fn figures_as_of(
        &self,
        posts: &[i64],
        at: i64,
    ) -> Result<BTreeMap<i64, BTreeMap<String, (i64, i64)>>> {
        let mut out: BTreeMap<i64, BTreeMap<String, (i64, i64)>> = BTreeMap::new();
        for chunk in posts.chunks(500) {
            let mut args = Args::default();
            let list = in_list(&mut args, chunk);
            let before = args.int(at);
            let sql = format!(
                "select i.post_id, i.metric, i.value, i.measured_at from post_insights i \
                 where i.post_id in ({list}) and i.measured_at = (select max(i2.measured_at) \
                 from post_insights i2 where i2.post_id = i.post_id and i2.metric = i.metric \
                 and i2.measured_at < {before})"
            );
            for r in args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
                out.entry(r.try_get("post_id")?).or_default().insert(
                    r.try_get("metric")?,
                    (r.try_get("value")?, r.try_get("measured_at")?),
                );
            }
        }
        Ok(out)
    }

    /// One post with its thread's counts over all time; None when there is no such post.
    pub async fn post_summary(
        &self,
        id: i64,
        readable: &(dyn Fn(i64) -> bool + Sync),
    ) -> Result<Option<PostSummary>> {
        let Some(channel) = self.post_channel(id).await? else {
            return Ok(None);
        };
        let all = self
            .post_summaries(
                Some(&[channel]),
                i64::MIN / 4,
                i64::MAX / 4,
                i64::MAX / 4,
                readable,
            )
            .await?;
        if let Some(found) = all.into_iter().find(|p| p.id == id) {
            return Ok(Some(found));
        }
        // A post with no time and no comments: read it alone.
        let sql = format!(
            "{SUMMARY_SELECT} from posts p join channels ch on ch.id = p.channel_id \
             where p.id = $1 and {OWN_POST}"
        );
        let Some(r) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let channel_id: i64 = r.try_get("channel_id")?;
        Ok(Some(PostSummary {
            id,
            channel_id,
            channel_name: r.try_get("channel_name")?,
            platform: r.try_get("platform")?,
            platform_id: r.try_get("platform_id")?,
            text: if readable(channel_id) {
                r.try_get("text")?
            } else {
                None
            },
            post_type: r.try_get("post_type")?,
            permalink: r.try_get("permalink")?,
            published_at: r.try_get("platform_time")?,
            fetched_at: r.try_get("fetched_at")?,
            figures: self
                .latest_figures(&[id])
                .await?
                .remove(&id)
                .unwrap_or_default(),
            comments: 0,
            questions: 0,
            flagged: 0,
            moderation_cases: 0,
        }))
    }

    /// The channel a post is on.
    /// Only the channel's own posts: a visitor's post is None.
    pub async fn post_channel(&self, id: i64) -> Result<Option<i64>> {
        let sql = format!(
            "select p.channel_id from posts p join channels ch on ch.id = p.channel_id \
             where p.id = $1 and {OWN_POST}"
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every measurement of a post, oldest first.
    pub async fn post_series(&self, id: i64) -> Result<Vec<Measurement>> {
        let rows = sqlx::query(
            "select metric, value, measured_at from post_insights where post_id = $1 \
             order by measured_at, metric",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Measurement {
                    metric: r.try_get("metric")?,
                    value: r.try_get("value")?,
                    measured_at: r.try_get("measured_at")?,
                })
            })
            .collect()
    }

    /// The inbound comments of a post's thread, oldest first, each with whether triage flagged
    /// it at S2 or above (ids and times only, never the words).
    pub async fn post_thread_comments(&self, id: i64) -> Result<Vec<ThreadComment>> {
        let rows = sqlx::query(
            "select m.id, m.platform_id, m.platform_time, \
             case when exists (select 1 from message_flags f where f.message_id = m.id and f.severity >= 'S2') \
             then 1 else 0 end as flagged \
             from messages m join conversations c on c.id = m.conversation_id \
             where c.post_id = $1 and c.kind = 'comments' and m.direction = 'inbound' \
             order by m.platform_time, m.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let flagged: i64 = r.try_get("flagged")?;
                Ok(ThreadComment {
                    message_id: r.try_get("id")?,
                    platform_id: r.try_get("platform_id")?,
                    at: r.try_get("platform_time")?,
                    flagged: flagged > 0,
                })
            })
            .collect()
    }

    /// The platform ids of the thread's comments that the organisation replied to.
    pub async fn post_replied_comments(&self, id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "select distinct m.parent_platform_id from messages m \
             join conversations c on c.id = m.conversation_id \
             where c.post_id = $1 and m.direction = 'outbound' and m.parent_platform_id is not null",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Imports a web analytics export: every row or none. A row for a day and campaign already
    /// imported replaces it (a corrected export is imported again).
    pub async fn import_campaign_analytics(
        &self,
        rows: &[AnalyticsRow],
        actor: &Actor,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        for row in rows {
            sqlx::query(
                "insert into campaign_analytics (day, campaign, sessions, goal_completions, imported_at, imported_by) \
                 values ($1, $2, $3, $4, $5, $6) on conflict (day, campaign) do update set \
                 sessions = excluded.sessions, goal_completions = excluded.goal_completions, \
                 imported_at = excluded.imported_at, imported_by = excluded.imported_by",
            )
            .bind(&row.day)
            .bind(&row.campaign)
            .bind(row.sessions)
            .bind(row.goal_completions)
            .bind(now)
            .bind(actor.staff_id)
            .execute(&mut *tx)
            .await?;
        }
        let campaigns: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.campaign.as_str()).collect();
        record(
            &mut tx,
            actor,
            "campaign_analytics.imported",
            None,
            serde_json::json!({"rows": rows.len(), "campaigns": campaigns.len()}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(rows.len())
    }

    /// Sessions and goal completions of a UTM campaign on days up to `last_day` (YYYY-MM-DD).
    pub async fn campaign_web_figures(&self, campaign: &str, last_day: &str) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "select cast(coalesce(sum(sessions), 0) as bigint) as sessions, \
             cast(coalesce(sum(goal_completions), 0) as bigint) as goals \
             from campaign_analytics where campaign = $1 and day <= $2",
        )
        .bind(campaign)
        .bind(last_day)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("sessions")?, row.try_get("goals")?))
    }

    /// Creates a campaign of posts (its name is its UTM campaign's).
    pub async fn add_campaign(&self, name: &str, posts: &[i64], actor: &Actor) -> Result<Campaign> {
        let mut tx = self.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar("select id from campaigns where name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a campaign named {name:?} exists already; choose another name or add goals to it"
            )));
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "insert into campaigns (name, created_by, created_at) values ($1, $2, $3) returning id",
        )
        .bind(name)
        .bind(actor.staff_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for post in posts {
            sqlx::query(
                "insert into campaign_posts (campaign_id, post_id) values ($1, $2) on conflict do nothing",
            )
            .bind(id)
            .bind(*post)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::PostEvaluationChanged,
                channel_id: None,
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"campaign_id": id}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "campaign.created",
            Some(&format!("campaign:{id}")),
            serde_json::json!({"posts": posts}),
        )
        .await?;
        self.commit(tx).await?;
        self.campaigns()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("there is no campaign {id}")))
    }

    /// Every campaign with its posts and their channels.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        let rows = sqlx::query("select id, name, created_at from campaigns order by id")
            .fetch_all(&self.pool)
            .await?;
        let members = sqlx::query(
            "select cp.campaign_id, cp.post_id, p.channel_id from campaign_posts cp \
             join posts p on p.id = cp.post_id order by cp.post_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let mut post_ids = Vec::new();
            let mut channel_ids = Vec::new();
            for m in &members {
                if m.try_get::<i64, _>("campaign_id")? == id {
                    post_ids.push(m.try_get("post_id")?);
                    let channel: i64 = m.try_get("channel_id")?;
                    if !channel_ids.contains(&channel) {
                        channel_ids.push(channel);
                    }
                }
            }
            channel_ids.sort_unstable();
            out.push(Campaign {
                id,
                name: r.try_get("name")?,
                post_ids,
                channel_ids,
                created_at: r.try_get("created_at")?,
            });
        }
        Ok(out)
    }

    /// Sets a goal on a post or a campaign.
    pub async fn add_goal(&self, goal: &NewGoal, actor: &Actor) -> Result<Goal> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "insert into post_goals (post_id, campaign_id, metric, target, audience, plan_text, due_at, created_by, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        )
        .bind(goal.post_id)
        .bind(goal.campaign_id)
        .bind(&goal.metric)
        .bind(goal.target)
        .bind(goal.audience.as_deref())
        .bind(goal.plan_text.as_deref())
        .bind(goal.due_at)
        .bind(actor.staff_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let channel_id = match goal.post_id {
            Some(post) => {
                sqlx::query_scalar("select channel_id from posts where id = $1")
                    .bind(post)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::PostEvaluationChanged,
                channel_id,
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"goal_id": id}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "goal.set",
            Some(&format!("goal:{id}")),
            serde_json::json!({"post_id": goal.post_id, "campaign_id": goal.campaign_id,
                "metric": goal.metric, "target": goal.target}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(Goal {
            id,
            post_id: goal.post_id,
            campaign_id: goal.campaign_id,
            metric: goal.metric.clone(),
            target: goal.target,
            audience: goal.audience.clone(),
            plan_text: goal.plan_text.clone(),
            due_at: goal.due_at,
            set_by: Some(actor.name.clone()),
            set_at: now,
        })
    }

    /// Goals, oldest first: of one post, of one campaign, or every goal.
    pub async fn goals(&self, post: Option<i64>, campaign: Option<i64>) -> Result<Vec<Goal>> {
        let rows = sqlx::query(
            "select g.id, g.post_id, g.campaign_id, g.metric, g.target, g.audience, g.plan_text, \
             g.due_at, g.created_at, s.username from post_goals g left join staff s on s.id = g.created_by \
             where ($1 = 0 or g.post_id = $2) and ($3 = 0 or g.campaign_id = $4) order by g.id",
        )
        .bind(post.is_some() as i64)
        .bind(post.unwrap_or(0))
        .bind(campaign.is_some() as i64)
        .bind(campaign.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Goal {
                    id: r.try_get("id")?,
                    post_id: r.try_get("post_id")?,
                    campaign_id: r.try_get("campaign_id")?,
                    metric: r.try_get("metric")?,
                    target: r.try_get("target")?,
                    audience: r.try_get("audience")?,
                    plan_text: r.try_get("plan_text")?,
                    due_at: r.try_get("due_at")?,
                    set_by: r.try_get("username")?,
                    set_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One goal by id.
    pub async fn goal(&self, id: i64) -> Result<Option<Goal>> {
        Ok(self
            .goals(None, None)
            .await?
            .into_iter()
            .find(|g| g.id == id))
    }

    /// Changes a goal's metric, target, audience, plan text or date (what `change` holds), with
    /// its event and audit entry (the fields changed, never their words).
    pub async fn change_goal(&self, id: i64, change: &GoalChange, actor: &Actor) -> Result<Goal> {
        let mut tx = self.begin().await?;
        let found: Option<i64> = sqlx::query_scalar("select id from post_goals where id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("there is no goal {id}")));
        }
        let mut fields = Vec::new();
        if let Some(metric) = &change.metric {
            sqlx::query("update post_goals set metric = $1 where id = $2")
                .bind(metric)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            fields.push("metric");
        }
        if let Some(target) = change.target {
            sqlx::query("update post_goals set target = $1 where id = $2")
                .bind(target)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            fields.push("target");
        }
        if let Some(audience) = &change.audience {
            sqlx::query("update post_goals set audience = $1 where id = $2")
                .bind(audience.as_deref())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            fields.push("audience");
        }
        if let Some(plan_text) = &change.plan_text {
            sqlx::query("update post_goals set plan_text = $1 where id = $2")
                .bind(plan_text.as_deref())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            fields.push("plan_text");
        }
        if let Some(due_at) = change.due_at {
            sqlx::query("update post_goals set due_at = $1 where id = $2")
                .bind(due_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            fields.push("due");
        }
        let channel = goal_channel(&mut tx, id).await?;
        evaluation_changed(&mut tx, channel, serde_json::json!({"goal_id": id})).await?;
        record(
            &mut tx,
            actor,
            "goal.changed",
            Some(&format!("goal:{id}")),
            serde_json::json!({"fields": fields, "metric": change.metric, "target": change.target}),
        )
        .await?;
        self.commit(tx).await?;
        self.goal(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("there is no goal {id}")))
    }

    /// Removes a goal, with its event and audit entry.
    pub async fn remove_goal(&self, id: i64, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        let channel = goal_channel(&mut tx, id).await?;
        let gone = sqlx::query("delete from post_goals where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound(format!("there is no goal {id}")));
        }
        evaluation_changed(&mut tx, channel, serde_json::json!({"goal_id": id})).await?;
        record(
            &mut tx,
            actor,
            "goal.removed",
            Some(&format!("goal:{id}")),
            serde_json::json!({}),
        )
        .await?;
        self.commit(tx).await
    }

    /// Renames a campaign and/or replaces its posts, with its event and audit entry.
    pub async fn change_campaign(
        &self,
        id: i64,
        name: Option<&str>,
        posts: Option<&[i64]>,
        actor: &Actor,
    ) -> Result<Campaign> {
        let mut tx = self.begin().await?;
        super::rename_unique(
            &mut tx,
            "campaigns",
            id,
            name,
            format!("there is no campaign {id}"),
            format!(
                "a campaign named {:?} exists already; choose another name",
                name.unwrap_or("")
            ),
        )
        .await?;
        if let Some(posts) = posts {
            sqlx::query("delete from campaign_posts where campaign_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for post in posts {
                sqlx::query(
                    "insert into campaign_posts (campaign_id, post_id) values ($1, $2) on conflict do nothing",
                )
                .bind(id)
                .bind(*post)
                .execute(&mut *tx)
                .await?;
            }
        }
        evaluation_changed(&mut tx, None, serde_json::json!({"campaign_id": id})).await?;
        record(
            &mut tx,
            actor,
            "campaign.changed",
            Some(&format!("campaign:{id}")),
            serde_json::json!({"renamed": name.is_some(), "posts": posts}),
        )
        .await?;
        self.commit(tx).await?;
        self.campaigns()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("there is no campaign {id}")))
    }

    /// Removes a campaign with its goals (they measured the campaign, and mean nothing without
    /// it); its posts and the imported analytics stay. Returns how many goals went.
    pub async fn remove_campaign(&self, id: i64, actor: &Actor) -> Result<u64> {
        let mut tx = self.begin().await?;
        let goals = sqlx::query("delete from post_goals where campaign_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("delete from campaign_posts where campaign_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("delete from campaigns where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound(format!("there is no campaign {id}")));
        }
        evaluation_changed(&mut tx, None, serde_json::json!({"campaign_id": id})).await?;
        record(
            &mut tx,
            actor,
            "campaign.removed",
            Some(&format!("campaign:{id}")),
            serde_json::json!({"goals": goals}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(goals)
    }

    /// One note on a post's evaluation, with the staff id of its writer.
    pub async fn evaluation_note(&self, id: i64) -> Result<Option<(EvaluationNote, Option<i64>)>> {
        let row = sqlx::query(
            "select n.id, n.post_id, p.channel_id, n.text, n.written_at, n.written_by, s.username \
             from post_evaluation_notes n join posts p on p.id = n.post_id \
             left join staff s on s.id = n.written_by where n.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                EvaluationNote {
                    id: r.try_get("id")?,
                    post_id: r.try_get("post_id")?,
                    channel_id: r.try_get("channel_id")?,
                    text: r.try_get("text")?,
                    written_by: r.try_get("username")?,
                    written_at: r.try_get("written_at")?,
                },
                r.try_get("written_by")?,
            ))
        })
        .transpose()
    }

    /// Rewrites a note (`Some(text)`) or removes it (`None`), with its event and audit entry
    /// (its length, never its words). Returns the note as it stands, None when removed.
    pub async fn change_evaluation_note(
        &self,
        id: i64,
        text: Option<&str>,
        actor: &Actor,
    ) -> Result<Option<EvaluationNote>> {
        let Some((note, _)) = self.evaluation_note(id).await? else {
            return Err(StoreError::NotFound(format!("there is no note {id}")));
        };
        let mut tx = self.begin().await?;
        let (changed, action) = match text {
            Some(text) => (
                sqlx::query("update post_evaluation_notes set text = $1 where id = $2")
                    .bind(text)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                "post_note.changed",
            ),
            None => (
                sqlx::query("delete from post_evaluation_notes where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                "post_note.removed",
            ),
        };
        if changed == 0 {
            return Err(StoreError::NotFound(format!("there is no note {id}")));
        }
        evaluation_changed(
            &mut tx,
            Some(note.channel_id),
            serde_json::json!({"post_id": note.post_id, "note_id": id}),
        )
        .await?;
        record(
            &mut tx,
            actor,
            action,
            Some(&format!("post:{}", note.post_id)),
            serde_json::json!({"note_id": id, "characters": text.map(|t| t.chars().count())}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(text.map(|t| EvaluationNote {
            text: t.to_string(),
            ..note
        }))
    }

    /// Writes a note on a post's evaluation, with its event and audit entry.
    pub async fn add_evaluation_note(
        &self,
        post_id: i64,
        text: &str,
        actor: &Actor,
    ) -> Result<EvaluationNote> {
        let mut tx = self.begin().await?;
        let channel_id: i64 = sqlx::query_scalar("select channel_id from posts where id = $1")
            .bind(post_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("there is no post {post_id}")))?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "insert into post_evaluation_notes (post_id, text, written_by, written_at) \
             values ($1, $2, $3, $4) returning id",
        )
        .bind(post_id)
        .bind(text)
        .bind(actor.staff_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::PostEvaluationChanged,
                channel_id: Some(channel_id),
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"post_id": post_id, "note_id": id}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "post.noted",
            Some(&format!("post:{post_id}")),
            serde_json::json!({"note_id": id, "characters": text.chars().count()}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(EvaluationNote {
            id,
            post_id,
            channel_id,
            text: text.to_string(),
            written_by: Some(actor.name.clone()),
            written_at: now,
        })
    }

    /// Notes on posts' evaluations written in [from, to) (one post's when given), on `channels`
    /// (None: every channel), oldest first.
    pub async fn evaluation_notes(
        &self,
        post: Option<i64>,
        from: i64,
        to: i64,
        channels: Option<&[i64]>,
    ) -> Result<Vec<EvaluationNote>> {
        let mut args = Args::default();
        let mut conditions = vec![
            format!("n.written_at >= {}", args.int(from)),
            format!("n.written_at < {}", args.int(to)),
        ];
        if let Some(post) = post {
            conditions.push(format!("n.post_id = {}", args.int(post)));
        }
        if let Some(ids) = channels {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            conditions.push(format!("p.channel_id in ({})", in_list(&mut args, ids)));
        }
        let sql = format!(
            "select n.id, n.post_id, p.channel_id, n.text, n.written_at, s.username \
             from post_evaluation_notes n join posts p on p.id = n.post_id \
             left join staff s on s.id = n.written_by where {} order by n.written_at, n.id",
            conditions.join(" and ")
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(EvaluationNote {
                    id: r.try_get("id")?,
                    post_id: r.try_get("post_id")?,
                    channel_id: r.try_get("channel_id")?,
                    text: r.try_get("text")?,
                    written_by: r.try_get("username")?,
                    written_at: r.try_get("written_at")?,
                })
            })
            .collect()
    }
}

async fn upsert_fetch(
    tx: &mut super::Tx<'_>,
    channel_id: i64,
    at: i64,
    succeeded: bool,
    problem: Option<&str>,
    not_before: i64,
) -> Result<()> {
    sqlx::query(
        "insert into post_fetches (channel_id, attempted_at, succeeded_at, problem, not_before) \
         values ($1, $2, $3, $4, $5) on conflict (channel_id) do update set \
         attempted_at = excluded.attempted_at, \
         succeeded_at = coalesce(excluded.succeeded_at, post_fetches.succeeded_at), \
         problem = excluded.problem, not_before = excluded.not_before",
    )
    .bind(channel_id)
    .bind(at)
    .bind(succeeded.then_some(at))
    .bind(problem)
    .bind(not_before)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The channel of a goal's post (None for a campaign's goal), for its event.
async fn goal_channel(tx: &mut super::Tx<'_>, id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "select p.channel_id from post_goals g join posts p on p.id = g.post_id where g.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Tells live views that a post's or campaign's evaluation changed.
async fn evaluation_changed(
    tx: &mut super::Tx<'_>,
    channel_id: Option<i64>,
    payload: serde_json::Value,
) -> Result<()> {
    append(
        tx,
        NewEvent {
            kind: EventKind::PostEvaluationChanged,
            channel_id,
            conversation_id: None,
            message_id: None,
            payload,
        },
    )
    .await?;
    Ok(())
}
