//! The channel registry (approved accounts) and the quarantine of items for unknown channels.

use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::scope::{Args, ReadScope, Withheld, COMMENTS, DM};
use super::{now_ms, Result, Store, StoreError};
use crate::model::{Inbound, Item, Platform};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    pub id: i64,
    pub platform: String,
    pub platform_id: String,
    pub name: String,
    pub unit: Option<String>,
    pub purpose: Option<String>,
    pub responsible: Option<String>,
    pub personal_data_handling: Option<String>,
    pub approved: bool,
    pub has_access_token: bool,
}

/// What an administrator registers. Approval is a separate, deliberate step in the API; the CLI's
/// `channel add` registers and approves at once (DESIGN.md §5).
#[derive(Debug, Clone, Default)]
pub struct NewChannel {
    pub platform: Option<Platform>,
    pub platform_id: String,
    pub name: String,
    pub unit: Option<String>,
    pub purpose: Option<String>,
    pub responsible: Option<String>,
    pub personal_data_handling: Option<String>,
    pub approved: bool,
    pub access_token_file: Option<String>,
}

/// One item waiting in quarantine: what waits and why, and the words only for a reader of its
/// kind of conversation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuarantinedItem {
    pub id: i64,
    pub platform: String,
    pub channel_platform_id: String,
    /// The registered channel it waits for; None when nobody registered the page.
    pub channel_id: Option<i64>,
    /// "unregistered" (no channel for the page) or "not_approved".
    pub waiting_because: &'static str,
    pub received_at: i64,
    /// message, post, reaction, read, delivery or unrecognised.
    pub item_type: &'static str,
    /// For a message or a post: the kind of conversation it would join (dm or comments).
    pub kind: Option<&'static str>,
    /// The words, for a reader of that kind; None otherwise (then `withheld` says why).
    pub text: Option<String>,
    pub withheld: Option<Withheld>,
}

/// What waits for one page: how much, since when, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuarantinedPage {
    pub platform: String,
    pub channel_platform_id: String,
    pub channel_id: Option<i64>,
    pub waiting_because: &'static str,
    pub items: i64,
    pub first_received_at: i64,
    pub last_received_at: i64,
}

/// Quarantine rows joined with the channel registered for their page (if any), within the
/// reader's channel limit: a limited reader sees only what waits for their own channels.
const QUARANTINE_FROM: &str = "from quarantine q left join channels ch \
     on ch.platform = q.platform and ch.platform_id = q.channel_platform_id";

fn waiting_because(channel_id: Option<i64>) -> &'static str {
    match channel_id {
        Some(_) => "not_approved",
        None => "unregistered",
    }
}

/// The item's type, the conversation kind it would join and its words.
fn described(item: &Item) -> (&'static str, Option<&'static str>, Option<&str>) {
    match item {
        Item::Message(m) => (
            "message",
            Some(if m.kind.is_direct() { DM } else { COMMENTS }),
            m.text.as_deref(),
        ),
        Item::Post { text, .. } => ("post", Some(COMMENTS), text.as_deref()),
        Item::Reaction { .. } => ("reaction", None, None),
        Item::Read { .. } => ("read", None, None),
        Item::Delivery { .. } => ("delivery", None, None),
        Item::Unrecognised { .. } => ("unrecognised", None, None),
    }
}

const CHANNEL_COLUMNS: &str = "id, platform, platform_id, name, unit, purpose, responsible, \
     personal_data_handling, approved, access_token_file";

