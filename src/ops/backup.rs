//! Backups and restores of the SQLite store.
//!
//! `tavla backup FILE` copies the database while the service runs: `VACUUM INTO` reads one
//! consistent snapshot (the write-ahead log lets the service go on writing meanwhile), the copy is
//! checked, and only then renamed to FILE, so FILE is either a whole backup or absent.
//! `tavla restore FILE` puts a backup back with the service stopped: it refuses while a serving
//! tavla holds the lock beside the database or something answers on the listen address, keeps the
//! database it replaces beside it, upgrades the copy's schema, records the restore in the audit
//! trail and rebuilds derived state (the search index) from the restored store. FAQ clusters and
//! live streams are derived at start. PostgreSQL has its own tools; both commands say which.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

use crate::settings::Settings;
use crate::store::audit::Actor;
use crate::store::{sqlite_path, Store};

/// What PostgreSQL operators run instead (README, "Backups and restores").
pub const POSTGRES_BACKUP: &str = "on PostgreSQL, back up with pg_dump while tavla runs: \
    pg_dump --format=custom --file=FILE \"$TAVLA_DATABASE_URL\" (a consistent snapshot)";
pub const POSTGRES_RESTORE: &str = "on PostgreSQL, stop every instance, restore into an empty \
    database with pg_restore --no-owner --dbname=\"$TAVLA_DATABASE_URL\" FILE, then run \
    `tavla reindex` on each instance before starting it";

/// What a backup holds, as printed after it is made or restored.
#[derive(Debug, Clone)]
pub struct Summary {
    pub messages: i64,
    pub last_event: i64,
    pub newest_migration: i64,
    pub bytes: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} messages, events up to {}, schema at migration {}, {} bytes",
            self.messages, self.last_event, self.newest_migration, self.bytes
        )
    }
}

/// The lock a serving instance holds (shared, so several may serve one file) on `<db>.lock`;
/// `restore` takes it exclusively, so it cannot replace a database in use.
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    /// Taken by `serve` on a SQLite store; None for PostgreSQL.
    pub fn take(settings: &Settings) -> anyhow::Result<Option<ServeLock>> {
        let Some(db) = sqlite_path(settings.database_url.expose()) else {
            return Ok(None);
        };
        let file = open_lock(&db)?;
        file.try_lock_shared().map_err(|_| {
            anyhow::anyhow!(
                "{} is being restored (its lock {} is held); start tavla when the restore has finished",
                db.display(),
                lock_path(&db).display()
            )
        })?;
        Ok(Some(ServeLock { _file: file }))
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(db: &Path) -> anyhow::Result<File> {
    let path = lock_path(db);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

/// `tavla backup FILE`: a consistent copy of the SQLite store, taken while the service runs.
pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<Summary> {
    let Some(db) = sqlite_path(settings.database_url.expose()) else {
        bail!("tavla backup copies a SQLite store; {POSTGRES_BACKUP}");
    };
    if !db.is_file() {
        bail!(
            "there is no database at {} (database_url); nothing to back up",
            db.display()
        );
    }
    if file.exists() {
        bail!(
            "{} exists; a backup never overwrites: name a new file",
            file.display()
        );
    }
    let partial = beside(file, "partial")?;
    let _ = std::fs::remove_file(&partial);
    let store = Store::connect(settings.database_url.expose()).await?;
    // One read transaction: the snapshot of the moment it began, whatever commits meanwhile.
    let copied = sqlx::query("vacuum into $1")
        .bind(partial.to_string_lossy().to_string())
        .execute(&store.pool)
        .await;
    store.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "the copy failed: {e}; check that there is room beside {}",
            file.display()
        );
    }
    let summary = match verify(&partial).await {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("the copy did not check out, so no backup was written"));
        }
    };
    durable_rename(&partial, file)?;
    Ok(summary)
}

