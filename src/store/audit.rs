//! The audit trail: append-only, each entry chained to the previous one by a SHA-256 hash, and
//! written in the same transaction as the action it records.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{now_ms, Result, Store, Tx};

/// Who did something, from where.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub staff_id: Option<i64>,
    pub name: String,
    pub address: Option<String>,
}

impl Actor {
    /// The command line, run by whoever operates the server.
    pub fn command_line() -> Actor {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor {
            staff_id: None,
            name: format!("cli:{user}"),
            address: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: serde_json::Value,
    pub hash: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn chain_hash(
    prev: &str,
    at: i64,
    actor_id: Option<i64>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<&str>,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields, so no two different entries serialise alike.
    for field in [
        prev.to_string(),
        at.to_string(),
        actor_id.map(|i| i.to_string()).unwrap_or_default(),
        actor.to_string(),
        action.to_string(),
        target.unwrap_or("").to_string(),
        address.unwrap_or("").to_string(),
        detail.to_string(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside the caller's transaction. Writers are serialised (see
/// `Store::begin`), so reading the last hash and appending cannot interleave.
pub async fn record(
    tx: &mut Tx<'_>,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    let prev: Option<String> =
        sqlx::query_scalar("select hash from audit order by id desc limit 1")
            .fetch_optional(&mut **tx)
            .await?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_string());
    let at = now_ms();
    let detail = detail.to_string();
    let hash = chain_hash(
        &prev,
        at,
        actor.staff_id,
        &actor.name,
        action,
        target,
        actor.address.as_deref(),
        &detail,
    );
    sqlx::query(
        "insert into audit (at, actor_id, actor, action, target, address, detail, prev_hash, hash) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(at)
    .bind(actor.staff_id)
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(actor.address.as_deref())
    .bind(detail)
    .bind(prev)
    .bind(hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

impl Store {
    /// Records an entry in a transaction of its own (reads, sign-ins).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        record(&mut tx, actor, action, target, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Newest first.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "select id, at, actor_id, actor, action, target, address, detail, hash from audit \
             where ($1 = '' or actor = $2) and ($3 = '' or action = $4) and ($5 = '' or target = $6) \
             and at >= $7 and at <= $8 and id < $9 order by id desc limit $10",
        )
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.target.clone().unwrap_or_default())
        .bind(f.target.clone().unwrap_or_default())
        .bind(f.from.unwrap_or(0))
        .bind(f.to.unwrap_or(i64::MAX))
        .bind(f.before_id.unwrap_or(i64::MAX))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    address: r.try_get("address")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// Walks the whole chain in order. Returns the number of entries checked, or the first
    /// entry whose content or link does not match.
    pub async fn verify_audit(&self) -> Result<Result<i64, Broken>> {
        let mut prev = GENESIS.to_string();
        let mut after = 0i64;
        let mut checked = 0i64;
        loop {
            let rows = sqlx::query(
                "select id, at, actor_id, actor, action, target, address, detail, prev_hash, hash \
                 from audit where id > $1 order by id limit 1000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(Ok(checked));
            }
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let stored_prev: String = r.try_get("prev_hash")?;
                let stored_hash: String = r.try_get("hash")?;
                if stored_prev != prev {
                    return Ok(Err(Broken {
                        id,
                        reason: "its link to the previous entry does not match (an entry before it was changed or removed)".into(),
                    }));
                }
                let target: Option<String> = r.try_get("target")?;
                let address: Option<String> = r.try_get("address")?;
                let detail: String = r.try_get("detail")?;
                let actor: String = r.try_get("actor")?;
                let action: String = r.try_get("action")?;
                let expected = chain_hash(
                    &stored_prev,
                    r.try_get("at")?,
                    r.try_get("actor_id")?,
                    &actor,
                    &action,
                    target.as_deref(),
                    address.as_deref(),
                    &detail,
                );
                if expected != stored_hash {
                    return Ok(Err(Broken {
                        id,
                        reason: "its content does not match its hash (the entry was changed)"
                            .into(),
                    }));
                }
                prev = stored_hash;
                after = id;
                checked += 1;
            }
        }
    }
}
