//! Leases for background work that must run once however many instances share the store
//! (retention, FAQ consolidation). A lease is a row with a holder and an expiry: the instance
//! that takes it runs the job and renews it while it works; one that stops (a crash, a dropped
//! request, a lost connection) holds it no longer than its expiry. Unlike a session advisory lock
//! on a pooled connection, nothing is left held by a connection that goes back to the pool.

use super::{now_ms, Result, Store};

/// A lease taken by this process. Renew it while working; `release` it when done.
#[derive(Debug, Clone)]
pub struct Lease {
    pub name: String,
    /// This instance and a nonce of this take: two tasks of one instance are two holders.
    pub holder: String,
    pub ttl_ms: i64,
}

impl Store {
    /// Takes the lease `name` for `ttl_ms` when nobody holds it (or the holder let it run out)
    /// and, with `done_before`, only when its last completed run finished before then (a job
    /// run once per interval: another instance may have run it already).
    pub async fn take_lease(
        &self,
        name: &str,
        ttl_ms: i64,
        done_before: Option<i64>,
    ) -> Result<Option<Lease>> {
        let now = now_ms();
        sqlx::query(
            "insert into job_leases (name, holder, expires_at, last_done_at) values ($1, null, 0, 0) \
             on conflict (name) do nothing",
        )
        .bind(name)
        .execute(&self.pool)
        .await?;
        let holder = format!("{}:{:08x}", self.instance, rand::random::<u32>());
        let taken = sqlx::query(
            "update job_leases set holder = $1, expires_at = $2 \
             where name = $3 and (holder is null or expires_at <= $4) and last_done_at <= $5",
        )
        .bind(&holder)
        .bind(now + ttl_ms)
        .bind(name)
        .bind(now)
        .bind(done_before.unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((taken == 1).then(|| Lease {
            name: name.to_string(),
            holder,
            ttl_ms,
        }))
    }

    /// Extends a lease still held; false when it ran out and someone else took it.
    pub async fn renew_lease(&self, lease: &Lease) -> Result<bool> {
        let renewed =
            sqlx::query("update job_leases set expires_at = $1 where name = $2 and holder = $3")
                .bind(now_ms() + lease.ttl_ms)
                .bind(&lease.name)
                .bind(&lease.holder)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(renewed == 1)
    }

    /// Gives the lease back; with `done`, the job's run counts as its last completed one.
    pub async fn release_lease(&self, lease: &Lease, done: bool) -> Result<()> {
        sqlx::query(
            "update job_leases set holder = null, expires_at = 0, \
             last_done_at = case when $1 = 1 then $2 else last_done_at end \
             where name = $3 and holder = $4",
        )
        .bind(done as i64)
        .bind(now_ms())
        .bind(&lease.name)
        .bind(&lease.holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the job last completed a run (0: never).
    pub async fn lease_last_done(&self, name: &str) -> Result<i64> {
        let at: Option<i64> =
            sqlx::query_scalar("select last_done_at from job_leases where name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(at.unwrap_or(0))
    }
}

/// Keeps a lease renewed while the job runs: renews every third of its time to live, and stops
/// when dropped (the lease then runs out unless released first).
pub struct Renewal {
    task: tokio::task::JoinHandle<()>,
}

impl Renewal {
    pub fn start(store: &Store, lease: &Lease) -> Renewal {
        let (store, lease) = (store.clone(), lease.clone());
        let every = std::time::Duration::from_millis((lease.ttl_ms / 3).max(1) as u64);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.renew_lease(&lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %lease.name, "the job's lease ran out while it worked");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, job = %lease.name, "cannot renew the job's lease")
                    }
                }
            }
        });
        Renewal { task }
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}
