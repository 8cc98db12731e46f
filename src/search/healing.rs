//! Derived state heals itself. The search index is rebuilt from the store, so damage to it (a
//! truncated meta.json, a lost segment file, its folder deleted under a running service) costs a
//! rebuild, never the service. An index that cannot be opened, or fails the quick check, is set
//! aside (renamed `search.damaged-<time>`; the newest copy is kept for inspection, older ones are
//! removed), a fresh one takes its place and the follower (`indexer::follow`) fills it from the
//! store while the service answers. Damage met while running (a search or a commit failing on a
//! corrupt or missing file) is healed the same way.
//!
//! Until the fresh index is whole, searches are refused with [`Rebuilding`], which carries the
//! progress (the HTTP layer answers 503 with Retry-After). A partial index is never answered
//! from: "no such message" from an index half full would mislead the staff who rely on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::query::Query;
use tantivy::TantivyError;
use tokio::sync::Notify;

use super::query::{Filters, Hits, Parsed, Planned, SortOrder};
use super::synonyms::SynonymCache;
use super::OpenIndex;

/// Searching is refused while the index is rebuilt from the store; how far the rebuild is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the search index is being rebuilt from the store ({done} of {total} messages)")]
pub struct Rebuilding {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Searches are answered.
    Whole,
    /// Damage was found in the index in use: the follower sets it aside and rebuilds.
    Damaged,
    /// A fresh index is being filled from the store.
    Filling(Rebuilding),
}

/// The search index in use, replaced by a fresh one when it is damaged.
pub struct SearchIndex {
    dir: PathBuf,
    current: RwLock<Arc<OpenIndex>>,
    health: Mutex<Health>,
    /// Where the last damaged index was moved to.
    set_aside: Mutex<Option<PathBuf>>,
    /// Wakes the follower when a search meets damage.
    pub(super) damage_found: Notify,
    /// The organisation's synonyms, applied to every query.
    pub synonyms: SynonymCache,
}

