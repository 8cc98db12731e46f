//! What search needs from the store: messages as the index sees them, and result details.

use serde::Serialize;
use sqlx::Row;

use super::scope::{s5_column, ReadScope, Withheld};
use super::{Marks, Result, Store};

/// What the indexer needs to know of one message.
#[derive(Debug, Clone)]
pub struct IndexedMessage {
    pub id: i64,
    pub conversation_id: i64,
    pub channel_id: i64,
    pub author_id: Option<i64>,
    pub platform: String,
    /// Conversation kind: dm or comments.
    pub kind: String,
    pub direction: String,
    pub status: String,
    pub state: String,
    /// None when the index may not hold the words (S5 content is never indexed).
    pub text: Option<String>,
    pub platform_time: i64,
    pub has_attachments: bool,
    /// Triage's severity (S1..S5) when the message was flagged.
    pub severity: Option<String>,
}

/// What the index reads of messages. Words the scope withholds are not indexed, so search can
/// neither show nor match them.
fn indexed_select() -> String {
    format!(
        "select m.id, m.conversation_id, m.channel_id, m.author_id, ch.platform, \
         c.kind, m.direction, c.status, m.state, m.text, m.platform_time, m.attachments, f.severity, {} \
         from messages m join conversations c on c.id = m.conversation_id join channels ch on ch.id = m.channel_id \
         left join message_flags f on f.message_id = m.id",
        s5_column("m")
    )
}

/// The message a hit is, as the store has it now (the text itself is in the snippet).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HitDetail {
    pub message_id: i64,
    /// Open it with GET /api/v1/conversations/{id}.
    pub conversation_id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    #[schema(value_type = crate::model::Platform)]
    pub platform: String,
    #[schema(value_type = crate::model::ConversationKind)]
    pub kind: String,
    #[schema(value_type = crate::model::MessageKind)]
    pub message_kind: String,
    #[schema(value_type = crate::model::Direction)]
    pub direction: String,
    #[schema(schema_with = crate::described::message_state)]
    pub state: String,
    #[schema(value_type = crate::model::ConversationStatus)]
    pub status: String,
    /// tavla's id of the author (use as the `author` filter); null when the store has no author
    /// for the message (replies written in tavla).
    #[schema(required = true)]
    pub author_id: Option<i64>,
    #[schema(required = true)]
    pub author_platform_id: Option<String>,
    #[schema(required = true)]
    pub author_name: Option<String>,
    /// When the message was written. Milliseconds since the Unix epoch.
    pub platform_time: i64,
    // The words, for the snippet (never serialised whole); None when withheld.
    #[serde(skip)]
    pub text: Option<String>,
    /// Why `text` is null although the message has words; null when nothing is withheld.
    #[schema(schema_with = crate::described::withheld_or_null, required = true)]
    pub withheld: Option<Withheld>,
}

fn indexed_from_row(scope: &ReadScope, r: &sqlx::any::AnyRow) -> Result<IndexedMessage> {
    let attachments: String = r.try_get("attachments")?;
    let state: String = r.try_get("state")?;
    let s5: i64 = r.try_get("s5")?;
    let withheld = scope.withheld(&state, s5 == 1).is_some();
    Ok(IndexedMessage {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        channel_id: r.try_get("channel_id")?,
        author_id: r.try_get("author_id")?,
        platform: r.try_get("platform")?,
        kind: r.try_get("kind")?,
        direction: r.try_get("direction")?,
        status: r.try_get("status")?,
        state,
        text: if withheld { None } else { r.try_get("text")? },
        platform_time: r.try_get("platform_time")?,
        has_attachments: attachments != "[]",
        severity: r.try_get("severity")?,
    })
}

impl Store {
    /// The messages with these ids (missing ids are simply absent: deleted or erased). The index
    /// serves every reader, so it reads as the service (`ReadScope::operator()`); search applies
    /// each reader's scope to its hits.
    pub async fn messages_for_index(
        &self,
        scope: &ReadScope,
        ids: &[i64],
    ) -> Result<Vec<IndexedMessage>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "{} where m.id in ({})",
                indexed_select(),
                Marks::of_backend(self.backend).list(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(indexed_from_row(scope, &r)?);
            }
        }
        Ok(out)
    }

    pub async fn conversation_message_ids(&self, conversation_id: i64) -> Result<Vec<i64>> {
        Ok(
            sqlx::query_scalar("select id from messages where conversation_id = $1")
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A page of all messages in id order, for rebuilding the index.
    pub async fn messages_for_index_after(
        &self,
        scope: &ReadScope,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<IndexedMessage>> {
        let sql = format!(
            "{} where m.id > $1 order by m.id limit $2",
            indexed_select()
        );
        let rows = sqlx::query(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| indexed_from_row(scope, r)).collect()
    }

    pub async fn message_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from messages")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Details of hits within the reader's scope, in the order of `ids`: hits of a kind or channel
    /// outside it are not loaded; withheld words are not returned.
    pub async fn hit_details(&self, scope: &ReadScope, ids: &[i64]) -> Result<Vec<HitDetail>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let Some((filter, args)) = scope.where_readable("c.kind", "m.channel_id", |a| {
            let listed: Vec<String> = ids.iter().map(|id| a.int(*id)).collect();
            format!("m.id in ({})", listed.join(", "))
        }) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select m.id, m.conversation_id, m.channel_id, ch.name as channel_name, ch.platform, c.kind, \
             m.kind as message_kind, m.direction, m.state, c.status, m.author_id, a.platform_id as author_platform_id, \
             a.name as author_name, m.platform_time, m.text, {} \
             from messages m join conversations c on c.id = m.conversation_id join channels ch on ch.id = m.channel_id \
             left join authors a on a.id = m.author_id where {filter}",
            s5_column("m")
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let mut details = rows
            .iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                let s5: i64 = r.try_get("s5")?;
                let withheld = scope.withheld(&state, s5 == 1);
                Ok(HitDetail {
                    message_id: r.try_get("id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    channel_id: r.try_get("channel_id")?,
                    channel_name: r.try_get("channel_name")?,
                    platform: r.try_get("platform")?,
                    kind: r.try_get("kind")?,
                    message_kind: r.try_get("message_kind")?,
                    direction: r.try_get("direction")?,
                    status: r.try_get("status")?,
                    author_id: r.try_get("author_id")?,
                    author_platform_id: r.try_get("author_platform_id")?,
                    author_name: r.try_get("author_name")?,
                    platform_time: r.try_get("platform_time")?,
                    text: match withheld {
                        Some(_) => None,
                        None => r.try_get("text")?,
                    },
                    withheld,
                    state,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        details.sort_by_key(|d| ids.iter().position(|i| *i == d.message_id));
        Ok(details)
    }
}
