//! The outbox: every reply, private reply, hide, unhide and removal waits here, written in the
//! same transaction as the action, until a delivery worker has sent it to the platform.
//!
//! A row's life: `pending` → (claimed) `sending`, with `next_attempt_at` set to the end of the
//! worker's lease → `sent`, `failed`, or back to `pending` with a later `next_attempt_at`.
//! A worker that dies mid-send leaves its row `sending` with a lease that runs out; the next claim
//! marks it `in_doubt` (the platform may have it), and the worker reconciles before sending again.
//! Echoes of our own messages are matched to their rows in `echo`.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::unanswered::note_message;
use super::{now_ms, Result, Store, StoreError, Tx};
use crate::model::Direction;

/// Prefix of the Messenger `metadata` we send, so that the echo names its outbox row.
pub use crate::platform::meta::ECHO_METADATA_PREFIX;
/// What an outbox row asks the platform to do (one list for every platform).
pub use crate::platform::Action as OutboxAction;

/// A row claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub outbox_id: i64,
    pub message_id: i64,
    pub action: OutboxAction,
    /// `{conversation_kind, recipient, comment_id, text, tag}` for replies; `{comment_id}` otherwise.
    pub payload: serde_json::Value,
    /// Attempts so far, this one included. Also the claim's token: outcomes of a claim that was
    /// taken over (its lease ran out) are not recorded.
    pub attempts: i64,
    /// An earlier attempt may have reached the platform: reconcile before sending again.
    pub in_doubt: bool,
    pub created_at: i64,
    /// The platform id of the message (our reply once known; the comment for hides).
    pub message_platform_id: Option<String>,
    pub channel_id: i64,
    pub platform: String,
    pub channel_platform_id: String,
    pub token_file: Option<String>,
}

impl Claimed {
    /// The row as a platform adapter sees it.
    pub fn outgoing(&self) -> crate::platform::Outgoing<'_> {
        crate::platform::Outgoing {
            outbox_id: self.outbox_id,
            action: self.action,
            platform: &self.platform,
            channel_platform_id: &self.channel_platform_id,
            payload: &self.payload,
            in_doubt: self.in_doubt,
        }
    }
}

/// How an attempt ended, as the worker judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Done. The platform's id of what was created, when it said.
    Sent { platform_id: Option<String> },
    /// Try again `delay_ms` from now; `reason` in plain words for the agent.
    Retry {
        reason: String,
        delay_ms: i64,
        in_doubt: bool,
    },
    /// The platform refused; an agent may edit and retry.
    Failed { reason: String },
}

/// How one outbox row stands: the delivery of one of our messages, or a hide, unhide or removal
/// of a comment on the platform.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DeliveryDetail, example = json!({
    "action": "reply", "status": "failed", "attempts": 1,
    "failure": "Facebook refused it: \"(#551) This person isn't available right now.\" (code 551). The person cannot be reached on Messenger now; reach them another way.",
    "next_attempt_at": null, "tag": null, "in_doubt": false, "sent_at": null
}))]
pub struct DeliveryView {
    #[schema(schema_with = crate::described::outbox_action)]
    pub action: String,
    /// `pending`: waiting for its (next) attempt. `sending`: a delivery worker holds it now.
    /// `sent`: the platform accepted it. `failed`: the platform refused it for good, or the
    /// attempts ran out; a failed reply can be retried (POST /api/v1/messages/{id}/retry).
    #[schema(value_type = OutboxStatus, inline)]
    pub status: String,
    /// Attempts so far (a retry starts counting again from 0).
    #[schema(minimum = 0)]
    pub attempts: i64,
    /// Why the last attempt did not succeed, in plain words, quoting the platform's own message;
    /// also shown while retrying. Null once sent, and before any attempt failed.
    pub failure: Option<String>,
    /// While `pending`: when the next attempt is due; while `sending`: when the worker's lease
    /// runs out. Null when sent or failed. Milliseconds since the Unix epoch.
    pub next_attempt_at: Option<i64>,
    /// `HUMAN_AGENT` when the agent chose it for a DM reply; otherwise null.
    pub tag: Option<String>,
    /// An attempt may have reached the platform without an answer (a timeout, a broken
    /// connection, a worker that stopped mid-send); before anything is sent again, the worker
    /// looks for it on the platform.
    pub in_doubt: bool,
    /// When the platform accepted it; null until then. Milliseconds since the Unix epoch.
    pub sent_at: Option<i64>,
}

