//! The on-call alert of each S4/S5 case: one row per case, written in the transaction that opens
//! the case (or raises it to S4/S5), claimed by one instance before it is sent, and retried with
//! backoff until the receiver accepts it.
//!
//! A row's life: `pending` → (claimed) `sending`, with `next_attempt_at` set to the end of the
//! sender's lease → `sent`, or `retrying` with the next attempt's time. On PostgreSQL instances
//! claim with `for update skip locked`; on SQLite the write lock taken by `begin` serialises them.
//! An instance that dies mid-send leaves its row `sending` until the lease runs out; the next
//! claim sends it again (the receiver may then hear of the case twice, never not at all).

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Result, Store};

/// An alert claimed by this instance, with what it says (never the message's content).
#[derive(Debug, Clone)]
pub struct ClaimedAlert {
    pub case_id: i64,
    pub level: String,
    pub categories: Vec<String>,
    pub channel_name: String,
    /// Attempts so far, this one included; also the claim's token.
    pub attempts: i64,
}

/// The on-call alert of an S4/S5 case: written with the case (or with the report that raised it to
/// S4/S5), claimed by one instance before it is sent, so it goes out once however many instances
/// run, and retried with backoff (`delivery_retry_base_ms`, doubling up to
/// `delivery_retry_max_seconds`) until the receiver accepts it; it is never given up.
// How a case's alert stands, for the case view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = OnCallAlert, example = json!({
    "status": "retrying", "attempts": 2, "next_attempt_at": 1762071312000_i64,
    "last_error": "the alert receiver answered HTTP 503", "created_at": 1762071300000_i64,
    "sent_at": null
}))]
pub struct AlertView {
    /// `pending`: waiting to be sent. `sending`: an instance holds it now. `retrying`: the receiver
    /// did not accept the last attempt; the next is at `next_attempt_at`. `sent`: the receiver
    /// accepted it.
    #[schema(schema_with = alert_status)]
    pub status: String,
    #[schema(minimum = 0)]
    pub attempts: i64,
    /// When it is (next) due; while `sending`, when the sender's lease runs out. Null once sent.
    /// Milliseconds since the Unix epoch.
    #[schema(required = true)]
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt was not accepted, in plain words (e.g. `the alert receiver answered
    /// HTTP 500`); never the receiver's URL.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When the receiver accepted it. Milliseconds since the Unix epoch.
    #[schema(required = true)]
    pub sent_at: Option<i64>,
}

/// An alert's status, for the API description (its description here: `schema_with` takes the
/// field's own doc comment away).
fn alert_status() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "sending", "retrying", "sent"]))
        .description(Some(
            "`pending`: waiting to be sent. `sending`: an instance holds it now. `retrying`: the \
             receiver did not accept the last attempt; the next is at `next_attempt_at`. `sent`: \
             the receiver accepted it.",
        ))
        .build()
}

const CLAIMABLE: &str = "select case_id from on_call_alerts \
     where status in ('pending', 'retrying', 'sending') and next_attempt_at <= $1 \
     order by next_attempt_at, case_id limit 1";

impl Store {
    /// Takes one due alert for this instance for `lease_ms`.
    pub async fn claim_alert(&self, lease_ms: i64) -> Result<Option<ClaimedAlert>> {
        let now = now_ms();
        let (mut tx, case_id) = self.claim_one(CLAIMABLE, "", now).await?;
        let Some(case_id) = case_id else {
            return Ok(None);
        };
        sqlx::query(
            "update on_call_alerts set status = 'sending', attempts = attempts + 1, \
             next_attempt_at = $1, updated_at = $2 where case_id = $3",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(case_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "select a.attempts, k.level, k.categories, ch.name as channel_name \
             from on_call_alerts a join moderation_cases k on k.id = a.case_id \
             join channels ch on ch.id = k.channel_id where a.case_id = $1",
        )
        .bind(case_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let categories: String = row.try_get("categories")?;
        Ok(Some(ClaimedAlert {
            case_id,
            level: row.try_get("level")?,
            categories: serde_json::from_str(&categories).unwrap_or_default(),
            channel_name: row.try_get("channel_name")?,
            attempts: row.try_get("attempts")?,
        }))
    }

    /// The receiver accepted the alert. Recorded whatever became of the claim: it is what
    /// happened.
    pub async fn alert_sent(&self, alert: &ClaimedAlert) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "update on_call_alerts set status = 'sent', sent_at = coalesce(sent_at, $1), \
             last_error = null, updated_at = $2 where case_id = $3",
        )
        .bind(now)
        .bind(now)
        .bind(alert.case_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The receiver did not accept it: try again `delay_ms` from now, while this claim holds.
    pub async fn alert_not_accepted(
        &self,
        alert: &ClaimedAlert,
        reason: &str,
        delay_ms: i64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "update on_call_alerts set status = 'retrying', next_attempt_at = $1, last_error = $2, \
             updated_at = $3 where case_id = $4 and status = 'sending' and attempts = $5",
        )
        .bind(now + delay_ms)
        .bind(reason)
        .bind(now)
        .bind(alert.case_id)
        .bind(alert.attempts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the next alert falls due (a lease running out counts), if any waits.
    pub async fn next_alert_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "select min(next_attempt_at) from on_call_alerts \
             where status in ('pending', 'retrying', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// A case's on-call alert; None when the case has none (below S4, or no receiver is set).
    pub async fn case_alert(&self, case_id: i64) -> Result<Option<AlertView>> {
        let row = sqlx::query(
            "select status, attempts, next_attempt_at, last_error, created_at, sent_at \
             from on_call_alerts where case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let status: String = r.try_get("status")?;
            let next: i64 = r.try_get("next_attempt_at")?;
            Ok(AlertView {
                next_attempt_at: (status != "sent").then_some(next),
                status,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                sent_at: r.try_get("sent_at")?,
            })
        })
        .transpose()
    }
}
