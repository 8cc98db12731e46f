//! The store's side of outgoing webhooks (src/outbound/integrations.rs): the follower's cursor in
//! the event log, the deliveries waiting for their receivers, conversations handed to units, and
//! the facts a delivery reports.

use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::outbox::Attempt;
use super::{now_ms, Backend, Result, Store, StoreError, Tx};

/// A delivery to write: what the follower made of one event for one receiver.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub receiver: String,
    pub event: &'static str,
    pub event_seq: i64,
    pub payload: serde_json::Value,
}

/// A delivery taken by a worker for the length of its lease.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub receiver: String,
    pub event: String,
    pub payload: String,
    /// Attempts so far, this one included; also the claim's token (see `record_webhook`).
    pub attempts: i64,
}

/// A message as a delivery may describe it (the caller decides whether its text goes along).
#[derive(Debug, Clone)]
pub struct MessageFacts {
    pub id: i64,
    pub kind: String,
    pub platform_id: Option<String>,
    pub text: Option<String>,
    pub platform_time: i64,
    pub state: String,
    pub author_platform_id: Option<String>,
    pub author_name: Option<String>,
    /// Triage's severity (S0..S5), when flagged.
    pub severity: Option<String>,
}

/// The channel a delivery concerns.
#[derive(Debug, Clone)]
pub struct ChannelFacts {
    pub id: i64,
    pub platform: String,
    pub platform_id: String,
    pub name: String,
    pub unit: Option<String>,
}

/// A closed case whose routine included a police report.
#[derive(Debug, Clone)]
pub struct ReportedCase {
    pub id: i64,
    pub level: String,
    pub categories: serde_json::Value,
    pub decision: Option<String>,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
    pub routine_version: String,
    /// The police's reference (diarienummer) and when the report was recorded.
    pub police_reference: Option<String>,
    pub reported_at: i64,
    pub conversation_kind: String,
    pub channel: ChannelFacts,
    pub message: MessageFacts,
}

/// A conversation handed to a unit.
#[derive(Debug, Clone)]
pub struct HandoverFacts {
    pub id: i64,
    pub unit: String,
    pub note: Option<String>,
    pub handed_at: i64,
    pub handed_by: Option<String>,
    pub conversation_id: i64,
    pub conversation_kind: String,
    pub channel: ChannelFacts,
    /// The person's newest message in the conversation.
    pub latest: Option<MessageFacts>,
}

const MESSAGE_COLUMNS: &str = "m.id as m_id, m.kind as m_kind, m.platform_id as m_platform_id, \
     m.text as m_text, m.platform_time as m_time, m.state as m_state, \
     a.platform_id as a_platform_id, a.name as a_name, f.severity as f_severity";
const CHANNEL_COLUMNS: &str = "ch.id as ch_id, ch.platform as ch_platform, \
     ch.platform_id as ch_platform_id, ch.name as ch_name, ch.unit as ch_unit";

/// One handover as the conversation view shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Handover {
    pub id: i64,
    /// The unit it went to; for a handover to a colleague, their unit at the time (if any).
    pub unit: Option<String>,
    /// The colleague it was handed to (by name); None for a handover to a unit.
    pub to_staff: Option<String>,
    pub note: Option<String>,
    /// The staff member's name; None when the account is gone.
    pub handed_by: Option<String>,
    pub handed_at: i64,
}

impl Store {
    /// The last event the follower turned into deliveries.
    pub async fn webhook_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("select seq from webhook_cursor where id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Moves the cursor from `from` to `to` and writes the deliveries, in one transaction. False
    /// (and nothing written) when another instance moved it first: it wrote them.
    pub async fn advance_webhooks(
        &self,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        let mut tx = self.begin_without_log().await?;
        let moved = sqlx::query("update webhook_cursor set seq = $1 where id = 1 and seq = $2")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let now = now_ms();
        for d in deliveries {
            sqlx::query(
                "insert into webhook_outbox (receiver, event, event_seq, payload, status, \
                 next_attempt_at, created_at, updated_at) values ($1, $2, $3, $4, 'pending', $5, $6, $7) \
                 on conflict (receiver, event_seq) do nothing",
            )
            .bind(&d.receiver)
            .bind(d.event)
            .bind(d.event_seq)
            .bind(d.payload.to_string())
            .bind(now)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A transaction that appends no event: on PostgreSQL without the log's lock, on SQLite
    /// with the write lock taken at once (as `begin`).
    async fn begin_without_log(&self) -> Result<Tx<'static>> {
        match self.backend {
            Backend::Postgres => Ok(self.pool.begin().await?),
            Backend::Sqlite => self.begin().await,
        }
    }

    /// Takes one due delivery for `lease_ms`; instances take different ones (`claim_one`).
    pub async fn claim_webhook(&self, lease_ms: i64) -> Result<Option<ClaimedDelivery>> {
        let now = now_ms();
        let (mut tx, id) = self
            .claim_one(
                "select id from webhook_outbox where status in ('pending', 'sending') \
                 and next_attempt_at <= $1 order by next_attempt_at, id limit 1",
                "",
                now,
            )
            .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        sqlx::query(
            "update webhook_outbox set status = 'sending', attempts = attempts + 1, \
             next_attempt_at = $1, updated_at = $2 where id = $3",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "select receiver, event, payload, attempts from webhook_outbox where id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ClaimedDelivery {
            id,
            receiver: row.try_get("receiver")?,
            event: row.try_get("event")?,
            payload: row.try_get("payload")?,
            attempts: row.try_get("attempts")?,
        }))
    }