/// The states of an outbox row.
// Only described: the row keeps the word as the database stores it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OutboxStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

/// Order matters within a conversation: a second reply waits while the first is unsent.
/// Hides and removals never wait behind replies (DESIGN.md §3: some must happen at once).
const CLAIMABLE: &str = "select o.id from outbox o join messages m on m.id = o.message_id \
     where o.status in ('pending', 'sending') and o.next_attempt_at <= $1 \
     and (o.action not in ('reply', 'private_reply') or not exists ( \
       select 1 from outbox e join messages em on em.id = e.message_id \
       where e.id < o.id and e.status in ('pending', 'sending') \
       and e.action in ('reply', 'private_reply') and em.conversation_id = m.conversation_id)) \
     order by o.next_attempt_at, o.id limit 1";

impl Store {
    /// Wakes the delivery workers after a commit that wrote an outbox row.
    pub fn outbox_committed(&self) {
        self.outbox_written.notify_waiters();
    }

    /// Whether a message with this platform id is already stored for the channel.
    pub async fn platform_id_known(&self, channel_id: i64, platform_id: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "select id from messages where channel_id = $1 and platform_id = $2",
        )
        .bind(channel_id)
        .bind(platform_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// When the next row falls due (a lease running out counts), if any row waits.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "select min(next_attempt_at) from outbox where status in ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Takes one due row for this worker for `lease_ms`; several instances claim at once, each
    /// a different row (`Store::claim_one`).
    pub async fn claim_delivery(&self, lease_ms: i64) -> Result<Option<Claimed>> {
        let now = now_ms();
        let (mut tx, id) = self.claim_one(CLAIMABLE, " of o", now).await?;
        let Some(id) = id else {
            return Ok(None);
        };
        sqlx::query(
            "update outbox set in_doubt = case when status = 'sending' then 1 else in_doubt end, \
             status = 'sending', attempts = attempts + 1, next_attempt_at = $1, \
             last_attempt_at = $2, updated_at = $3 where id = $4",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "select o.id, o.message_id, o.action, o.payload, o.attempts, o.in_doubt, o.created_at, \
             m.platform_id as message_platform_id, ch.id as channel_id, ch.platform, \
             ch.platform_id as channel_platform_id, ch.access_token_file \
             from outbox o join messages m on m.id = o.message_id \
             join channels ch on ch.id = m.channel_id where o.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let action: String = row.try_get("action")?;
        let payload: String = row.try_get("payload")?;
        let in_doubt: i64 = row.try_get("in_doubt")?;
        Ok(Some(Claimed {
            outbox_id: id,
            message_id: row.try_get("message_id")?,
            action: OutboxAction::parse(&action).ok_or_else(|| {
                StoreError::Invalid(format!("outbox row {id} has an unknown action {action:?}"))
            })?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempts: row.try_get("attempts")?,
            in_doubt: in_doubt == 1,
            created_at: row.try_get("created_at")?,
            message_platform_id: row.try_get("message_platform_id")?,
            channel_id: row.try_get("channel_id")?,
            platform: row.try_get("platform")?,
            channel_platform_id: row.try_get("channel_platform_id")?,
            token_file: row.try_get("access_token_file")?,
        }))
    }

    /// Records how an attempt ended. A success is always recorded (it is what happened); a retry
    /// or failure only while this claim still holds the row.
    pub async fn record_attempt(&self, claimed: &Claimed, attempt: &Attempt) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let retry_in_ms = match attempt {
            Attempt::Retry { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        };
        let (changed, status, failure) = match attempt {
            Attempt::Sent { platform_id } => {
                let changed = sqlx::query(
                    "update outbox set status = 'sent', platform_id = coalesce($1, platform_id), \
                     sent_at = coalesce(sent_at, $2), last_error = null, updated_at = $3 \
                     where id = $4 and status <> 'sent'",
                )
                .bind(platform_id.as_deref())
                .bind(now)
                .bind(now)
                .bind(claimed.outbox_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed.action.sends_message() {
                    if let Some(pid) = platform_id {
                        adopt_platform_id(&mut tx, claimed.channel_id, claimed.message_id, pid)
                            .await?;
                    }
                    mark_message_sent(&mut tx, claimed.message_id).await?;
                } else if changed > 0 {
                    apply_visibility(&mut tx, claimed, now).await?;
                }
                (changed, "sent", None)
            }
            Attempt::Retry {
                reason,
                delay_ms,
                in_doubt,
            } => {
                let changed = sqlx::query(
                    "update outbox set status = 'pending', next_attempt_at = $1, last_error = $2, \
                     in_doubt = case when $3 = 1 then 1 else in_doubt end, updated_at = $4 \
                     where id = $5 and status = 'sending' and attempts = $6",
                )
                .bind(now + delay_ms)
                .bind(reason)
                .bind(*in_doubt as i64)
                .bind(now)
                .bind(claimed.outbox_id)
                .bind(claimed.attempts)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                (changed, "retrying", Some(reason.clone()))
            }
            Attempt::Failed { reason } => {
                let changed = sqlx::query(
                    "update outbox set status = 'failed', last_error = $1, updated_at = $2 \
                     where id = $3 and status = 'sending' and attempts = $4",
                )
                .bind(reason)
                .bind(now)
                .bind(claimed.outbox_id)
                .bind(claimed.attempts)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0 && claimed.action.sends_message() {
                    sqlx::query("update messages set delivery = 'failed' where id = $1")
                        .bind(claimed.message_id)
                        .execute(&mut *tx)
                        .await?;
                }
                (changed, "failed", Some(reason.clone()))
            }
        };
        if changed > 0 {
            delivery_event(
                &mut tx,
                claimed.message_id,
                serde_json::json!({
                    "outbox_id": claimed.outbox_id, "action": claimed.action, "status": status,
                    "failure": failure, "attempts": claimed.attempts, "retry_in_ms": retry_in_ms,
                }),
            )
            .await?;
        }
        self.commit(tx).await
    }

    /// The delivery state of every outbox row of a conversation's messages, oldest first.
    pub async fn deliveries_of_conversation(
        &self,
        conversation_id: i64,
    ) -> Result<Vec<(i64, DeliveryView)>> {
        let rows = sqlx::query(
            "select o.message_id, o.action, o.status, o.attempts, o.last_error, o.next_attempt_at, \
             o.payload, o.in_doubt, o.sent_at from outbox o join messages m on m.id = o.message_id \
             where m.conversation_id = $1 order by o.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("message_id")?, delivery_view(r)?)))
            .collect()
    }

    /// How one outbox row stands (a moderation step shows the hide, removal or notice it queued).
    pub async fn delivery_by_outbox_id(&self, outbox_id: i64) -> Result<Option<DeliveryView>> {
        let row = sqlx::query(
            "select o.message_id, o.action, o.status, o.attempts, o.last_error, o.next_attempt_at, \
             o.payload, o.in_doubt, o.sent_at from outbox o where o.id = $1",
        )
        .bind(outbox_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| delivery_view(&r)).transpose()
    }

    /// Queues a hide, unhide or removal of a comment on the platform (moderation). The comment
    /// itself stays in the store whatever happens on the platform (DESIGN.md §2).
    pub async fn enqueue_visibility(
        &self,
        message_id: i64,
        action: OutboxAction,
        actor: &Actor,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let outbox_id = queue_visibility_in(&mut tx, message_id, action, actor)
            .await?
            .map_err(StoreError::Invalid)?;
        self.commit(tx).await?;
        self.outbox_committed();
        Ok(outbox_id)
    }

    /// Queues a private reply: a DM to a comment's author that answers the comment. It lands in
    /// the DM conversation with that person, where the echo will find it.
    pub async fn enqueue_private_reply(
        &self,
        comment_message_id: i64,
        staff_id: i64,
        text: &str,
        actor: &Actor,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let (message_id, _) =
            queue_private_reply_in(&mut tx, comment_message_id, staff_id, text, actor).await?;
        self.commit(tx).await?;
        self.outbox_committed();
        Ok(message_id)
    }
}

/// Queues a hide, unhide or removal of a comment in the caller's transaction, so the decision
/// and its platform action are written together or not at all. `Ok(Err(reason))` when the
/// platform cannot be asked (a DM, or a message the platform never named); nothing is written.
pub(super) async fn queue_visibility_in(
    tx: &mut Tx<'_>,
    message_id: i64,
    action: OutboxAction,
    actor: &Actor,
) -> Result<std::result::Result<i64, String>> {
    if action.sends_message() {
        return Err(StoreError::Invalid(
            "only hide, unhide and remove change a comment's visibility".into(),
        ));
    }
    let row = sqlx::query("select kind, platform_id from messages where id = $1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no message {message_id}")))?;
    let kind: String = row.try_get("kind")?;
    let platform_id: Option<String> = row.try_get("platform_id")?;
    let Some(comment_id) = platform_id.filter(|_| kind != "dm") else {
        return Ok(Err(
            "only a comment or a visitor's post that the platform knows can be hidden or removed"
                .into(),
        ));
    };
    let payload = serde_json::json!({ "comment_id": comment_id });
    let outbox_id = insert_row(tx, message_id, action, &payload, now_ms()).await?;
    delivery_event(
        tx,
        message_id,
        serde_json::json!({"outbox_id": outbox_id, "action": action, "status": "pending"}),
    )
    .await?;
    record(
        tx,
        actor,
        &format!("message.{}_requested", action.as_str()),
        Some(&format!("message:{message_id}")),
        serde_json::json!({ "outbox_id": outbox_id }),
    )
    .await?;
    Ok(Ok(outbox_id))
}

/// Queues a private reply in the caller's transaction; returns the new message and its outbox
/// row. Refused (Invalid, nothing written) where the platform allows none.
pub(super) async fn queue_private_reply_in(
    tx: &mut Tx<'_>,
    comment_message_id: i64,
    staff_id: i64,
    text: &str,
    actor: &Actor,
) -> Result<(i64, i64)> {
    let now = now_ms();
    let row = sqlx::query(
        "select m.channel_id, m.kind, m.direction, m.platform_id, m.author_id, m.platform_time, \
         a.platform_id as author_platform_id, ch.platform as channel_platform from messages m \
         join channels ch on ch.id = m.channel_id \
         left join authors a on a.id = m.author_id where m.id = $1",
    )
    .bind(comment_message_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("there is no message {comment_message_id}")))?;
    let kind: String = row.try_get("kind")?;
    let direction: String = row.try_get("direction")?;
    let comment_id: Option<String> = row.try_get("platform_id")?;
    let author_id: Option<i64> = row.try_get("author_id")?;
    let author: Option<String> = row.try_get("author_platform_id")?;
    let written_at: i64 = row.try_get("platform_time")?;
    let (Some(comment_id), Some(author_id), Some(author)) = (comment_id, author_id, author) else {
        return Err(StoreError::Invalid(
            "a private reply needs a comment that the platform knows, with its author".into(),
        ));
    };
    if kind == "dm" || direction != "inbound" {
        return Err(StoreError::Invalid(
            "a private reply answers someone else's comment; answer a DM with a reply".into(),
        ));
    }
    let platform: String = row.try_get("channel_platform")?;
    match crate::platform::rules(&platform).private_reply_within_ms {
        Some(within) if now - written_at >= within => {
            return Err(StoreError::Invalid(format!(
                "the comment is more than {} days old, and the platform allows a private reply \
                 only within {} days; answer in the comment thread instead",
                within / 86_400_000,
                within / 86_400_000
            )));
        }
        Some(_) => {}
        None => {
            return Err(StoreError::Invalid(
                "the platform allows no private reply to a comment; answer in the comment \
                 thread instead"
                    .into(),
            ));
        }
    }
    let channel_id: i64 = row.try_get("channel_id")?;
    let conversation_id = dm_conversation(tx, channel_id, author_id, &author, now).await?;
    let message_id: i64 = sqlx::query_scalar(
        "insert into messages (conversation_id, channel_id, kind, direction, sent_by, text, \
         parent_platform_id, state, delivery, platform_time, received_at) \
         values ($1, $2, 'dm', 'outbound', $3, $4, $5, 'visible', 'pending', $6, $7) returning id",
    )
    .bind(conversation_id)
    .bind(channel_id)
    .bind(staff_id)
    .bind(text)
    .bind(&comment_id)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let payload = serde_json::json!({
        "conversation_kind": "dm", "recipient": null, "comment_id": comment_id, "text": text,
    });
    let outbox_id = insert_row(tx, message_id, OutboxAction::PrivateReply, &payload, now).await?;
    note_message(tx, conversation_id, Direction::Outbound, now, false).await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::Replied,
            channel_id: Some(channel_id),
            conversation_id: Some(conversation_id),
            message_id: Some(message_id),
            payload: serde_json::json!({"staff_id": staff_id, "private_reply_to": comment_message_id}),
        },
    )
    .await?;
    record(
        tx,
        actor,
        "comment.private_reply",
        Some(&format!("message:{comment_message_id}")),
        serde_json::json!({ "message_id": message_id, "outbox_id": outbox_id }),
    )
    .await?;
    Ok((message_id, outbox_id))
}

