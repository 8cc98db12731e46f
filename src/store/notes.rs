//! Internal notes on a conversation: what staff tell each other about it ("called back, waiting
//! for Bygglov"). A note is never sent to the platform (no outbox row), is read with the
//! conversation by those who may read it, and goes with the conversation when it is disposed of.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::{now_ms, Result, Store, StoreError};

/// An internal note on a conversation, as the conversation view shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Note {
    pub id: i64,
    /// The note (in the conversation view with personal data masked).
    pub text: String,
    /// The staff member's username; null when the account no longer exists.
    pub written_by: Option<String>,
    /// When it was written. Milliseconds since the Unix epoch.
    pub written_at: i64,
}

impl Store {
    /// The conversation's notes, oldest first.
    pub async fn notes_of(&self, conversation_id: i64) -> Result<Vec<Note>> {
        let rows = sqlx::query(
            "select n.id, n.text, n.written_at, s.username from conversation_notes n \
             left join staff s on s.id = n.written_by where n.conversation_id = $1 \
             order by n.written_at, n.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Note {
                    id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    written_by: r.try_get("username")?,
                    written_at: r.try_get("written_at")?,
                })
            })
            .collect()
    }

    /// Writes a note: the note, its event (ids only, never the words) and its audit entry
    /// together.
    pub async fn add_note(&self, conversation_id: i64, text: &str, actor: &Actor) -> Result<Note> {
        let mut tx = self.begin().await?;
        let channel_id: i64 =
            sqlx::query_scalar("select channel_id from conversations where id = $1")
                .bind(conversation_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("there is no conversation {conversation_id}"))
                })?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "insert into conversation_notes (conversation_id, text, written_by, written_at) \
             values ($1, $2, $3, $4) returning id",
        )
        .bind(conversation_id)
        .bind(text)
        .bind(actor.staff_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::Noted,
                channel_id: Some(channel_id),
                conversation_id: Some(conversation_id),
                message_id: None,
                payload: serde_json::json!({"note_id": id}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "conversation.noted",
            Some(&format!("conversation:{conversation_id}")),
            serde_json::json!({"note_id": id, "characters": text.chars().count()}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(Note {
            id,
            text: text.to_string(),
            written_by: Some(actor.name.clone()),
            written_at: now,
        })
    }
}
