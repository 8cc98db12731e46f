//! Retention of the records beside the messages (`[other]` in config/retention.toml): reactions,
//! quarantined and unrecognised deliveries, staff sessions, failed sign-ins, post follow-up's
//! figures, analytics, goals, campaigns and notes, and people nothing refers to any more. Deleted in batches of their own transactions, so a first run over years
//! of records leaves room for ingestion between them.

use serde::Serialize;
use sqlx::Row;

use super::{Result, Store};

/// Rows deleted per statement.
const BATCH: i64 = 1000;

/// Records before these moments (epoch ms) have had their period.
#[derive(Debug, Clone, Copy)]
pub struct OtherCutoffs {
    pub reactions: i64,
    pub quarantine_waiting: i64,
    pub quarantine_released: i64,
    pub unrecognised: i64,
    pub sessions: i64,
    pub signin_failures: i64,
    pub people: i64,
    pub post_figures: i64,
    /// As a Swedish day, YYYYMMDD: analytics rows count per day.
    pub campaign_analytics_day: i64,
    pub post_plans: i64,
    pub post_notes: i64,
}

/// How many of each were (or, in a dry run, would be) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OtherCounts {
    pub reactions: i64,
    pub quarantine: i64,
    pub unrecognised: i64,
    pub sessions: i64,
    pub signin_failures: i64,
    pub people: i64,
    /// Post follow-up: measurements of posts' figures, analytics rows, goals, campaigns, notes.
    pub post_figures: i64,
    pub campaign_analytics: i64,
    pub post_goals: i64,
    pub campaigns: i64,
    pub post_notes: i64,
}

/// One kind of record: its table (aliased `t`), the condition that its period has run (with
/// `$1`, and `$2` where two moments apply) and those moments.
struct Kind {
    table: &'static str,
    condition: &'static str,
    moments: Vec<i64>,
}

/// A person's row is kept while anything refers to it or a legal hold names it.
const NOBODY_REFERS: &str = "t.first_seen_at < $1 \
     and not exists (select 1 from messages m where m.author_id = t.id) \
     and not exists (select 1 from conversations c where c.person_id = t.id) \
     and not exists (select 1 from posts p where p.author_id = t.id) \
     and not exists (select 1 from reactions r where r.author_id = t.id) \
     and not exists (select 1 from legal_holds h where h.scope = 'author' \
                     and h.lifted_at is null and h.target_id = t.id)";

/// A campaign is kept while a goal is set on it; after that, its period runs from its creation.
const CAMPAIGN_DONE: &str = "t.created_at < $1 \
     and not exists (select 1 from post_goals g where g.campaign_id = t.id)";

fn kinds(c: &OtherCutoffs) -> [Kind; 9] {
    [
        Kind {
            table: "reactions",
            condition: "t.platform_time < $1 and not exists (select 1 from legal_holds h \
                        where h.scope = 'author' and h.lifted_at is null and h.target_id = t.author_id)",
            moments: vec![c.reactions],
        },
        Kind {
            table: "quarantine",
            condition: "(t.released_at is null and t.received_at < $1) \
                        or (t.released_at is not null and t.released_at < $2)",
            moments: vec![c.quarantine_waiting, c.quarantine_released],
        },
        Kind {
            table: "unrecognised",
            condition: "t.received_at < $1",
            moments: vec![c.unrecognised],
        },
        Kind {
            table: "sessions",
            condition: "coalesce(t.ended_at, t.last_seen_at) < $1",
            moments: vec![c.sessions],
        },
        Kind {
            table: "signin_failures",
            condition: "t.at < $1",
            moments: vec![c.signin_failures],
        },
        // A measurement goes when a later one of the same figure stands in for it.
        Kind {
            table: "post_insights",
            condition: "t.measured_at < $1 and exists (select 1 from post_insights l \
                        where l.post_id = t.post_id and l.metric = t.metric \
                        and l.measured_at > t.measured_at)",
            moments: vec![c.post_figures],
        },
        Kind {
            table: "campaign_analytics",
            condition: "cast(replace(t.day, '-', '') as integer) < $1",
            moments: vec![c.campaign_analytics_day],
        },
        // Goals before campaigns, so a campaign whose last goal goes can go in the same run.
        Kind {
            table: "post_goals",
            condition: "t.due_at < $1",
            moments: vec![c.post_plans],
        },
        Kind {
            table: "post_evaluation_notes",
            condition: "t.written_at < $1",
            moments: vec![c.post_notes],
        },
    ]
}