fn delivery_view(r: &sqlx::any::AnyRow) -> Result<DeliveryView> {
    let status: String = r.try_get("status")?;
    let payload: String = r.try_get("payload")?;
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
    let in_doubt: i64 = r.try_get("in_doubt")?;
    let next: i64 = r.try_get("next_attempt_at")?;
    let waiting = status == "pending" || status == "sending";
    Ok(DeliveryView {
        action: r.try_get("action")?,
        attempts: r.try_get("attempts")?,
        failure: r.try_get("last_error")?,
        next_attempt_at: waiting.then_some(next),
        tag: payload["tag"].as_str().map(str::to_string),
        in_doubt: in_doubt == 1,
        sent_at: r.try_get("sent_at")?,
        status,
    })
}

impl Store {
    /// Rows by status, and the age of the oldest row not yet delivered (for /metrics).
    pub async fn outbox_gauges(&self) -> Result<(Vec<(String, i64)>, Option<i64>)> {
        let rows = sqlx::query("select status, count(*) as n from outbox group by status")
            .fetch_all(&self.pool)
            .await?;
        let by_status = rows
            .iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<Vec<(String, i64)>>>()?;
        let oldest: Option<i64> = sqlx::query_scalar(
            "select min(created_at) from outbox where status in ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((by_status, oldest.map(|t| now_ms() - t)))
    }
}

/// Inserts an outbox row due now; returns its id.
pub(super) async fn insert_row(
    tx: &mut Tx<'_>,
    message_id: i64,
    action: OutboxAction,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "insert into outbox (message_id, action, payload, status, next_attempt_at, created_at, updated_at) \
         values ($1, $2, $3, 'pending', $4, $5, $6) returning id",
    )
    .bind(message_id)
    .bind(action.as_str())
    .bind(payload.to_string())
    .bind(now)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

/// The DM conversation of a channel with a person, created (waiting on them) when new.
async fn dm_conversation(
    tx: &mut Tx<'_>,
    channel_id: i64,
    author_id: i64,
    author: &str,
    now: i64,
) -> Result<i64> {
    let key = format!("dm:{author}");
    if let Some(id) = sqlx::query_scalar::<_, i64>(
        "select id from conversations where channel_id = $1 and thread_key = $2",
    )
    .bind(channel_id)
    .bind(&key)
    .fetch_optional(&mut **tx)
    .await?
    {
        return Ok(id);
    }
    Ok(sqlx::query_scalar(
        "insert into conversations (channel_id, kind, thread_key, person_id, status, created_at, updated_at) \
         values ($1, 'dm', $2, $3, 'waiting', $4, $5) returning id",
    )
    .bind(channel_id)
    .bind(&key)
    .bind(author_id)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

pub(super) async fn mark_message_sent(tx: &mut Tx<'_>, message_id: i64) -> Result<()> {
    // A delivery receipt may have come first (webhooks race the worker): never go back from it.
    sqlx::query(
        "update messages set delivery = 'sent' where id = $1 \
         and (delivery is null or delivery <> 'delivered')",
    )
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives our message the platform's id. If the echo came first and, lacking our metadata, was
/// stored as a message of its own, that copy of our own words is folded into ours.
async fn adopt_platform_id(
    tx: &mut Tx<'_>,
    channel_id: i64,
    message_id: i64,
    platform_id: &str,
) -> Result<()> {
    let copy = sqlx::query(
        "select id, conversation_id, sent_by from messages \
         where channel_id = $1 and platform_id = $2 and id <> $3",
    )
    .bind(channel_id)
    .bind(platform_id)
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(copy) = copy {
        let copy_id: i64 = copy.try_get("id")?;
        let sent_by: Option<i64> = copy.try_get("sent_by")?;
        let conversation_id: i64 = copy.try_get("conversation_id")?;
        let referenced: i64 = sqlx::query_scalar(
            "select (select count(*) from outbox where message_id = $1) \
             + (select count(*) from message_revisions where message_id = $2)",
        )
        .bind(copy_id)
        .bind(copy_id)
        .fetch_one(&mut **tx)
        .await?;
        if sent_by.is_some() || referenced > 0 {
            tracing::warn!(
                message_id,
                other = copy_id,
                "the platform's id of a delivered message is already another message's; left as it is"
            );
            return Ok(());
        }
        sqlx::query("delete from faq_members where message_id = $1")
            .bind(copy_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("delete from messages where id = $1")
            .bind(copy_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("update conversations set message_count = message_count - 1 where id = $1")
            .bind(conversation_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("update messages set platform_id = $1 where id = $2 and platform_id is null")
        .bind(platform_id)
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The platform did what we asked: the comment's state follows, with the change kept as history.
async fn apply_visibility(tx: &mut Tx<'_>, claimed: &Claimed, now: i64) -> Result<()> {
    let (change, state) = match claimed.action {
        OutboxAction::Hide => ("hidden", "hidden"),
        OutboxAction::Unhide => ("unhidden", "visible"),
        _ => ("removed", "removed"),
    };
    sqlx::query(
        "insert into message_revisions (message_id, change, revision, text, platform_time, received_at) \
         select id, $1, $2, text, $3, $4 from messages where id = $5 \
         on conflict do nothing",
    )
    .bind(change)
    .bind(format!("{ECHO_METADATA_PREFIX}{}", claimed.outbox_id))
    .bind(now)
    .bind(now)
    .bind(claimed.message_id)
    .execute(&mut **tx)
    .await?;
    // An author's own deletion is final; nothing we do brings the comment back.
    sqlx::query("update messages set state = $1 where id = $2 and state <> 'deleted'")
        .bind(state)
        .bind(claimed.message_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn delivery_event(
    tx: &mut Tx<'_>,
    message_id: i64,
    payload: serde_json::Value,
) -> Result<()> {
    let row = sqlx::query("select channel_id, conversation_id from messages where id = $1")
        .bind(message_id)
        .fetch_one(&mut **tx)
        .await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::DeliveryChanged,
            channel_id: Some(row.try_get("channel_id")?),
            conversation_id: Some(row.try_get("conversation_id")?),
            message_id: Some(message_id),
            payload,
        },
    )
    .await
}
