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
pub mod moderation;
mod new_messages;
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

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Woken after every commit that appended to the event log, so live streams need not poll.
    pub committed: Arc<Notify>,
    /// Woken after every commit that wrote an outbox row, so delivery need not wait for a poll.
    pub outbox_written: Arc<Notify>,
    /// SQLite: write transactions pass this gate as they begin; the checkpoint that resets the
    /// log closes it for a moment (see `checkpoint_in_background`).
    writers: Arc<tokio::sync::RwLock<()>>,
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
        let writers = Arc::new(tokio::sync::RwLock::new(()));
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
                            // A reset log is cut back to this size, so the file stays bounded.
                            conn.execute(
                                format!("pragma journal_size_limit = {WAL_RESET_AT}").as_str(),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(AnyConnectOptions::from_str(&url)?)
                    .await?;
                checkpoint_in_background(pool.clone(), sqlite_wal_path(&url), writers.clone());
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
            writers,
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx<'static>> {
        if self.backend == Backend::Sqlite {
            // Waits while the log is being reset (a moment, every few tens of megabytes).
            drop(self.writers.read().await);
        }
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

/// The write-ahead log is reset (its file cut back to this size) once it has grown past it. A
/// passive checkpoint copies the log into the database beside the writer, but only a checkpoint
/// that resets the log makes room: without one the file grows for as long as writes never stop
/// (9 GB at 850,000 messages, issue 17).
pub const WAL_RESET_AT: u64 = 64 * 1024 * 1024;
/// How long a resetting checkpoint waits for the transaction in flight and for readers of older
/// snapshots before it gives up (and tries again later).
const RESET_WAIT_MS: u64 = 2000;

/// Copies the SQLite log into the database file every half second, beside the writer. SQLite's
/// own automatic checkpoint runs inside the commit that crosses its threshold, so that commit
/// (and every webhook waiting on its group) would wait for the copy and its fsync; a passive
/// checkpoint here never blocks the writer.
///
/// A passive checkpoint never resets the log while writes keep coming, so past `WAL_RESET_AT`
/// the log is reset: new write transactions wait at `writers` (the group in flight commits),
/// and a RESTART checkpoint copies what the passive ones left, waits for readers of older
/// snapshots (new readers read the database file and do not hold it up) and starts the log
/// afresh. Without the gate the reset would rarely get the write lock: the group committer
/// takes it again the moment it is free, while SQLite's busy handler polls. Writes pause for
/// the short copy, about once every `WAL_RESET_AT` of log. A reset refused by a long reader is
/// tried again with growing pauses. Ends when the pool is closed.
fn checkpoint_in_background(
    pool: AnyPool,
    wal: std::path::PathBuf,
    writers: Arc<tokio::sync::RwLock<()>>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_reset = tokio::time::Instant::now();
        let mut pause = Duration::from_secs(1);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            let reset = size > WAL_RESET_AT && tokio::time::Instant::now() >= next_reset;
            match checkpoint(&pool, reset.then_some(&writers)).await {
                Ok(true) => pause = Duration::from_secs(1),
                Ok(false) => {
                    // Readers held on to older snapshots: let ingestion run, then try again.
                    next_reset = tokio::time::Instant::now() + pause;
                    pause = (pause * 2).min(Duration::from_secs(30));
                    tracing::info!(
                        wal_bytes = size,
                        retry_in = ?pause,
                        "the SQLite log could not be reset yet: a long read holds it"
                    );
                }
                Err(_) if pool.is_closed() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the SQLite checkpoint failed; it is tried again")
                }
            }
        }
    });
}

/// One checkpoint: passive, or (with the writers' gate) one that resets the log. False when a
/// reset was kept from completing within `RESET_WAIT_MS`.
async fn checkpoint(pool: &AnyPool, reset: Option<&tokio::sync::RwLock<()>>) -> Result<bool> {
    // Most of the copy happens here, beside the writer, so the pause below is short.
    sqlx::query("pragma wal_checkpoint(passive)")
        .execute(pool)
        .await?;
    let Some(writers) = reset else {
        return Ok(true);
    };
    let mut conn = pool.acquire().await?;
    let _closed = writers.write().await;
    conn.execute(format!("pragma busy_timeout = {RESET_WAIT_MS}").as_str())
        .await?;
    // The first column says whether the checkpoint was kept from completing.
    let busy = sqlx::query_scalar::<_, i32>("pragma wal_checkpoint(restart)")
        .fetch_one(&mut *conn)
        .await;
    conn.execute("pragma busy_timeout = 10000").await?;
    Ok(busy? == 0)
}

/// The write-ahead log beside the database file named by a SQLite URL.
fn sqlite_wal_path(url: &str) -> std::path::PathBuf {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or("");
    std::path::PathBuf::from(format!("{path}-wal"))
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
