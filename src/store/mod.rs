//! The store owns all SQL. One set of `$1` statements serves SQLite and PostgreSQL through sqlx's
//! `Any` driver; where the dialects differ (locking), the backend is asked explicitly.
//! Times are milliseconds since the Unix epoch, booleans are 0/1 integers: both fit both engines.

pub mod access;
pub mod audit;
pub mod channels;
pub mod conversations;
pub mod echo;
pub mod events;
pub mod faq;
pub mod ingest;
pub mod integrations;
pub mod moderation;
pub mod on_call;
pub mod outbox;
pub mod person;
pub mod privacy;
pub mod reply_window;
pub mod reports;
pub mod retry;
pub mod saved_replies;
pub mod scope;
pub mod search;
pub mod staff;
pub mod sweep;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use tokio::sync::Notify;

pub use events::{EventKind, NewEvent, StoredEvent};

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with the current state (a step already taken, a case closed).
    #[error("{0}")]
    Conflict(String),
}

/// Migration versions, as `Store::schema_state` finds them.
#[derive(Debug, Clone, Default)]
pub struct SchemaState {
    pub missing: Vec<i64>,
    pub newer: Vec<i64>,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Woken after every commit that appended to the event log, so live streams need not poll.
    pub committed: Arc<Notify>,
    /// Woken after every commit that wrote an outbox row, so delivery need not wait for a poll.
    pub outbox_written: Arc<Notify>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Opens the database named by `url`, creating a SQLite file (and its folder) when missing.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(format!(
                "database_url must start with sqlite:// or postgres://, not {:?}",
                url.split(':').next().unwrap_or("")
            )));
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers work beside the writer; FULL keeps every commit durable.
                            conn.execute("pragma journal_mode = wal").await?;
                            conn.execute("pragma synchronous = full").await?;
                            conn.execute("pragma busy_timeout = 10000").await?;
                            conn.execute("pragma foreign_keys = on").await?;
                            // Reads of large ranges (reports, the index rebuild) map the file
                            // instead of copying every page through the page cache.
                            conn.execute("pragma mmap_size = 268435456").await?;
                            // Checkpoints run beside the writer (`checkpoint_in_background`),
                            // not inside whichever commit happens to fill the log.
                            conn.execute("pragma wal_autocheckpoint = 0").await?;
                            Ok(())
                        })
                    })
                    .connect_with(AnyConnectOptions::from_str(&url)?)
                    .await?;
                checkpoint_in_background(pool.clone());
                pool
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?
            }
        };
        Ok(Store {
            pool,
            backend,
            committed: Arc::new(Notify::new()),
            outbox_written: Arc::new(Notify::new()),
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// How the schema stands against this binary's migrations (for `/readyz`): those it needs
    /// that are not applied, and those applied that it does not know (a newer tavla's).
    pub async fn schema_state(&self) -> Result<SchemaState> {
        let known = Self::known_migrations(self.backend);
        let applied: Vec<i64> =
            match sqlx::query_scalar("select version from _sqlx_migrations where success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(applied) => applied,
                // No migration table: nothing is applied, if the database answers at all.
                Err(e) => {
                    sqlx::query("select 1").execute(&self.pool).await?;
                    tracing::debug!(error = %e, "no migrations are recorded");
                    Vec::new()
                }
            };
        Ok(SchemaState {
            missing: known
                .iter()
                .filter(|v| !applied.contains(v))
                .copied()
                .collect(),
            newer: applied
                .iter()
                .filter(|v| !known.contains(v))
                .copied()
                .collect(),
        })
    }

    /// The migration versions this binary carries for a backend.
    pub fn known_migrations(backend: Backend) -> Vec<i64> {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).collect()
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub async fn begin(&self) -> Result<Tx<'static>> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // On PostgreSQL a sequence value is not commit order: a reader that has seen event 11
            // could miss event 10 committing later. Writers that append to the log serialise on
            // this transaction-scoped lock, so the log's order is commit order (DESIGN.md §4).
            sqlx::query("select pg_advisory_xact_lock(7261001)")
                .execute(&mut *tx)
                .await?;
        }
        if self.backend == Backend::Sqlite {
            // Take the write lock at once rather than upgrading later, which SQLite may refuse
            // with SQLITE_BUSY that busy_timeout cannot wait out.
            // sqlx has already sent BEGIN; a write that touches nothing takes the lock.
            sqlx::query("update staff set id = id where 0 = 1")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Begins a claim of one due row by `select` (which ends in `limit 1`), for work queues that
    /// several instances share (the outbox, on-call alerts): on PostgreSQL `for update skip
    /// locked` (with `lock_of`, e.g. " of o", where the select joins) lets each instance take a
    /// different row without waiting; on SQLite the write lock taken by `begin` serialises them.
    /// No event is appended, so PostgreSQL needs no log lock. Returns the transaction and the id.
    pub(crate) async fn claim_one(
        &self,
        select: &str,
        lock_of: &str,
        now: i64,
    ) -> Result<(Tx<'static>, Option<i64>)> {
        let (mut tx, sql) = match self.backend {
            Backend::Postgres => (
                self.pool.begin().await?,
                format!("{select} for update{lock_of} skip locked"),
            ),
            Backend::Sqlite => (self.begin().await?, select.to_string()),
        };
        let id = sqlx::query_scalar(&sql)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        Ok((tx, id))
    }

    /// Commits and wakes the readers of the event log.
    pub async fn commit(&self, tx: Tx<'_>) -> Result<()> {
        tx.commit().await?;
        self.committed.notify_waiters();
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Copies the SQLite log into the database file every half second, beside the writer. SQLite's
/// own automatic checkpoint runs inside the commit that crosses its threshold, so that commit
/// (and every webhook waiting on its group) would wait for the copy and its fsync; a checkpoint
/// here never blocks the writer. Ends when the pool is closed.
fn checkpoint_in_background(pool: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("pragma wal_checkpoint(passive)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "the SQLite checkpoint failed; it is tried again");
            }
        }
    });
}

/// The file a `sqlite://PATH` database URL names; None for other URLs or none named.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// `sqlite://data/tavla.db` → make sure `data/` exists and ask sqlx to create the file.
fn sqlite_url_with_create(url: &str) -> Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Invalid(
            "database_url names no SQLite file; use sqlite://data/tavla.db or another path".into(),
        ));
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Invalid(format!(
                    "cannot create the folder {} for the database: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    if url.contains("mode=") {
        Ok(url.to_string())
    } else if url.contains('?') {
        Ok(format!("{url}&mode=rwc"))
    } else {
        Ok(format!("{url}?mode=rwc"))
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