/// `tavla restore FILE`: the service stopped, the backup replaces the database, which is kept
/// beside it as `<db>.before-restore-<time>`. Returns the summary and where the old one went.
pub async fn restore(
    settings: &Settings,
    file: &Path,
) -> anyhow::Result<(Summary, Option<PathBuf>)> {
    let Some(db) = sqlite_path(settings.database_url.expose()) else {
        bail!("tavla restore puts back a SQLite store; {POSTGRES_RESTORE}");
    };
    if !file.is_file() {
        bail!("there is no backup at {}", file.display());
    }
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    let lock = open_lock(&db)?;
    if lock.try_lock().is_err() {
        bail!(
            "tavla is serving {} (it holds {}); stop the service first (systemctl stop tavla), then restore",
            db.display(),
            lock_path(&db).display()
        );
    }
    refuse_if_answering(&settings.listen).await?;
    // The copy is made and checked beside the database before anything is replaced.
    let incoming = beside(&db, "restoring")?;
    std::fs::copy(file, &incoming)
        .with_context(|| format!("cannot copy {} to {}", file.display(), incoming.display()))?;
    File::open(&incoming)?.sync_all()?;
    let summary = match verify(&incoming).await {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e.context(format!(
                "{} is not a backup tavla can restore; nothing was changed",
                file.display()
            )));
        }
    };
    let kept = set_aside(&db)?;
    durable_rename(&incoming, &db)?;
    let store = Store::connect(settings.database_url.expose()).await?;
    store.migrate().await?;
    store
        .audit(
            &Actor::command_line(),
            "store.restored",
            None,
            serde_json::json!({
                "backup": file.display().to_string(),
                "messages": summary.messages,
                "last_event": summary.last_event,
            }),
        )
        .await?;
    rebuild_search(settings, &store).await?;
    store.close().await;
    drop(lock);
    Ok((summary, kept))
}

/// A serving tavla of another version (without the lock) still answers on its address.
async fn refuse_if_answering(listen: &str) -> anyhow::Result<()> {
    let probe = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(listen),
    )
    .await;
    if matches!(probe, Ok(Ok(_))) {
        bail!(
            "something answers at {listen}, the address tavla serves on (listen); stop the service first, then restore"
        );
    }
    Ok(())
}

/// Opens a copy, checks it whole and made by this tavla or an older one, and summarises it.
async fn verify(path: &Path) -> anyhow::Result<Summary> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rw", path.display());
    let pool: AnyPool = AnyPoolOptions::new()
        .max_connections(1)
        .connect_with(AnyConnectOptions::from_str(&url)?)
        .await
        .context("it cannot be opened as a SQLite database")?;
    let summary = summarise(&pool, path).await;
    pool.close().await;
    summary
}

async fn summarise(pool: &AnyPool, path: &Path) -> anyhow::Result<Summary> {
    let integrity: String = sqlx::query_scalar("pragma integrity_check")
        .fetch_one(pool)
        .await?;
    if integrity != "ok" {
        bail!("SQLite's integrity check failed: {integrity}");
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await
            .context("it holds no tavla schema (no migrations are recorded)")?;
    let known = Store::known_migrations(crate::store::Backend::Sqlite);
    if let Some(newer) = applied.iter().find(|v| !known.contains(v)) {
        bail!(
            "it was made by a newer tavla (migration {newer}, which this one does not know); restore it with that version or a later one"
        );
    }
    Ok(Summary {
        messages: sqlx::query_scalar("select count(*) from messages")
            .fetch_one(pool)
            .await?,
        last_event: sqlx::query_scalar("select coalesce(max(seq), 0) from events")
            .fetch_one(pool)
            .await?,
        newest_migration: applied.iter().copied().max().unwrap_or(0),
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// Moves the database and its log and shared-memory files aside together (they stay a whole
/// database under the new name); None when there was no database.
fn set_aside(db: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = beside(db, &format!("before-restore-{stamp}"))?;
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{suffix}", aside.display()));
            std::fs::rename(&from, &to).with_context(|| {
                format!("cannot move {} aside to {}", from.display(), to.display())
            })?;
        }
    }
    Ok(Some(aside))
}

/// The search index is derived: the one beside the old database is removed and rebuilt from
/// the restored store.
async fn rebuild_search(settings: &Settings, store: &Store) -> anyhow::Result<()> {
    let dir = settings.data_dir.join("search");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove the old search index {}", dir.display()))?;
    }
    let index = crate::search::SearchIndex::open(&dir)?;
    crate::search::indexer::rebuild(store, &index, |_, _| {}).await?;
    crate::search::indexer::catch_up(store, &index, index.indexed_seq()).await?;
    Ok(())
}

/// `FILE` → `FILE.<what>` in the same folder (so a rename is atomic).
fn beside(file: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let name = file
        .file_name()
        .with_context(|| format!("{} names no file", file.display()))?;
    let mut name = name.to_owned();
    name.push(format!(".{what}"));
    Ok(file.with_file_name(name))
}

/// Renames within a folder and makes the rename durable: the file, then the folder, synced.
fn durable_rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    File::open(from)?.sync_all()?;
    std::fs::rename(from, to)
        .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))?;
    if let Some(folder) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}