impl SearchIndex {
    /// Opens the index in `dir`. A damaged one is set aside and a fresh, empty one is made: it
    /// must then be filled (`needs_filling`), by the follower or by `tavla reindex`. Fails only
    /// when the folder cannot be used at all (in use by another process, not writable).
    pub fn open(dir: &Path) -> anyhow::Result<SearchIndex> {
        let mut set_aside_to = None;
        let (open, health) = match OpenIndex::open(dir).and_then(|i| i.check().map(|()| i)) {
            Ok(index) => (index, Health::Whole),
            Err(e) if !from_the_index(&e) => return Err(e),
            Err(e) => {
                let aside = set_aside(dir)?;
                tracing::warn!(
                    dir = %dir.display(),
                    set_aside = ?aside,
                    error = %short(&e),
                    "the search index cannot be opened; it is set aside and rebuilt from the store"
                );
                set_aside_to = aside;
                (
                    OpenIndex::open(dir)?,
                    Health::Filling(Rebuilding { done: 0, total: 0 }),
                )
            }
        };
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(open)),
            health: Mutex::new(health),
            set_aside: Mutex::new(set_aside_to),
            damage_found: Notify::new(),
            synonyms: SynonymCache::default(),
        })
    }

    /// The index folder in use.
    pub fn current(&self) -> Arc<OpenIndex> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn health(&self) -> Health {
        *self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_health(&self, health: Health) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = health;
    }

    /// Where the last damaged index was moved, if one was.
    pub fn set_aside_to(&self) -> Option<PathBuf> {
        self.set_aside
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last event sequence whose effects are in the committed index.
    pub fn indexed_seq(&self) -> i64 {
        self.current().indexed_seq()
    }

    /// Whether the index in use is not (yet) whole: damaged, or fresh and being filled.
    pub fn needs_filling(&self) -> bool {
        self.health() != Health::Whole
    }

    pub fn build(&self, parsed: &Parsed, filters: &Filters) -> Box<dyn Query> {
        self.current().build(parsed, filters)
    }

    /// The query for what a person typed, with the synonyms in use (see `OpenIndex::plan`).
    pub fn plan(&self, parsed: &Parsed, filters: &Filters) -> Planned {
        self.current().plan(parsed, filters, &self.synonyms.get())
    }

    /// Runs a query, or refuses with [`Rebuilding`] while the index is not whole. A search that
    /// meets damage starts the healing and is refused the same way.
    pub fn run(
        &self,
        query: &dyn Query,
        sort: SortOrder,
        limit: usize,
        offset: usize,
    ) -> anyhow::Result<Hits> {
        if let Some(rebuilding) = self.rebuilding() {
            return Err(rebuilding.into());
        }
        match self.current().run(query, sort, limit, offset) {
            Err(e) if is_damage(&e) => {
                self.found_damage(&e);
                Err(Rebuilding { done: 0, total: 0 }.into())
            }
            other => other,
        }
    }

    /// The progress to report while searches are refused.
    pub fn rebuilding(&self) -> Option<Rebuilding> {
        match self.health() {
            Health::Whole => None,
            Health::Damaged => Some(Rebuilding { done: 0, total: 0 }),
            Health::Filling(progress) => Some(progress),
        }
    }

    /// Damage met while running: searches stop, and the follower is woken to heal.
    pub fn found_damage(&self, e: &anyhow::Error) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if *health == Health::Whole {
            tracing::error!(dir = %self.dir.display(), error = %short(e),
                "the search index is damaged; it is set aside and rebuilt from the store");
            *health = Health::Damaged;
        }
        drop(health);
        self.damage_found.notify_one();
    }

    /// Makes sure the index in use can be filled: a damaged one is set aside and replaced by a
    /// fresh, empty one. Returns the index to fill.
    pub fn prepare_filling(&self, total: u64) -> anyhow::Result<Arc<OpenIndex>> {
        if self.health() == Health::Damaged {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            let aside = set_aside(&self.dir)?;
            *current = Arc::new(OpenIndex::open(&self.dir)?);
            *self.set_aside.lock().unwrap_or_else(|p| p.into_inner()) = aside;
        }
        self.progress(0, total);
        Ok(self.current())
    }

    /// How far the filling is.
    pub fn progress(&self, done: u64, total: u64) {
        self.set_health(Health::Filling(Rebuilding { done, total }));
    }

    /// The fresh index holds every message: searches are answered again.
    pub fn filled(&self) {
        self.set_health(Health::Whole);
    }
}

/// An error raised by the index files themselves (so the folder is damaged, not unusable): any
/// error of tantivy's. Ours (in use by another process, the folder cannot be made) are not.
fn from_the_index(e: &anyhow::Error) -> bool {
    e.downcast_ref::<TantivyError>().is_some()
        || e.downcast_ref::<tantivy::directory::error::OpenDirectoryError>()
            .is_some()
}

/// Whether an error met while running means the index is damaged (a file missing, corrupt or
/// unreadable, the folder gone, a writer that died) rather than a passing trouble (a full disk,
/// the store away) that a rebuild would not cure.
pub fn is_damage(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::{InvalidData, NotFound, UnexpectedEof};
    let damaged_io =
        |io: &std::io::Error| matches!(io.kind(), NotFound | InvalidData | UnexpectedEof);
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        return damaged_io(io);
    }
    match e.downcast_ref::<TantivyError>() {
        Some(
            TantivyError::DataCorruption(_)
            | TantivyError::OpenReadError(_)
            | TantivyError::OpenDirectoryError(_)
            | TantivyError::IncompatibleIndex(_)
            | TantivyError::Poisoned
            | TantivyError::ErrorInThread(_),
        ) => true,
        Some(TantivyError::OpenWriteError(
            tantivy::directory::error::OpenWriteError::IoError { io_error, .. },
        )) => damaged_io(io_error),
        Some(TantivyError::IoError(io)) => damaged_io(io),
        _ => false,
    }
}