    /// Records how an attempt ended, while this claim still holds the delivery (a claim whose
    /// lease ran out and was taken over records nothing; its successor does).
    pub async fn record_webhook(&self, claimed: &ClaimedDelivery, attempt: &Attempt) -> Result<()> {
        let now = now_ms();
        let (status, next, error) = match attempt {
            Attempt::Sent { .. } => ("sent", now, None),
            Attempt::Retry {
                reason, delay_ms, ..
            } => ("pending", now + delay_ms, Some(reason.as_str())),
            Attempt::Failed { reason } => ("failed", now, Some(reason.as_str())),
        };
        let sent_at = (status == "sent").then_some(now);
        sqlx::query(
            "update webhook_outbox set status = $1, next_attempt_at = $2, last_error = $3, \
             sent_at = coalesce($4, sent_at), updated_at = $5 \
             where id = $6 and status = 'sending' and attempts = $7",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(sent_at)
        .bind(now)
        .bind(claimed.id)
        .bind(claimed.attempts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the next delivery falls due, if any waits.
    pub async fn next_webhook_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "select min(next_attempt_at) from webhook_outbox where status in ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Deliveries by status, and the age of the oldest not yet taken (ms), for /metrics.
    pub async fn webhook_gauges(&self) -> Result<(Vec<(String, i64)>, Option<i64>)> {
        let rows = sqlx::query("select status, count(*) as n from webhook_outbox group by status")
            .fetch_all(&self.pool)
            .await?;
        let by_status = rows
            .iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<Vec<(String, i64)>>>()?;
        let oldest: Option<i64> = sqlx::query_scalar(
            "select min(created_at) from webhook_outbox where status in ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((by_status, oldest.map(|t| now_ms() - t)))
    }

    /// A conversation's handovers, oldest first, with who handed it over (by name, as staff see
    /// each other elsewhere in the conversation).
    pub async fn handovers_of(&self, conversation_id: i64) -> Result<Vec<Handover>> {
        let rows = sqlx::query(
            "select h.id, h.unit, h.note, h.handed_at, s.username, t.username as to_username \
             from handovers h left join staff s on s.id = h.handed_by \
             left join staff t on t.id = h.to_staff where h.conversation_id = $1 order by h.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Handover {
                    id: r.try_get("id")?,
                    unit: r.try_get("unit")?,
                    to_staff: r.try_get("to_username")?,
                    note: r.try_get("note")?,
                    handed_by: r.try_get("username")?,
                    handed_at: r.try_get("handed_at")?,
                })
            })
            .collect()
    }

    /// Hands a conversation to a unit or to a named colleague (with the colleague's unit, if
    /// any): the handover, its event and its audit entry together. The event names the receiver
    /// (`to_staff`, `unit`), so the console tells them at once; the conversation's waiting time
    /// (`oldest_unanswered_at`) is left as it is.
    pub async fn hand_over(
        &self,
        conversation_id: i64,
        unit: Option<&str>,
        to_staff: Option<i64>,
        note: Option<&str>,
        actor: &Actor,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        // Handovers of one conversation at once follow each other: the last to commit is the
        // newest, and so its receiver the one holder.
        super::lock_row(&mut tx, "conversations", conversation_id).await?;
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
            "insert into handovers (conversation_id, unit, to_staff, note, handed_by, handed_at) \
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(conversation_id)
        .bind(unit)
        .bind(to_staff)
        .bind(note)
        .bind(actor.staff_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let facts = serde_json::json!({"handover_id": id, "unit": unit, "to_staff": to_staff});
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::HandedOver,
                channel_id: Some(channel_id),
                conversation_id: Some(conversation_id),
                message_id: None,
                payload: facts.clone(),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "conversation.handed_over",
            Some(&format!("conversation:{conversation_id}")),
            facts,
        )
        .await?;
        self.commit(tx).await?;
        Ok(id)
    }

    /// A closed case whose routine included a police report; None for any other case.
    pub async fn reported_case(&self, case_id: i64) -> Result<Option<ReportedCase>> {
        let sql = format!(
            "select k.id, k.level, k.categories, k.decision, k.opened_at, k.closed_at, \
             k.routine_version, cb.username as closed_by, s.detail as report_detail, \
             s.at as reported_at, c.kind as conversation_kind, {MESSAGE_COLUMNS}, {CHANNEL_COLUMNS} \
             from moderation_cases k \
             join moderation_steps s on s.case_id = k.id and s.step = 'police_report' \
             join conversations c on c.id = k.conversation_id \
             join messages m on m.id = k.message_id \
             left join authors a on a.id = m.author_id \
             left join message_flags f on f.message_id = m.id \
             join channels ch on ch.id = k.channel_id \
             left join staff cb on cb.id = k.closed_by \
             where k.id = $1 and k.status = 'closed'"
        );
        let Some(r) = sqlx::query(&sql)
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let categories: String = r.try_get("categories")?;
        let detail: String = r.try_get("report_detail")?;
        let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
        Ok(Some(ReportedCase {
            id: r.try_get("id")?,
            level: r.try_get("level")?,
            categories: serde_json::from_str(&categories).unwrap_or_default(),
            decision: r.try_get("decision")?,
            opened_at: r.try_get("opened_at")?,
            closed_at: r.try_get("closed_at")?,
            closed_by: r.try_get("closed_by")?,
            routine_version: r.try_get("routine_version")?,
            police_reference: detail["reference"].as_str().map(str::to_string),
            reported_at: r.try_get("reported_at")?,
            conversation_kind: r.try_get("conversation_kind")?,
            channel: channel_facts(&r)?,
            message: message_facts(&r)?,
        }))
    }

    /// A handover to a unit with its conversation, channel and the person's newest message; None
    /// for a handover to a colleague (it stays inside tavla: the unit's systems are not told).
    pub async fn handover_facts(&self, id: i64) -> Result<Option<HandoverFacts>> {
        let sql = format!(
            "select h.id, h.unit, h.note, h.handed_at, st.username as handed_by, \
             c.id as conversation_id, c.kind as conversation_kind, {CHANNEL_COLUMNS} \
             from handovers h join conversations c on c.id = h.conversation_id \
             join channels ch on ch.id = c.channel_id left join staff st on st.id = h.handed_by \
             where h.id = $1 and h.to_staff is null and h.unit is not null"
        );
        let Some(r) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let conversation_id: i64 = r.try_get("conversation_id")?;
        let latest = format!(
            "select {MESSAGE_COLUMNS} from messages m left join authors a on a.id = m.author_id \
             left join message_flags f on f.message_id = m.id \
             where m.conversation_id = $1 and m.direction = 'inbound' \
             order by m.platform_time desc, m.id desc limit 1"
        );
        let latest = sqlx::query(&latest)
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|m| message_facts(&m))
            .transpose()?;
        Ok(Some(HandoverFacts {
            id: r.try_get("id")?,
            unit: r.try_get("unit")?,
            note: r.try_get("note")?,
            handed_at: r.try_get("handed_at")?,
            handed_by: r.try_get("handed_by")?,
            conversation_id,
            conversation_kind: r.try_get("conversation_kind")?,
            channel: channel_facts(&r)?,
            latest,
        }))
    }
}

fn message_facts(r: &sqlx::any::AnyRow) -> Result<MessageFacts> {
    Ok(MessageFacts {
        id: r.try_get("m_id")?,
        kind: r.try_get("m_kind")?,
        platform_id: r.try_get("m_platform_id")?,
        text: r.try_get("m_text")?,
        platform_time: r.try_get("m_time")?,
        state: r.try_get("m_state")?,
        author_platform_id: r.try_get("a_platform_id")?,
        author_name: r.try_get("a_name")?,
        severity: r.try_get("f_severity")?,
    })
}

fn channel_facts(r: &sqlx::any::AnyRow) -> Result<ChannelFacts> {
    Ok(ChannelFacts {
        id: r.try_get("ch_id")?,
        platform: r.try_get("ch_platform")?,
        platform_id: r.try_get("ch_platform_id")?,
        name: r.try_get("ch_name")?,
        unit: r.try_get("ch_unit")?,
    })
}