impl Store {
    /// Deletes (or with `dry_run` counts) the records beside the messages whose period has run.
    /// People go last, after whatever referred to them.
    pub async fn sweep_other_records(
        &self,
        cutoffs: &OtherCutoffs,
        dry_run: bool,
    ) -> Result<OtherCounts> {
        let mut n = [0i64; 9];
        for (kind, n) in kinds(cutoffs).iter().zip(n.iter_mut()) {
            *n = if dry_run {
                self.count_where(kind.table, kind.condition, &kind.moments)
                    .await?
            } else {
                self.delete_where(kind).await?
            };
        }
        let campaigns = if dry_run {
            self.count_where("campaigns", CAMPAIGN_DONE, &[cutoffs.post_plans])
                .await?
        } else {
            self.forget_campaigns(cutoffs.post_plans).await?
        };
        let people = if dry_run {
            self.count_where("authors", NOBODY_REFERS, &[cutoffs.people])
                .await?
        } else {
            self.forget_people(cutoffs.people).await?
        };
        Ok(OtherCounts {
            reactions: n[0],
            quarantine: n[1],
            unrecognised: n[2],
            sessions: n[3],
            signin_failures: n[4],
            people,
            post_figures: n[5],
            campaign_analytics: n[6],
            post_goals: n[7],
            campaigns,
            post_notes: n[8],
        })
    }

    /// Deletes the campaigns whose period has run, with their lists of posts (the posts stay).
    async fn forget_campaigns(&self, created_before: i64) -> Result<i64> {
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "select t.id from campaigns t where {CAMPAIGN_DONE}"
        ))
        .bind(created_before)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            sqlx::query("delete from campaign_posts where campaign_id = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from campaigns where id = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as i64)
    }

    async fn count_where(&self, table: &str, condition: &str, moments: &[i64]) -> Result<i64> {
        let sql = format!("select count(*) from {table} t where {condition}");
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for m in moments {
            q = q.bind(*m);
        }
        Ok(q.fetch_one(&self.pool).await?)
    }

    async fn delete_where(&self, kind: &Kind) -> Result<i64> {
        let sql = format!(
            "delete from {table} where id in (select t.id from {table} t where {condition} limit {BATCH})",
            table = kind.table,
            condition = kind.condition,
        );
        let mut total = 0;
        loop {
            let mut q = sqlx::query(&sql);
            for m in &kind.moments {
                q = q.bind(*m);
            }
            let gone = q.execute(&self.pool).await?.rows_affected() as i64;
            total += gone;
            if gone < BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes the people nothing refers to, with the link to their pseudonym (and pseudonyms
    /// whose records are all gone), batch by batch. Ingestion remembers people's ids between
    /// groups; a remembered id of someone deleted here fails its group on the foreign key, and
    /// the committer commits the jobs again with nothing remembered (src/ingest/mod.rs), so a
    /// person who writes again simply becomes a new row (tested in tests/api/privacy.rs).
    async fn forget_people(&self, first_seen_before: i64) -> Result<i64> {
        let mut total = 0;
        loop {
            let (seen, gone) = match self.forget_people_batch(first_seen_before).await {
                Ok(batch) => batch,
                // Someone wrote again while their row was going (PostgreSQL, another instance):
                // the batch is rolled back whole, and the next run looks again.
                Err(super::StoreError::Db(sqlx::Error::Database(e)))
                    if e.is_foreign_key_violation() =>
                {
                    tracing::info!("retention: a person came back while being forgotten; the rest waits for the next run");
                    return Ok(total);
                }
                Err(e) => return Err(e),
            };
            total += gone;
            if seen < BATCH {
                return Ok(total);
            }
        }
    }

    /// One batch of `forget_people`: how many were found and how many went.
    async fn forget_people_batch(&self, first_seen_before: i64) -> Result<(i64, i64)> {
        let select = format!("select t.id from authors t where {NOBODY_REFERS} limit {BATCH}");
        // `begin`, not the pool's: on SQLite it holds the write lock from the start, so the
        // delete after the select is not refused when another writer committed in between.
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = sqlx::query(&select)
            .bind(first_seen_before)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok((0, 0));
        }
        // The ids come from the store itself, never from a request.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        sqlx::query(&format!(
            "delete from pseudonyms where author_id in ({list}) or pseudonym_author_id in ({list})"
        ))
        .execute(&mut *tx)
        .await?;
        let gone = sqlx::query(&format!("delete from authors where id in ({list})"))
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        tx.commit().await?;
        Ok((ids.len() as i64, gone))
    }
}
