//! The append-only event log. Every state change appends here inside its own transaction; search,
//! FAQ and the live stream read it by sequence.
//!
//! On PostgreSQL a sequence value is taken when a row is inserted, not when its transaction
//! commits, so a reader that has seen event 11 could miss event 10 committing later. Writers do
//! not serialise for it (several instances write at once); readers read only up to the *settled*
//! sequence: each writer takes its transaction id before it draws a value (`Store::begin`), so
//! once every transaction that was running in this database just after the sequence stood at N
//! has ended, nothing at or below N can appear any more. Only this database's transactions are
//! waited for, so a long transaction in another database on the server holds nothing back.
//! SQLite has one writer at a time, so there the log's order is commit order already.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::{Result, Store, Tx};

/// The kinds of event, each with its name on the log and in the live stream. One list, so the
/// names, `ALL` (which the API description is checked against) and the enum cannot drift apart.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)+
        }

        impl EventKind {
            /// Every kind, in the order they were added.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)+
                }
            }
        }
    };
}

event_kinds! {
    MessageReceived => "message.received",
    MessageSent => "message.sent",
    MessageChanged => "message.changed",
    PostChanged => "post.changed",
    ReactionChanged => "reaction.changed",
    ConversationRead => "conversation.read",
    MessagesDelivered => "messages.delivered",
    Quarantined => "quarantine.added",
    Claimed => "conversation.claimed",
    Released => "conversation.released",
    Replied => "conversation.replied",
    StatusChanged => "conversation.status_changed",
    CaseOpened => "moderation.case_opened",
    CaseChanged => "moderation.case_changed",
    ChannelChanged => "channel.changed",
    DeliveryChanged => "message.delivery_changed",
    /// A record disposed of (retention or erasure): its rows are gone; the index drops it.
    MessageErased => "message.erased",
    /// A record kept with its personal data masked and its author replaced by a pseudonym.
    MessagePseudonymised => "message.pseudonymised",
    /// The organisation's search synonyms changed: each instance loads them again.
    SynonymsChanged => "search.synonyms_changed",
    /// A conversation handed to a unit of the organisation or a named colleague: every
    /// listener who may read it hears it (`unit`, `to_staff` say for whom).
    HandedOver => "conversation.handed_over",
    /// A conversation's categories changed (ids only: the set now and those removed).
    Categorised => "conversation.categorised",
    /// An internal note written on a conversation (its words stay out of the log).
    Noted => "conversation.noted",
    /// A channel's own posts and their figures fetched from the platform (post follow-up).
    PostsRefreshed => "posts.refreshed",
    /// A goal, campaign or evaluation note about posts changed (post follow-up).
    PostEvaluationChanged => "posts.evaluation_changed",
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

/// Appends in a transaction from [`Store::begin`], which on PostgreSQL takes the transaction's id
/// before any sequence value is drawn (what readers rely on: see the module documentation).
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

/// How far the log is settled (PostgreSQL): the settled sequence, and sightings of the sequence
/// with the transactions then running in this database, waiting for those to end.
#[derive(Debug, Default)]
pub struct Horizon {
    settled: AtomicI64,
    /// (sequence seen, transaction ids running in this database just after): settled once none
    /// of them runs any more.
    sightings: Mutex<Vec<(i64, Vec<String>)>>,
    /// One look at the running transactions at a time: every follower of the log (index, FAQ,
    /// integrations, live feed) asks after the same commit, and each looking on its own was
    /// 4,000 reads of `pg_stat_activity` in ten seconds of two instances' ingest.
    looking: tokio::sync::Mutex<()>,
    /// Looks begun: a reader that waited for another's look, begun after the reader saw the
    /// sequence, takes that look's outcome instead of looking again.
    looks: AtomicI64,
}

/// A reader waits this long at most for the transactions in flight to end before it reads up to
/// where the log was settled before.
const SETTLE_WAIT: Duration = Duration::from_millis(100);

/// The transaction ids running in this database, as text. Only transactions with an id can have
/// drawn a sequence value, and a writer takes its id before it draws one (`Store::begin`). Other
/// databases on the server are not looked at: their transactions cannot append here. (Another
/// role's sessions show no id unless the role may read all statistics: README, deployment.)
const RUNNING_HERE: &str = "select backend_xid::text from pg_stat_activity \
     where datname = current_database() and backend_xid is not null";

impl Store {
    /// The sequence up to which the log may be read without skipping a row that commits later:
    /// on SQLite everything (one writer at a time); on PostgreSQL the settled sequence (see the
    /// module documentation).
    async fn readable_upto(&self) -> Result<i64> {
        match self.backend {
            super::Backend::Sqlite => Ok(i64::MAX),
            super::Backend::Postgres => self.settled_seq().await,
        }
    }

    /// Looks at the sequence, then at the transactions running in this database; waits a moment
    /// for those to end (they are short), and records the sighting for later reads if they have
    /// not. Every transaction that drew a value up to the sequence seen had its id by then, so
    /// it is among those running, or has ended.
    async fn settled_seq(&self) -> Result<i64> {
        let seen = self.last_drawn_seq().await?;
        let settled = self.horizon.settled.load(Ordering::Acquire);
        if seen <= settled {
            return Ok(settled);
        }
        let before = self.horizon.looks.load(Ordering::Acquire);
        let _one = self.horizon.looking.lock().await;
        if self.horizon.looks.load(Ordering::Acquire) > before {
            // A look begun since this reader saw the sequence saw a sequence at least as far
            // and the transactions running after it: what it settled is what this one would.
            return Ok(self.horizon.settled.load(Ordering::Acquire));
        }
        self.horizon.looks.fetch_add(1, Ordering::AcqRel);
        // Seen again after the look is counted as begun, which the rule above relies on.
        let seen = self.last_drawn_seq().await?;
        if seen <= self.horizon.settled.load(Ordering::Acquire) {
            return Ok(self.horizon.settled.load(Ordering::Acquire));
        }
        let then: Vec<String> = sqlx::query_scalar(RUNNING_HERE)
            .fetch_all(&self.pool)
            .await?;
        let mut running = then.clone();
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        while then.iter().any(|x| running.contains(x)) && started.elapsed() < SETTLE_WAIT {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
            running = sqlx::query_scalar(RUNNING_HERE)
                .fetch_all(&self.pool)
                .await?;
        }
        self.horizon.settle((seen, then), &running)
    }

    /// The last sequence value drawn for the log (committed or not).
    async fn last_drawn_seq(&self) -> Result<i64> {
        let seen: Option<i64> = sqlx::query_scalar(
            "select pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::regclass)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(seen.unwrap_or(0))
    }

    /// What the log's readers cannot see (PostgreSQL): another role's sessions show no
    /// transaction id to a role that is neither a superuser nor a member of
    /// `pg_read_all_stats`, so a reader could pass an event another role's writer has yet to
    /// commit. None when every session is visible, or on SQLite.
    pub async fn log_readers_blind_spot(&self) -> Result<Option<String>> {
        if self.backend == super::Backend::Sqlite {
            return Ok(None);
        }
        let (role, sees_all): (String, bool) = sqlx::query_as(
            "select current_user::text, \
             (select rolsuper from pg_roles where rolname = current_user) \
             or pg_has_role(current_user, 'pg_read_all_stats', 'usage')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((!sees_all).then(|| {
            format!(
                "the database role {role:?} sees only its own sessions' transactions: connect \
                 every tavla instance as {role:?}, or `grant pg_read_all_stats to {role}`, so \
                 that live updates, search and FAQ never pass an event still being written"
            )
        }))
    }

    /// Events after `after`, oldest first.
    /// Events after `after`, oldest first.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let upto = self.readable_upto().await?;
        let rows = sqlx::query(
            "select seq, kind, channel_id, conversation_id, message_id, payload, created_at \
             from events where seq > $1 and seq <= $2 order by seq limit $3",
        )
        .bind(after)
        .bind(upto)
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
        let upto = self.readable_upto().await?;
        let rows = sqlx::query(
            "select e.seq, e.kind, e.channel_id, e.conversation_id, e.message_id, e.payload, e.created_at, \
             c.kind as conversation_kind \
             from events e left join conversations c on c.id = e.conversation_id \
             where e.seq > $1 and e.seq <= $2 order by e.seq limit $3",
        )
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok((event_from_row(&row)?, row.try_get("conversation_kind")?)))
            .collect()
    }

    /// The end of the log as far as it is settled: a reader starting here misses nothing later.
    pub async fn last_event_seq(&self) -> Result<i64> {
        let upto = self.readable_upto().await?;
        let seq: Option<i64> = sqlx::query_scalar("select max(seq) from events where seq <= $1")
            .bind(upto)
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

impl Horizon {
    /// Adds a sighting and settles every sighting none of whose transactions is `running` now.
    fn settle(&self, sighting: (i64, Vec<String>), running: &[String]) -> Result<i64> {
        let mut sightings = self
            .sightings
            .lock()
            .map_err(|_| super::StoreError::Invalid("the log's horizon was poisoned".into()))?;
        sightings.push(sighting);
        let mut settled = self.settled.load(Ordering::Acquire);
        sightings.retain(|(seq, then)| {
            if then.iter().any(|x| running.contains(x)) {
                true
            } else {
                settled = settled.max(*seq);
                false
            }
        });
        // Sightings at or below the settled value say nothing more.
        sightings.retain(|(seq, _)| *seq > settled);
        // A long transaction holds every sighting back; the newest few are enough to resume.
        let excess = sightings.len().saturating_sub(64);
        sightings.drain(..excess);
        self.settled.fetch_max(settled, Ordering::AcqRel);
        Ok(self.settled.load(Ordering::Acquire))
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
