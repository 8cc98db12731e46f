//! One reader of the event log per instance, fanned out to every live stream (a broadcast), so
//! that N open streams cost one query per commit (or per second, for other instances' commits)
//! instead of N. A stream that starts from an older position, or falls behind the broadcast,
//! reads the log itself until it has caught up, then listens again; each stream still filters
//! what it passes on by what its listener may see.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::store::{Store, StoredEvent};

/// Events with the kind of the conversation they concern (for the listener's access check).
pub type Batch = Arc<[(StoredEvent, Option<String>)]>;

/// Events read per query, by the feed and by a stream catching up.
pub const PAGE: i64 = 500;

/// Batches kept for a listener that is slow to take them; beyond it the listener catches up from
/// the log. Small, since a batch may hold up to PAGE events.
const CAPACITY: usize = 64;

/// Other instances write to the same log: look at least this often.
const POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct LiveFeed {
    tx: broadcast::Sender<Batch>,
}

impl LiveFeed {
    /// Starts the reader; it follows the log from its current end until `shutdown` flips.
    pub async fn start(
        store: Store,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<(LiveFeed, JoinHandle<()>)> {
        let (tx, _) = broadcast::channel(CAPACITY);
        let head = store.last_event_seq().await?;
        let task = tokio::spawn(follow(store, tx.clone(), head, shutdown));
        Ok((LiveFeed { tx }, task))
    }

    /// Listens from now on. Subscribe before reading the log to catch up, so nothing committed
    /// in between is missed (what arrives twice is told apart by its sequence number).
    pub fn subscribe(&self) -> broadcast::Receiver<Batch> {
        self.tx.subscribe()
    }
}

async fn follow(
    store: Store,
    tx: broadcast::Sender<Batch>,
    mut after: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // Ask to be woken before reading, so a commit between the read and the wait is not missed.
        let committed = store.committed.clone();
        let woken = committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match advance(&store, &tx, after).await {
            Ok(seq) => after = seq,
            Err(e) => tracing::warn!(error = %e, "the live feed could not read the event log"),
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Publishes what follows `after`; returns the new position.
async fn advance(
    store: &Store,
    tx: &broadcast::Sender<Batch>,
    mut after: i64,
) -> crate::store::Result<i64> {
    if tx.receiver_count() == 0 {
        // Nobody listens, so nothing is read: the position moves to the log's end. A listener
        // that subscribes meanwhile reads the log itself from its own position, and the second
        // look makes sure none subscribed before the end was read (or the jump could skip
        // events that it has not read yet).
        let head = store.last_event_seq().await?;
        if tx.receiver_count() == 0 {
            return Ok(head.max(after));
        }
    }
    loop {
        let batch = store.events_visible_after(after, PAGE).await?;
        let Some(last) = batch.last().map(|(e, _)| e.seq) else {
            return Ok(after);
        };
        after = last;
        let full = batch.len() as i64 >= PAGE;
        // No listener left is no error: the next round moves on without reading.
        let _ = tx.send(batch.into());
        if !full {
            return Ok(after);
        }
    }
}
