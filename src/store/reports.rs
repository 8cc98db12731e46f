//! The SQL behind follow-up reports (one set of statements for SQLite and PostgreSQL). The
//! period's messages are read once, in order, and counted by the caller (traffic, waits and busy
//! thread hours all come from that one pass); the rarer facts (resolutions, cases) are grouped
//! here. Percentiles are computed by the caller, since SQLite has no percentile function.
//! Every query takes the caller's channel scope (None: every channel) into its `where` clause.

use futures::TryStreamExt;
use sqlx::Row;

use super::{Result, Store};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How far before a period a conversation's earlier messages are read, to know whether its first
/// message in the period starts a new wait or continues one.
pub const LOOKBACK_MS: i64 = 7 * DAY_MS;
/// How far after a period a reply still counts as the answer to a question asked in it.
pub const LOOKAHEAD_MS: i64 = 7 * DAY_MS;

/// One message as a report's pass over the period sees it.
#[derive(Debug, Clone, Copy)]
pub struct MessageFact {
    pub conversation_id: i64,
    /// The platform's time (epoch ms).
    pub at: i64,
    pub dm: bool,
    pub inbound: bool,
    /// Not hidden or removed.
    pub visible: bool,
    /// An outbound message whose delivery failed: it never reached anyone.
    pub failed: bool,
}

#[derive(Debug, Clone)]
pub struct Resolution {
    pub channel_id: i64,
    pub conversation_kind: String,
    /// The first message from the person since the conversation was last resolved.
    pub asked_at: i64,
    pub resolved_at: i64,
}

#[derive(Debug, Clone)]
pub struct ChannelKindCount {
    pub channel_id: i64,
    pub conversation_kind: String,
    pub count: i64,
}

#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub channel_id: i64,
    pub level: String,
    pub categories: Vec<String>,
    /// When the message was posted (the platform's time): from then on it was public.
    pub arrived_at: i64,
    /// A moderator's first step (automatic steps are not a moderator's action).
    pub acted_at: Option<i64>,
    pub police_reports: i64,
    /// Hidden automatically outside staffed hours.
    pub auto_hidden: bool,
}

#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub post_platform_id: Option<String>,
    pub post_text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReportChannel {
    pub id: i64,
    pub name: String,
    pub platform: String,
}

