//! An agent's second try at a failed delivery, optionally with new words (an edit of a message
//! the person never received).

use sqlx::Row;

use super::audit::{record, Actor};
use super::conversations::{WindowFacts, WindowJudge};
use super::outbox::DeliveryView;
use super::{now_ms, Result, Store};
use crate::platform::{ReplyWindow, Verdict};

#[derive(Debug)]
pub enum RetryOutcome {
    Queued,
    NotFound,
    /// Only a failed delivery can be retried; this one is pending, sending or sent.
    NotFailed(String),
    NeedsHumanAgentTag(ReplyWindow),
    WindowClosed(Option<ReplyWindow>),
}

/// Where a message lives, for access checks.
#[derive(Debug, Clone)]
pub struct MessagePlace {
    pub conversation_id: i64,
    pub channel_id: i64,
    /// The conversation's kind: dm or comments.
    pub kind: String,
}

impl Store {
    pub async fn message_place(&self, message_id: i64) -> Result<Option<MessagePlace>> {
        let row = sqlx::query(
            "select m.conversation_id, m.channel_id, c.kind from messages m \
             join conversations c on c.id = m.conversation_id where m.id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(MessagePlace {
                conversation_id: r.try_get("conversation_id")?,
                channel_id: r.try_get("channel_id")?,
                kind: r.try_get("kind")?,
            })
        })
        .transpose()
    }

    /// Puts a failed reply back in the outbox, with new text if given (the old text is kept as
    /// history). A DM must still fit the reply window, with the tag chosen now or before, as
    /// the inbox's `window` judges it (under the row lock, like a new reply).
    pub async fn retry_delivery(
        &self,
        message_id: i64,
        new_text: Option<&str>,
        tag: Option<&str>,
        window: WindowJudge,
        actor: &Actor,
    ) -> Result<RetryOutcome> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Two retries at once queue the reply once: the second sees it pending.
        super::lock_row(&mut tx, "messages", message_id).await?;
        let row = sqlx::query(
            "select o.id, o.status, o.payload, m.text, m.conversation_id, c.kind, c.last_inbound_at, \
             ch.platform from outbox o join messages m on m.id = o.message_id \
             join conversations c on c.id = m.conversation_id \
             join channels ch on ch.id = m.channel_id \
             where o.message_id = $1 and o.action in ('reply', 'private_reply') \
             order by o.id desc limit 1",
        )
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RetryOutcome::NotFound);
        };
        let outbox_id: i64 = row.try_get("id")?;
        let status: String = row.try_get("status")?;
        if status != "failed" {
            return Ok(RetryOutcome::NotFailed(status));
        }
        let payload: String = row.try_get("payload")?;
        let mut payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        let tag = tag
            .map(str::to_string)
            .or_else(|| payload["tag"].as_str().map(str::to_string));
        let kind: String = row.try_get("kind")?;
        let platform: String = row.try_get("platform")?;
        let facts = WindowFacts {
            kind: &kind,
            platform: &platform,
            last_inbound_at: row.try_get("last_inbound_at")?,
            now,
            tag: tag.as_deref(),
        };
        match window(&facts) {
            Verdict::Open => {}
            Verdict::NeedsHumanAgentTag(w) => return Ok(RetryOutcome::NeedsHumanAgentTag(w)),
            Verdict::Closed(w) => return Ok(RetryOutcome::WindowClosed(w)),
        }
        let old_text: Option<String> = row.try_get("text")?;
        if let Some(text) = new_text.filter(|t| Some(*t) != old_text.as_deref()) {
            sqlx::query(
                "insert into message_revisions (message_id, change, revision, text, platform_time, received_at) \
                 values ($1, 'edited', $2, $3, $4, $5)",
            )
            .bind(message_id)
            .bind(format!("retry:{outbox_id}:{now}"))
            .bind(old_text.as_deref())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("update messages set text = $1, edited = 1 where id = $2")
                .bind(text)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
            payload["text"] = text.into();
        }
        payload["tag"] = tag.clone().into();
        // A fresh count of attempts. `in_doubt` stays: a reply that gave up after timeouts may
        // have arrived, and the worker looks for it before sending it again.
        sqlx::query(
            "update outbox set status = 'pending', attempts = 0, last_error = null, \
             next_attempt_at = $1, payload = $2, updated_at = $3 where id = $4",
        )
        .bind(now)
        .bind(payload.to_string())
        .bind(now)
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("update messages set delivery = 'pending' where id = $1")
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        super::outbox::delivery_event(
            &mut tx,
            message_id,
            serde_json::json!({"outbox_id": outbox_id, "status": "pending", "retried": true}),
        )
        .await?;
        record(
            &mut tx,
            actor,
            "message.retried",
            Some(&format!("message:{message_id}")),
            serde_json::json!({"outbox_id": outbox_id, "edited": new_text.is_some(), "tag": tag}),
        )
        .await?;
        self.commit(tx).await?;
        self.outbox_committed();
        Ok(RetryOutcome::Queued)
    }

    /// The newest delivery of one message, as the conversation view shows it.
    pub async fn delivery_of_message(&self, message_id: i64) -> Result<Option<DeliveryView>> {
        let Some(place) = self.message_place(message_id).await? else {
            return Ok(None);
        };
        Ok(self
            .deliveries_of_conversation(place.conversation_id)
            .await?
            .into_iter()
            .rev()
            .find(|(of, _)| *of == message_id)
            .map(|(_, view)| view))
    }
}
