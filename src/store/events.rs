//! The append-only event log. Every state change appends here inside its own transaction; search,
//! FAQ and the live stream read it by sequence.

use serde::Serialize;
use sqlx::Row;

use super::{Result, Store, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    MessageReceived,
    MessageSent,
    MessageChanged,
    PostChanged,
    ReactionChanged,
    ConversationRead,
    MessagesDelivered,
    Quarantined,
    Claimed,
    Released,
    Replied,
    StatusChanged,
    CaseOpened,
    CaseChanged,
    ChannelChanged,
    DeliveryChanged,
    /// A record disposed of (retention or erasure): its rows are gone; the index drops it.
    MessageErased,
    /// A record kept with its personal data masked and its author replaced by a pseudonym.
    MessagePseudonymised,
    /// A conversation handed to a unit of the organisation.
    HandedOver,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageReceived => "message.received",
            EventKind::MessageSent => "message.sent",
            EventKind::MessageChanged => "message.changed",
            EventKind::PostChanged => "post.changed",
            EventKind::ReactionChanged => "reaction.changed",
            EventKind::ConversationRead => "conversation.read",
            EventKind::MessagesDelivered => "messages.delivered",
            EventKind::Quarantined => "quarantine.added",
            EventKind::Claimed => "conversation.claimed",
            EventKind::Released => "conversation.released",
            EventKind::Replied => "conversation.replied",
            EventKind::StatusChanged => "conversation.status_changed",
            EventKind::CaseOpened => "moderation.case_opened",
            EventKind::CaseChanged => "moderation.case_changed",
            EventKind::ChannelChanged => "channel.changed",
            EventKind::DeliveryChanged => "message.delivery_changed",
            EventKind::MessageErased => "message.erased",
            EventKind::MessagePseudonymised => "message.pseudonymised",
            EventKind::HandedOver => "conversation.handed_over",
        }
    }
}

pub struct NewEvent {
    pub kind: EventKind,
    pub channel_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub channel_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

pub async fn append(tx: &mut Tx<'_>, event: NewEvent) -> Result<()> {
    sqlx::query(
        "insert into events (kind, channel_id, conversation_id, message_id, payload, created_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.kind.as_str())
    .bind(event.channel_id)
    .bind(event.conversation_id)
    .bind(event.message_id)
    .bind(event.payload.to_string())
    .bind(super::now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Events after `after`, oldest first.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "select seq, kind, channel_id, conversation_id, message_id, payload, created_at \
             from events where seq > $1 order by seq limit $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events after `after` with the kind of the conversation they concern (for access checks).
    pub async fn events_visible_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(StoredEvent, Option<String>)>> {
        let rows = sqlx::query(
            "select e.seq, e.kind, e.channel_id, e.conversation_id, e.message_id, e.payload, e.created_at, \
             c.kind as conversation_kind \
             from events e left join conversations c on c.id = e.conversation_id \
             where e.seq > $1 order by e.seq limit $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok((event_from_row(&row)?, row.try_get("conversation_kind")?)))
            .collect()
    }

    pub async fn last_event_seq(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("select max(seq) from events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<StoredEvent> {
    let payload: String = row.try_get("payload")?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        channel_id: row.try_get("channel_id")?,
        conversation_id: row.try_get("conversation_id")?,
        message_id: row.try_get("message_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created_at: row.try_get("created_at")?,
    })
}