/// ` and {column} in ($n, …)` for a scope, numbered from `first`; None when the scope is empty
/// (nothing to count).
fn scope_clause(column: &str, scope: Option<&[i64]>, first: usize) -> Option<String> {
    match scope {
        None => Some(String::new()),
        Some([]) => None,
        Some(channels) => Some(format!(
            " and {column} in ({})",
            (0..channels.len())
                .map(|i| format!("${}", first + i))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn bind_scope<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    scope: Option<&[i64]>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for c in scope.unwrap_or(&[]) {
        q = q.bind(*c);
    }
    q
}

impl Store {
    pub async fn report_channels(&self) -> Result<Vec<ReportChannel>> {
        let rows = sqlx::query("select id, name, platform from channels order by id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportChannel {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    platform: r.try_get("platform")?,
                })
            })
            .collect()
    }

    /// Every message in [from, to), oldest first (ties by id, the order they were stored in), as
    /// a report's single pass reads it: a covering index (messages_report_pass) gives them in
    /// that order without touching the rows' text. Each column crossing from the database costs
    /// more than the row around it, so kind, direction, state and delivery travel folded into
    /// the conversation's number (four low bits), and the channel is not sent at all: a
    /// conversation belongs to one channel (`report_conversation_channels`).
    pub async fn report_messages(
        &self,
        from: i64,
        to: i64,
        scope: Option<&[i64]>,
        mut each: impl FnMut(MessageFact),
    ) -> Result<()> {
        let Some(clause) = scope_clause("m.channel_id", scope, 3) else {
            return Ok(());
        };
        let sql = format!(
            "select m.platform_time, cast(m.conversation_id * 16 \
               + (case when m.kind = 'dm' then 1 else 0 end) \
               + (case when m.direction = 'inbound' then 2 else 0 end) \
               + (case when m.state = 'visible' then 4 else 0 end) \
               + (case when m.delivery = 'failed' then 8 else 0 end) as bigint) as facts \
             from messages m where m.platform_time >= $1 and m.platform_time < $2{clause} \
             order by m.platform_time, m.id"
        );
        let q = sqlx::query(&sql).bind(from).bind(to);
        let mut rows = bind_scope(q, scope).fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            let facts: i64 = r.try_get(1)?;
            each(MessageFact {
                at: r.try_get(0)?,
                conversation_id: facts >> 4,
                dm: facts & 1 != 0,
                inbound: facts & 2 != 0,
                visible: facts & 4 != 0,
                failed: facts & 8 != 0,
            });
        }
        Ok(())
    }

    /// Every conversation's channel (a conversation never changes channel).
    pub async fn report_conversation_channels(&self) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query("select id, channel_id from conversations")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Inbound comments in [from, to) that triage flagged at S2 or above, per thread and hour
    /// (hours counted from `from`).
    pub async fn report_flagged(
        &self,
        from: i64,
        to: i64,
        scope: Option<&[i64]>,
    ) -> Result<Vec<(i64, i64, i64)>> {
        let Some(clause) = scope_clause("m.channel_id", scope, 5) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select m.conversation_id, (m.platform_time - $1) / $2 as hour, count(*) as n \
             from message_flags f join messages m on m.id = f.message_id \
             where f.severity >= 'S2' and m.direction = 'inbound' and m.kind <> 'dm' \
             and m.platform_time >= $3 and m.platform_time < $4{clause} \
             group by 1, 2"
        );
        let q = sqlx::query(&sql)
            .bind(from)
            .bind(HOUR_MS)
            .bind(from)
            .bind(to);
        let rows = bind_scope(q, scope).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Conversations resolved in [start, end), each with the first message from the person since
    /// the resolution before (looked for up to a year back).
    pub async fn report_resolutions(
        &self,
        start: i64,
        end: i64,
        scope: Option<&[i64]>,
    ) -> Result<Vec<Resolution>> {
        let Some(clause) = scope_clause("c.channel_id", scope, 6) else {
            return Ok(Vec::new());
        };
        // The kind is written out (not bound) so the partial index events_status_changes applies.
        let sql = format!(
            "select c.channel_id, c.kind, r.created_at as resolved_at, \
               (select min(m.platform_time) from messages m where m.conversation_id = r.conversation_id \
                and m.direction = 'inbound' and m.platform_time <= r.created_at \
                and m.platform_time > coalesce(r.previous_at, $1)) as asked_at \
             from ( \
               select e.conversation_id, e.created_at, \
                 lag(e.created_at) over (partition by e.conversation_id order by e.created_at, e.seq) as previous_at \
               from events e where e.kind = 'conversation.status_changed' \
               and e.payload like '%\"to\":\"resolved\"%' and e.created_at >= $2 and e.created_at < $3 \
             ) r join conversations c on c.id = r.conversation_id \
             where r.created_at >= $4 and r.created_at < $5{clause}"
        );
        let year_back = start - 365 * DAY_MS;
        let q = sqlx::query(&sql)
            .bind(year_back)
            .bind(year_back)
            .bind(end)
            .bind(start)
            .bind(end);
        let rows = bind_scope(q, scope).fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in rows {
            // Resolved twice without a word from the person in between: nothing was asked.
            let asked_at: Option<i64> = r.try_get("asked_at")?;
            if let Some(asked_at) = asked_at {
                out.push(Resolution {
                    channel_id: r.try_get("channel_id")?,
                    conversation_kind: r.try_get("kind")?,
                    asked_at,
                    resolved_at: r.try_get("resolved_at")?,
                });
            }
        }
        Ok(out)
    }

    /// Conversations waiting on the person at `at`: their last status change before it was to
    /// "waiting", and the person has not written since (a new message reopens a conversation).
    pub async fn report_waiting(
        &self,
        at: i64,
        scope: Option<&[i64]>,
    ) -> Result<Vec<ChannelKindCount>> {
        let Some(clause) = scope_clause("c.channel_id", scope, 3) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select c.channel_id, c.kind, count(*) as n from ( \
               select e.conversation_id, e.created_at, e.payload, \
                 row_number() over (partition by e.conversation_id order by e.created_at desc, e.seq desc) as latest \
               from events e where e.kind = 'conversation.status_changed' and e.created_at < $1 \
             ) s join conversations c on c.id = s.conversation_id \
             where s.latest = 1 and s.payload like '%\"to\":\"waiting\"%' \
             and not exists (select 1 from messages m where m.conversation_id = s.conversation_id \
               and m.direction = 'inbound' and m.platform_time > s.created_at and m.platform_time < $2){clause} \
             group by c.channel_id, c.kind"
        );
        let q = sqlx::query(&sql).bind(at).bind(at);
        let rows = bind_scope(q, scope).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ChannelKindCount {
                    channel_id: r.try_get("channel_id")?,
                    conversation_kind: r.try_get("kind")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Moderation cases opened in [start, end) with what happened to them.
    pub async fn report_cases(
        &self,
        start: i64,
        end: i64,
        scope: Option<&[i64]>,
    ) -> Result<Vec<CaseFacts>> {
        let Some(clause) = scope_clause("k.channel_id", scope, 3) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select k.channel_id, k.level, k.categories, m.platform_time, \
               (select min(s.at) from moderation_steps s where s.case_id = k.id and s.actor_id is not null) as acted_at, \
               (select count(*) from moderation_steps s where s.case_id = k.id and s.step = 'police_report') as police_reports, \
               (select count(*) from moderation_steps s where s.case_id = k.id and s.step = 'hide' \
                  and s.actor_id is null and s.detail like '%\"automatic\":true%') as auto_hidden \
             from moderation_cases k join messages m on m.id = k.message_id \
             where k.opened_at >= $1 and k.opened_at < $2{clause}"
        );
        let q = sqlx::query(&sql).bind(start).bind(end);
        let rows = bind_scope(q, scope).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let categories: String = r.try_get("categories")?;
                let auto_hidden: i64 = r.try_get("auto_hidden")?;
                Ok(CaseFacts {
                    channel_id: r.try_get("channel_id")?,
                    level: r.try_get("level")?,
                    categories: serde_json::from_str(&categories).unwrap_or_default(),
                    arrived_at: r.try_get("platform_time")?,
                    acted_at: r.try_get("acted_at")?,
                    police_reports: r.try_get("police_reports")?,
                    auto_hidden: auto_hidden > 0,
                })
            })
            .collect()
    }

    /// The threads' posts; a post's words only for a reader of comments on its channel.
    pub async fn report_threads(
        &self,
        scope: &super::scope::ReadScope,
        conversations: &[i64],
    ) -> Result<Vec<ThreadInfo>> {
        let mut out = Vec::new();
        for chunk in conversations.chunks(500) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", 1 + i))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "select c.id, c.channel_id, p.platform_id, p.text from conversations c \
                 left join posts p on p.id = c.post_id where c.id in ({list})"
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q.bind(*c);
            }
            for r in q.fetch_all(&self.pool).await? {
                let channel_id: i64 = r.try_get("channel_id")?;
                out.push(ThreadInfo {
                    conversation_id: r.try_get("id")?,
                    channel_id,
                    post_platform_id: r.try_get("platform_id")?,
                    post_text: if scope.may_read(super::scope::COMMENTS, channel_id) {
                        r.try_get("text")?
                    } else {
                        None
                    },
                });
            }
        }
        Ok(out)
    }
}
