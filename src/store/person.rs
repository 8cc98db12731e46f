//! Everything stored about one person, for an export under GDPR art. 15 (right of access).

use serde::Serialize;
use sqlx::Row;

use super::scope::{s5_column, ReadScope, Withheld};
use super::{Result, Store};

#[derive(Debug, Clone, Serialize)]
pub struct PersonMessage {
    pub id: i64,
    pub conversation_id: i64,
    pub channel: String,
    pub platform: String,
    pub kind: String,
    pub direction: String,
    /// Who wrote it: the person themselves, or staff (by username) in the person's DMs.
    pub author_id: Option<i64>,
    pub sent_by: Option<String>,
    /// None when withheld (S5 content is kept as metadata only); `withheld` says why.
    pub text: Option<String>,
    pub withheld: Option<Withheld>,
    pub attachments: serde_json::Value,
    pub state: String,
    pub edited: bool,
    pub disposal: Option<String>,
    pub platform_time: i64,
    pub received_at: i64,
    pub history: Vec<PersonRevision>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonRevision {
    pub change: String,
    pub text: Option<String>,
    pub platform_time: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonConversation {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub status: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonCase {
    pub id: i64,
    pub message_id: i64,
    pub level: String,
    pub categories: serde_json::Value,
    pub status: String,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub decision: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonReaction {
    pub target_platform_id: String,
    pub reaction: String,
    pub removed: bool,
    pub platform_time: i64,
}

impl Store {
    /// The person's own messages and every message of their DM conversations, oldest first,
    /// within the reader's scope.
    pub async fn person_messages(
        &self,
        scope: &ReadScope,
        author_id: i64,
    ) -> Result<Vec<PersonMessage>> {
        let Some((filter, args)) = scope.where_readable("c.kind", "m.channel_id", |a| {
            format!(
                "(m.author_id = {} or (c.kind = 'dm' and c.person_id = {}))",
                a.int(author_id),
                a.int(author_id)
            )
        }) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select m.id, m.conversation_id, ch.name as channel, ch.platform, m.kind, m.direction, \
             m.author_id, s.username as sent_by, m.text, m.attachments, m.state, m.edited, m.disposal, \
             m.platform_time, m.received_at, {} \
             from messages m join conversations c on c.id = m.conversation_id \
             join channels ch on ch.id = m.channel_id left join staff s on s.id = m.sent_by \
             where {filter} order by m.platform_time, m.id",
            s5_column("m")
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let revisions = sqlx::query(
                "select change, text, platform_time from message_revisions where message_id = $1 order by id",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let attachments: String = r.try_get("attachments")?;
            let edited: i64 = r.try_get("edited")?;
            let state: String = r.try_get("state")?;
            let s5: i64 = r.try_get("s5")?;
            let withheld = scope.withheld(&state, s5 == 1);
            let shown = |text: Option<String>| if withheld.is_some() { None } else { text };
            out.push(PersonMessage {
                id,
                conversation_id: r.try_get("conversation_id")?,
                channel: r.try_get("channel")?,
                platform: r.try_get("platform")?,
                kind: r.try_get("kind")?,
                direction: r.try_get("direction")?,
                author_id: r.try_get("author_id")?,
                sent_by: r.try_get("sent_by")?,
                text: shown(r.try_get("text")?),
                withheld,
                attachments: match withheld {
                    Some(_) => serde_json::json!([]),
                    None => serde_json::from_str(&attachments).unwrap_or_default(),
                },
                state,
                edited: edited == 1,
                disposal: r.try_get("disposal")?,
                platform_time: r.try_get("platform_time")?,
                received_at: r.try_get("received_at")?,
                history: revisions
                    .iter()
                    .map(|v| {
                        Ok(PersonRevision {
                            change: v.try_get("change")?,
                            text: shown(v.try_get("text")?),
                            platform_time: v.try_get("platform_time")?,
                        })
                    })
                    .collect::<Result<_>>()?,
            });
        }
        Ok(out)
    }

    pub async fn person_conversations(
        &self,
        scope: &ReadScope,
        author_id: i64,
    ) -> Result<Vec<PersonConversation>> {
        let Some((filter, args)) = scope.where_readable("c.kind", "c.channel_id", |a| {
            format!(
                "(c.person_id = {} or c.id in (select conversation_id from messages where author_id = {}))",
                a.int(author_id),
                a.int(author_id)
            )
        }) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select c.id, ch.name as channel, c.kind, c.status, c.created_at, c.resolved_at \
             from conversations c join channels ch on ch.id = c.channel_id \
             where {filter} order by c.id"
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(PersonConversation {
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    resolved_at: r.try_get("resolved_at")?,
                })
            })
            .collect()
    }

    /// Moderation cases about what the person wrote.
    pub async fn person_cases(&self, author_id: i64) -> Result<Vec<PersonCase>> {
        let rows = sqlx::query(
            "select k.id, k.message_id, k.level, k.categories, k.status, k.opened_at, k.closed_at, k.decision \
             from moderation_cases k join messages m on m.id = k.message_id \
             where m.author_id = $1 order by k.id",
        )
        .bind(author_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let categories: String = r.try_get("categories")?;
                Ok(PersonCase {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    level: r.try_get("level")?,
                    categories: serde_json::from_str(&categories).unwrap_or_default(),
                    status: r.try_get("status")?,
                    opened_at: r.try_get("opened_at")?,
                    closed_at: r.try_get("closed_at")?,
                    decision: r.try_get("decision")?,
                })
            })
            .collect()
    }

    pub async fn person_reactions(&self, author_id: i64) -> Result<Vec<PersonReaction>> {
        let rows = sqlx::query(
            "select target_platform_id, reaction, removed, platform_time from reactions \
             where author_id = $1 order by platform_time",
        )
        .bind(author_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let removed: i64 = r.try_get("removed")?;
                Ok(PersonReaction {
                    target_platform_id: r.try_get("target_platform_id")?,
                    reaction: r.try_get("reaction")?,
                    removed: removed == 1,
                    platform_time: r.try_get("platform_time")?,
                })
            })
            .collect()
    }
}
