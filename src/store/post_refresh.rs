//! Refreshes of the channels' posts as background jobs (issue 21): one row per refresh with its
//! progress per channel, so a caller on any instance can follow a refresh another instance
//! runs. The lease (`posts-refresh`) decides who runs; these rows only say how it goes. Each
//! channel's entry is the fetch's own outcome (`posts::ChannelRefresh`), `pending` until read.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use super::{now_ms, Result, Store};

/// Finished refreshes are kept this long: enough to read how the last ones went.
const KEEP_FINISHED_MS: i64 = 30 * 24 * 3_600_000;

#[derive(Debug, Clone, Serialize)]
pub struct RefreshJob {
    pub id: i64,
    /// running, done, failed or abandoned.
    pub state: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Who asked (None: the schedule).
    pub requested_by: Option<String>,
    /// One entry per channel, as the fetch wrote it.
    pub channels: Vec<ChannelProgress>,
}

// One channel's entry in a refresh: the fetch's own outcome (`posts::ChannelRefresh`), or
// `pending` until the channel is read. Written as JSON by the refresh, read back typed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChannelRefresh)]
pub struct ChannelProgress {
    pub channel_id: i64,
    pub channel_name: String,
    #[schema(schema_with = outcome)]
    pub outcome: String,
    pub posts: i64,
    pub figures: i64,
    /// What went wrong and what to do, in plain words (never the token).
    pub problem: Option<String>,
    /// When the platform lets tavla ask again (rate limiting), epoch ms.
    pub retry_after: Option<i64>,
}

/// A channel's outcomes in a refresh, for the API description.
fn outcome() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "fetched", "partial", "skipped", "failed"]))
        .description(Some("pending until the refresh has read the channel."))
        .build()
}

impl Store {
    /// Records a refresh starting with its channels pending. Called under the lease, so any
    /// other job still marked running was left by an instance that stopped: it is abandoned.
    pub async fn start_refresh_job(
        &self,
        channels: &[Value],
        requested_by: Option<i64>,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query("update post_refresh_jobs set state = 'abandoned', finished_at = $1 where state = 'running'")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from post_refresh_jobs where finished_at < $1")
            .bind(now - KEEP_FINISHED_MS)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "insert into post_refresh_jobs (requested_by, started_at, state, channels, instance) \
             values ($1, $2, 'running', $3, $4) returning id",
        )
        .bind(requested_by)
        .bind(now)
        .bind(Value::Array(channels.to_vec()).to_string())
        .bind(self.instance.to_string())
        .fetch_one(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(id)
    }

    /// Writes a refresh's progress; with `state`, it has ended so.
    pub async fn update_refresh_job(
        &self,
        id: i64,
        channels: &[Value],
        state: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "update post_refresh_jobs set channels = $1, state = coalesce($2, state), \
             finished_at = case when $3 = 1 then $4 else finished_at end where id = $5",
        )
        .bind(Value::Array(channels.to_vec()).to_string())
        .bind(state)
        .bind(state.is_some() as i64)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The refresh running now, else the last one (None: none yet).
    pub async fn latest_refresh_job(&self) -> Result<Option<RefreshJob>> {
        let row = sqlx::query(
            "select j.id, j.state, j.started_at, j.finished_at, j.channels, s.username \
             from post_refresh_jobs j left join staff s on s.id = j.requested_by \
             order by case when j.state = 'running' then 0 else 1 end, j.id desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let channels: String = r.try_get("channels")?;
            Ok(RefreshJob {
                id: r.try_get("id")?,
                state: r.try_get("state")?,
                started_at: r.try_get("started_at")?,
                finished_at: r.try_get("finished_at")?,
                requested_by: r.try_get("username")?,
                // An entry that does not read as one (written by another version) is left out.
                channels: serde_json::from_str::<Vec<Value>>(&channels)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|entry| serde_json::from_value(entry).ok())
                    .collect(),
            })
        })
        .transpose()
    }
}