/// Moves a damaged index folder beside itself as `<name>.damaged-<UTC time>` and removes older
/// such copies, so one is kept for inspection without the disk filling up with them. Returns the
/// new name (None when the folder was already gone).
fn set_aside(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("search")
        .to_string();
    let parent = dir.parent().unwrap_or(Path::new("."));
    let prefix = format!("{name}.damaged-");
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let aside = parent.join(format!("{prefix}{stamp}"));
    let moved = match std::fs::rename(dir, &aside) {
        Ok(()) => Some(aside),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot set the damaged search index {} aside: {e}; move or delete it, then start again",
                dir.display()
            ))
        }
    };
    for older in std::fs::read_dir(parent)?.flatten() {
        let path = older.path();
        let is_copy = older
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix));
        if is_copy && Some(&path) != moved.as_ref() {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "an older damaged search index could not be removed");
            }
        }
    }
    Ok(moved)
}

/// The first part of an error: tantivy quotes whole files (a damaged meta.json) in its messages.
fn short(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_corrupt_files_are_damage_and_a_full_disk_is_not() {
        let io = |kind: std::io::ErrorKind| {
            anyhow::Error::from(TantivyError::IoError(Arc::new(kind.into())))
        };
        assert!(is_damage(&io(std::io::ErrorKind::NotFound)));
        assert!(is_damage(&io(std::io::ErrorKind::UnexpectedEof)));
        assert!(!is_damage(&io(std::io::ErrorKind::StorageFull)));
        assert!(!is_damage(&io(std::io::ErrorKind::PermissionDenied)));
        assert!(is_damage(&anyhow::Error::from(TantivyError::Poisoned)));
        assert!(!is_damage(&anyhow::anyhow!("the store did not answer")));
    }

    #[test]
    fn a_damaged_folder_is_set_aside_and_only_the_newest_copy_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("search");
        for round in 0..3 {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("meta.json"), format!("{{ round {round}")).unwrap();
            let index = SearchIndex::open(&dir).unwrap();
            assert!(index.needs_filling());
            let aside = index.set_aside_to().expect("set aside");
            assert_eq!(
                std::fs::read_to_string(aside.join("meta.json")).unwrap(),
                format!("{{ round {round}")
            );
            assert_eq!(index.rebuilding(), Some(Rebuilding { done: 0, total: 0 }));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let copies: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .unwrap()
                    .starts_with("search.damaged-")
            })
            .collect();
        assert_eq!(copies.len(), 1);
        // The fresh one opens as whole next time.
        let index = SearchIndex::open(&dir).unwrap();
        assert!(!index.needs_filling());
    }

    #[test]
    fn searches_are_refused_with_the_progress_until_filled() {
        let root = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(&root.path().join("search")).unwrap();
        let query = index.build(
            &super::super::query::parse("bibliotek", false),
            &Filters::default(),
        );
        assert!(index
            .run(query.as_ref(), SortOrder::Relevance, 10, 0)
            .is_ok());
        index.found_damage(&anyhow::Error::from(TantivyError::Poisoned));
        let refused = index
            .run(query.as_ref(), SortOrder::Relevance, 10, 0)
            .unwrap_err();
        assert_eq!(
            refused.downcast_ref::<Rebuilding>(),
            Some(&Rebuilding { done: 0, total: 0 })
        );
        let fresh = index.prepare_filling(40).unwrap();
        assert!(index.set_aside_to().is_some(), "the damaged one is kept");
        index.progress(10, 40);
        let refused = index
            .run(query.as_ref(), SortOrder::Relevance, 10, 0)
            .unwrap_err();
        assert_eq!(
            refused.downcast_ref::<Rebuilding>(),
            Some(&Rebuilding {
                done: 10,
                total: 40
            })
        );
        drop(fresh);
        index.filled();
        assert!(index
            .run(query.as_ref(), SortOrder::Relevance, 10, 0)
            .is_ok());
    }
}