impl Store {
    pub async fn add_channel(&self, new: &NewChannel, actor: &Actor) -> Result<Channel> {
        let platform = new
            .platform
            .ok_or_else(|| StoreError::Invalid("a channel needs a platform".into()))?;
        let mut tx = self.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into channels (platform, platform_id, name, unit, purpose, responsible, \
             personal_data_handling, approved, access_token_file, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             on conflict (platform, platform_id) do nothing returning id",
        )
        .bind(platform.as_str())
        .bind(&new.platform_id)
        .bind(&new.name)
        .bind(new.unit.as_deref())
        .bind(new.purpose.as_deref())
        .bind(new.responsible.as_deref())
        .bind(new.personal_data_handling.as_deref())
        .bind(new.approved as i64)
        .bind(new.access_token_file.as_deref())
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(StoreError::Conflict(format!(
                "a {} channel with platform id {} is already registered; change that one (PATCH /api/v1/channels/{{id}}) instead",
                platform.as_str(),
                new.platform_id
            )));
        };
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::ChannelChanged,
                channel_id: Some(id),
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"registered": true, "approved": new.approved}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "channel.registered",
            Some(&format!("channel:{id}")),
            serde_json::json!({"platform": platform, "platform_id": new.platform_id, "name": new.name,
                "approved": new.approved, "unit": new.unit, "purpose": new.purpose,
                "responsible": new.responsible}),
        )
        .await?;
        self.commit(tx).await?;
        self.channel(id)
            .await?
            .ok_or_else(|| StoreError::Invalid("channel vanished".into()))
    }

    pub async fn channel(&self, id: i64) -> Result<Option<Channel>> {
        let row = sqlx::query(&format!(
            "select {CHANNEL_COLUMNS} from channels where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| channel_from_row(&r)).transpose()
    }

    pub async fn channels(&self) -> Result<Vec<Channel>> {
        let rows = sqlx::query(&format!(
            "select {CHANNEL_COLUMNS} from channels order by name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    pub async fn approve_channel(&self, id: i64, actor: &Actor) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed =
            sqlx::query("update channels set approved = 1 where id = $1 and approved = 0")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed > 0 {
            append(
                &mut tx,
                NewEvent {
                    kind: EventKind::ChannelChanged,
                    channel_id: Some(id),
                    conversation_id: None,
                    message_id: None,
                    payload: serde_json::json!({"approved": true}),
                },
            )
            .await?;
            record(
                &mut tx,
                actor,
                "channel.approved",
                Some(&format!("channel:{id}")),
                serde_json::json!({}),
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(changed > 0)
    }

    /// What waits in quarantine within the reader's channel limit, oldest first. Items for pages
    /// nobody registered belong to no channel: only readers without a limit see them.
    pub async fn quarantined(&self, scope: &ReadScope, limit: i64) -> Result<Vec<QuarantinedItem>> {
        let mut args = Args::default();
        let mut conditions = vec!["q.released_at is null".to_string()];
        if !scope.limit_channels("ch.id", &mut args, &mut conditions) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select q.id, q.platform, q.channel_platform_id, q.received_at, q.item, ch.id as channel_id \
             {QUARANTINE_FROM} where {} order by q.id limit {}",
            conditions.join(" and "),
            args.int(limit)
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let item: String = r.try_get("item")?;
                let channel_id: Option<i64> = r.try_get("channel_id")?;
                let inbound: Option<Inbound> = serde_json::from_str(&item).ok();
                let (item_type, kind, text) = inbound
                    .as_ref()
                    .map(|i| described(&i.item))
                    .unwrap_or(("unrecognised", None, None));
                let readable = kind.is_some_and(|k| scope.may_read_kind(k))
                    && channel_id.map_or(scope.every_channel(), |c| scope.within_channel(c));
                let withheld = (text.is_some() && !readable).then_some(Withheld::Kind);
                Ok(QuarantinedItem {
                    id: r.try_get("id")?,
                    platform: r.try_get("platform")?,
                    channel_platform_id: r.try_get("channel_platform_id")?,
                    channel_id,
                    waiting_because: waiting_because(channel_id),
                    received_at: r.try_get("received_at")?,
                    item_type,
                    kind,
                    text: text.filter(|_| readable).map(str::to_string),
                    withheld,
                })
            })
            .collect()
    }

    /// What waits per page within the reader's channel limit, the longest-waiting first.
    pub async fn quarantined_pages(&self, scope: &ReadScope) -> Result<Vec<QuarantinedPage>> {
        let mut args = Args::default();
        let mut conditions = vec!["q.released_at is null".to_string()];
        if !scope.limit_channels("ch.id", &mut args, &mut conditions) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select q.platform, q.channel_platform_id, ch.id as channel_id, count(*) as items, \
             min(q.received_at) as first_received_at, max(q.received_at) as last_received_at \
             {QUARANTINE_FROM} where {} group by q.platform, q.channel_platform_id, ch.id \
             order by min(q.received_at), q.platform, q.channel_platform_id",
            conditions.join(" and ")
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let channel_id: Option<i64> = r.try_get("channel_id")?;
                Ok(QuarantinedPage {
                    platform: r.try_get("platform")?,
                    channel_platform_id: r.try_get("channel_platform_id")?,
                    channel_id,
                    waiting_because: waiting_because(channel_id),
                    items: r.try_get("items")?,
                    first_received_at: r.try_get("first_received_at")?,
                    last_received_at: r.try_get("last_received_at")?,
                })
            })
            .collect()
    }

    /// Items waiting for one channel, oldest first, in pages (release re-ingests them).
    pub async fn quarantined_for(
        &self,
        platform: &str,
        platform_id: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Inbound)>> {
        let rows = sqlx::query(
            "select id, item from quarantine where platform = $1 and channel_platform_id = $2 \
             and released_at is null and id > $3 order by id limit $4",
        )
        .bind(platform)
        .bind(platform_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let item: String = r.try_get("item")?;
            let inbound: Inbound = serde_json::from_str(&item).map_err(|e| {
                StoreError::Invalid(format!("quarantined item {id} cannot be read: {e}"))
            })?;
            out.push((id, inbound));
        }
        Ok(out)
    }

    pub async fn mark_released(&self, ids: &[i64]) -> Result<()> {
        let now = now_ms();
        for id in ids {
            sqlx::query("update quarantine set released_at = $1 where id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

fn channel_from_row(row: &sqlx::any::AnyRow) -> Result<Channel> {
    let approved: i64 = row.try_get("approved")?;
    let token_file: Option<String> = row.try_get("access_token_file")?;
    Ok(Channel {
        id: row.try_get("id")?,
        platform: row.try_get("platform")?,
        platform_id: row.try_get("platform_id")?,
        name: row.try_get("name")?,
        unit: row.try_get("unit")?,
        purpose: row.try_get("purpose")?,
        responsible: row.try_get("responsible")?,
        personal_data_handling: row.try_get("personal_data_handling")?,
        approved: approved == 1,
        has_access_token: token_file.is_some(),
    })
}
