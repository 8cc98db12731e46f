//! A conversation's clocks and counters as messages come and go: the "unanswered since" clock,
//! the last inbound and outbound times, the count. Its own module so that ingestion and the
//! outbox both use it without the outbox depending on ingestion (which depends on moderation,
//! which queues in the outbox): the store's modules form no cycle.

use super::{now_ms, Result, Tx};
use crate::model::Direction;

/// A new message moves its conversation: inbound reopens it and may start the "unanswered" clock,
/// outbound stops the clock for everything it answers.
pub(super) async fn note_message(
    tx: &mut Tx<'_>,
    conversation_id: i64,
    direction: Direction,
    t: i64,
    counts_as_unanswered: bool,
) -> Result<()> {
    let sql = if direction == Direction::Inbound {
        if counts_as_unanswered {
            // Unanswered only if no reply of ours is newer (webhooks may arrive out of order).
            "update conversations set \
               status = 'open', \
               oldest_unanswered_at = case \
                 when last_outbound_at is not null and last_outbound_at >= $1 then oldest_unanswered_at \
                 when oldest_unanswered_at is null or oldest_unanswered_at > $1 then $1 \
                 else oldest_unanswered_at end, \
               last_inbound_at = case when last_inbound_at is null or last_inbound_at < $1 then $1 else last_inbound_at end, \
               last_message_at = case when last_message_at is null or last_message_at < $1 then $1 else last_message_at end, \
               message_count = message_count + 1, updated_at = $2 \
             where id = $3"
        } else {
            "update conversations set \
               last_message_at = case when last_message_at is null or last_message_at < $1 then $1 else last_message_at end, \
               message_count = message_count + 1, updated_at = $2 \
             where id = $3"
        }
    } else {
        "update conversations set \
           oldest_unanswered_at = case when oldest_unanswered_at is not null and oldest_unanswered_at <= $1 then null \
             else oldest_unanswered_at end, \
           last_outbound_at = case when last_outbound_at is null or last_outbound_at < $1 then $1 else last_outbound_at end, \
           last_message_at = case when last_message_at is null or last_message_at < $1 then $1 else last_message_at end, \
           message_count = message_count + 1, updated_at = $2 \
         where id = $3"
    };
    sqlx::query(sql)
        .bind(t)
        .bind(now_ms())
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
