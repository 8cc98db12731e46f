//! Echoes meet the outbox: when the platform echoes a message the page sent, and it is one of
//! ours, our own message takes the platform's id instead of a second copy being stored.

use super::outbox::{delivery_event, mark_message_sent, ECHO_METADATA_PREFIX};
use super::{now_ms, Result, Tx};
use crate::model::{Direction, MessageItem};

/// An echo of something the page sent. When it is ours (its metadata names our outbox row, or
/// it carries our words in the same conversation while we wait for the platform's answer), our
/// own message takes the platform's id and counts as sent, and the echo is not stored again.
/// Returns our message's id when matched. Handles the race where the echo arrives before the
/// worker has recorded the platform's answer: the worker's later record finds the row sent.
pub(super) async fn match_echo(
    tx: &mut Tx<'_>,
    channel_id: i64,
    conversation_id: i64,
    m: &MessageItem,
) -> Result<Option<i64>> {
    if m.direction != Direction::Outbound {
        return Ok(None);
    }
    let already: Option<i64> =
        sqlx::query_scalar("select id from messages where channel_id = $1 and platform_id = $2")
            .bind(channel_id)
            .bind(&m.platform_id)
            .fetch_optional(&mut **tx)
            .await?;
    if already.is_some() {
        // Recorded by the worker (or a redelivered echo): the insert will see the duplicate.
        return Ok(None);
    }
    let by_metadata = match outbox_id_in(m) {
        Some(outbox_id) => {
            sqlx::query_scalar::<_, i64>(
                "select o.message_id from outbox o join messages m on m.id = o.message_id \
             where o.id = $1 and m.channel_id = $2 and m.platform_id is null",
            )
            .bind(outbox_id)
            .bind(channel_id)
            .fetch_optional(&mut **tx)
            .await?
        }
        None => None,
    };
    let ours =
        match (by_metadata, m.text.as_deref()) {
            (Some(id), _) => Some(id),
            // Without metadata (Instagram, comment replies): our unsent words in the same thread.
            (None, Some(text)) => sqlx::query_scalar::<_, i64>(
                "select id from messages where conversation_id = $1 and direction = 'outbound' \
                 and platform_id is null and sent_by is not null and text = $2 \
                 and delivery in ('pending', 'failed') order by id limit 1",
            )
            .bind(conversation_id)
            .bind(text)
            .fetch_optional(&mut **tx)
            .await?,
            (None, None) => None,
        };
    let Some(message_id) = ours else {
        return Ok(None);
    };
    let now = now_ms();
    sqlx::query("update messages set platform_id = $1 where id = $2")
        .bind(&m.platform_id)
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    mark_message_sent(tx, message_id).await?;
    sqlx::query(
        "update outbox set status = 'sent', platform_id = coalesce(platform_id, $1), \
         sent_at = coalesce(sent_at, $2), last_error = null, updated_at = $3 \
         where message_id = $4 and action in ('reply', 'private_reply') and status <> 'sent'",
    )
    .bind(&m.platform_id)
    .bind(now)
    .bind(now)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    delivery_event(
        tx,
        message_id,
        serde_json::json!({"status": "sent", "by": "echo"}),
    )
    .await?;
    Ok(Some(message_id))
}

/// The outbox id in an echo's metadata (`tavla:outbox:123`), if it is ours.
pub(super) fn outbox_id_in(m: &MessageItem) -> Option<i64> {
    m.extra
        .as_ref()?
        .get("metadata")?
        .as_str()?
        .strip_prefix(ECHO_METADATA_PREFIX)?
        .parse()
        .ok()
}
