//! The store owns all SQL. One set of `$1` statements serves SQLite and PostgreSQL through sqlx's
//! `Any` driver; where the dialects differ (locking), the backend is asked explicitly.
//! Times are milliseconds since the Unix epoch, booleans are 0/1 integers: both fit both engines.

pub mod access;
pub mod audit;
pub mod categories;
pub mod channels;
pub mod conversations;
pub mod echo;
pub mod events;
pub mod faq;
pub mod faq_figures;
pub mod ingest;
pub mod integrations;
pub mod lease;
pub mod moderation;
mod new_messages;
pub mod notes;
pub mod oidc;
pub mod on_call;
pub mod outbox;
pub mod person;
pub mod post_refresh;
pub mod posts;
pub mod privacy;
pub mod reports;
pub mod retry;
pub mod saved_replies;
pub mod scope;
pub mod search;
pub mod staff;
pub mod sweep;
pub mod synonyms;
mod unanswered;

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
    /// What the request names is not in the store (a case, a message, an author); the words say
    /// which, so the caller can check the id.
    #[error("{0}")]
    NotFound(String),
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
    /// This process among the instances sharing the store (in leases and logs).
    pub instance: Arc<str>,
    /// How far the event log is settled for readers (PostgreSQL).
    pub(crate) horizon: Arc<events::Horizon>,
    /// The writer that commits audit entries of their own (reads, sign-ins) in groups.
    audit_writer: audit::AuditWriter,
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
                    .max_connections(SQLITE_CONNECTIONS)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers work beside the writer; FULL keeps every commit durable.
                            conn.execute("pragma journal_mode = wal").await?;
                            conn.execute("pragma synchronous = full").await?;
                            conn.execute("pragma busy_timeout = 10000").await?;
                            conn.execute("pragma foreign_keys = on").await?;
                            // No mapping of the file: every pooled connection mapped up to
                            // 256 MiB of it, and mapped pages count as the service's resident
                            // memory (issue 17: 1,480 MiB at a million messages). Reads go
                            // through the kernel's page cache, which is not ours to count.
                            conn.execute("pragma mmap_size = 0").await?;
                            // Each connection's own page cache, bounded: SQLite's default
                            // for readers; the group committer's kept connection sets its own
                            // (`writer_connection`).
                            conn.execute(
                                format!("pragma cache_size = -{SQLITE_CACHE_KIB}").as_str(),
                            )
                            .await?;
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
            instance: instance_name().into(),
            horizon: Arc::default(),
            audit_writer: audit::AuditWriter::default(),
            writers,
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
        if self.backend == Backend::Sqlite {
            // Waits while the log is being reset (a moment, every few tens of megabytes).
            drop(self.writers.read().await);
        }
        let tx = self.pool.begin().await?;
        self.take_write_lock(tx).await
    }

    /// A connection for a writer that keeps it between transactions (the ingest committer), on
    /// SQLite; None on PostgreSQL, whose connections keep no pages of their own. A SQLite
    /// connection empties its page cache whenever another connection wrote since its last
    /// transaction, so a writer that took whichever pooled connection was free began every
    /// group with a cold cache and read the indexes' pages again from the kernel (issue 17).
    /// Writing from one connection keeps its cache warm: its own commits do not empty it.
    pub async fn writer_connection(&self) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Any>>> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = self.pool.acquire().await?;
                // Closed when the committer lets it go (after a failed group, or at shutdown)
                // rather than given back with this cache: otherwise each failed group would
                // leave one more pooled reader holding 16 MiB.
                conn.close_on_drop();
                sqlx::query(&format!("pragma cache_size = -{SQLITE_WRITER_CACHE_KIB}"))
                    .execute(&mut *conn)
                    .await?;
                Ok(Some(conn))
            }
            Backend::Postgres => Ok(None),
        }
    }

    /// `begin` on the connection `writer_connection` gave, or on a pooled one without it.
    pub async fn begin_on<'c>(
        &self,
        writer: Option<&'c mut sqlx::pool::PoolConnection<sqlx::Any>>,
    ) -> Result<Tx<'c>> {
        let Some(conn) = writer else {
            return self.begin().await;
        };
        if self.backend == Backend::Sqlite {
            drop(self.writers.read().await);
        }
        let tx = sqlx::Connection::begin(&mut **conn).await?;
        self.take_write_lock(tx).await
    }

    async fn take_write_lock<'c>(&self, mut tx: Tx<'c>) -> Result<Tx<'c>> {
        if self.backend == Backend::Postgres {
            // The transaction takes its id before it draws any event sequence value, so readers
            // can tell when every value drawn so far is settled (src/store/events.rs). Writers
            // overlap: each read-then-write rule holds its own row lock (`lock_row`, `lock_key`).
            sqlx::query("select pg_current_xact_id()::text")
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
    /// No event may be appended in it (it does not take its id first, see `begin`). Returns the
    /// transaction and the id.
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

/// Locks one row of `table` (one of ours, never input) by id until the transaction ends, on
/// PostgreSQL, where writers of several instances overlap: a read-then-write on the row (a claim,
/// a case's step) sees no other writer's change in between, and the second writer waits for the
/// first to commit. On SQLite `Store::begin` already holds the database's only write lock.
pub(crate) async fn lock_row(tx: &mut Tx<'_>, table: &'static str, id: i64) -> Result<()> {
    if is_postgres(tx) {
        sqlx::query(&format!("select 1 from {table} where id = $1 for update"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Serialises the transactions that name the same `key` (e.g. a username at sign-in, which may
/// have no row to lock) until they end, on PostgreSQL; per key, so other writers never wait.
/// Nothing on SQLite, where `Store::begin` holds the write lock.
pub(crate) async fn lock_key(tx: &mut Tx<'_>, key: &str) -> Result<()> {
    if is_postgres(tx) {
        // A second key space beside other advisory locks; hash collisions only make two
        // unrelated keys wait for each other.
        sqlx::query("select pg_advisory_xact_lock(7261002, hashtext($1))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Renames row `id` of `table` (one of ours, never input) inside `tx`, refusing a name another
/// row has (`taken` says so to the caller, with what to do); NotFound when there is no such row.
pub(crate) async fn rename_unique(
    tx: &mut Tx<'_>,
    table: &'static str,
    id: i64,
    name: Option<&str>,
    missing: String,
    taken: String,
) -> Result<()> {
    let known: Option<i64> = sqlx::query_scalar(&format!("select id from {table} where id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if known.is_none() {
        return Err(StoreError::NotFound(missing));
    }
    let Some(name) = name else {
        return Ok(());
    };
    let other: Option<i64> = sqlx::query_scalar(&format!(
        "select id from {table} where name = $1 and id <> $2"
    ))
    .bind(name)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    if other.is_some() {
        return Err(StoreError::Conflict(taken));
    }
    sqlx::query(&format!("update {table} set name = $1 where id = $2"))
        .bind(name)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn is_postgres(tx: &Tx<'_>) -> bool {
    use sqlx::Database;
    tx.backend_name() == sqlx::Postgres::NAME
}

/// How a statement marks its parameters: PostgreSQL needs them numbered (`$1`); SQLite takes `?`
/// in the order they are bound, which sqlx binds without looking each one up by name (the
/// lookup was 3 % of the service's CPU under sustained ingest, `sqlite3_bind_parameter_name`).
/// A `?` carries no number, so a statement built with these must bind its parameters in the
/// order their marks appear in its text. Used where statements are large and frequent (ingest's
/// multi-row statements, the id lists the followers read); elsewhere `$n` serves both engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marks {
    Numbered,
    InOrder,
}

impl Marks {
    pub(crate) fn of(tx: &Tx<'_>) -> Marks {
        if is_postgres(tx) {
            Marks::Numbered
        } else {
            Marks::InOrder
        }
    }

    pub(crate) fn of_backend(backend: Backend) -> Marks {
        match backend {
            Backend::Postgres => Marks::Numbered,
            Backend::Sqlite => Marks::InOrder,
        }
    }

    /// The mark of parameter `n` (counted from 1 in the order bound).
    pub(crate) fn mark(self, n: usize, out: &mut String) {
        match self {
            Marks::Numbered => {
                out.push('$');
                out.push_str(&n.to_string());
            }
            Marks::InOrder => out.push('?'),
        }
    }

    /// `count` marks from parameter `first`, separated by commas: an `in (…)` list.
    pub(crate) fn list(self, first: usize, count: usize) -> String {
        let mut out = String::with_capacity(count * 5);
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            self.mark(first + i, &mut out);
        }
        out
    }

    /// Parameter `n`'s mark on its own.
    pub(crate) fn one(self, n: usize) -> String {
        let mut out = String::new();
        self.mark(n, &mut out);
        out
    }
}

/// SQLite connections in the pool: one writes at a time, the rest read beside it.
const SQLITE_CONNECTIONS: u32 = 8;
/// Page cache per pooled SQLite connection, in KiB (SQLite's default): readers' caches are
/// emptied by every write of another connection while messages arrive, and filled by the large
/// reads of a report or the FAQ view when they stop, where a bigger cache was resident memory
/// for pages read once (issue 17: the RSS grew by 20–30 MiB after the views).
const SQLITE_CACHE_KIB: u64 = 2 * 1024;
/// Page cache of the group committer's kept connection (`Store::writer_connection`), in KiB:
/// the upper levels of the messages' indexes that every insert walks.
const SQLITE_WRITER_CACHE_KIB: u64 = 16 * 1024;

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

/// The write-ahead log beside the database file named by a SQLite URL (none for a store in memory:
/// its size then reads as nothing, and only the passive checkpoints run).
fn sqlite_wal_path(url: &str) -> std::path::PathBuf {
    let db = sqlite_path(url).unwrap_or_default();
    std::path::PathBuf::from(format!("{}-wal", db.display()))
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

/// Host, process and a random part: unique among the instances that share one store.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| plain_name(&h, 40))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// A name fit for /metrics labels and leases: letters, digits and `-_.:` only, at most `max`.
pub fn plain_name(name: &str, max: usize) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.:".contains(*c))
        .take(max)
        .collect()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod layers {
    //! DESIGN.md §4: the store imports no capability, and outbox, echo and moderation do not
    //! reach back into ingestion (the cycle echo → outbox → ingest → moderation → outbox).

    fn sources() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("src/store is readable")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("a source file"))
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn the_store_imports_no_capability() {
        let capabilities = [
            "access",
            "faq",
            "ingest",
            "inbox",
            "moderation",
            "outbound",
            "privacy",
            "reports",
            "search",
            "http",
        ];
        for (name, text) in sources() {
            for cap in capabilities {
                for needle in [format!("crate::{cap}::"), format!("crate::{cap};")] {
                    assert!(
                        !text.contains(&needle),
                        "src/store/{name}.rs uses {needle}: the capability passes what the store needs"
                    );
                }
            }
        }
    }

    #[test]
    fn the_outbox_does_not_depend_on_ingestion() {
        for (name, text) in sources() {
            if ["outbox", "echo", "moderation", "unanswered"].contains(&name.as_str()) {
                assert!(
                    !text.contains("super::ingest") && !text.contains("super::new_messages"),
                    "src/store/{name}.rs reaches into ingestion, closing a cycle"
                );
            }
        }
    }
}
