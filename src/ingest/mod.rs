//! Ingestion: everything that arrives (Meta webhooks, the ingest API, import files) becomes
//! normalised items that one group committer writes to the store. A caller is answered only
//! after the transaction holding its items has committed: acknowledged means durable.

/// Meta's webhook parser, which lives with Meta's adapter (`platform::meta`).
pub use crate::platform::meta::webhook as meta;
pub mod normalised;
pub mod signature;

pub use crate::model;

use std::sync::atomic::Ordering;
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::Any;
use tokio::sync::{mpsc, oneshot};

use crate::metrics;
use crate::model::Inbound;
use crate::moderation::service::Moderation;
use crate::store::ingest::{apply_group, BatchCache, Limits, Outcome};
use crate::store::moderation::FlagInput;
use crate::store::{Store, StoreError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the store could not save the items: {0}")]
    Store(String),
    #[error("the service is shutting down; deliver again later")]
    ShuttingDown,
}

struct Job {
    items: Vec<Inbound>,
    /// Triage's advice per item (same order), decided before the write.
    flags: Vec<Option<FlagInput>>,
    done: oneshot::Sender<Result<Outcome, IngestError>>,
}

/// A handle to the group committer. Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
    moderation: Option<Arc<Moderation>>,
}

impl Ingestor {
    /// Starts the committer task. It ends when every handle is dropped.
    /// With `moderation`, every new inbound message is triaged before it is written.
    pub fn start(
        store: Store,
        max_text_chars: usize,
        batch_max: usize,
        moderation: Option<Arc<Moderation>>,
    ) -> Ingestor {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run(store, Limits { max_text_chars }, batch_max.max(1), rx));
        Ingestor { jobs, moderation }
    }

    /// Stores the items durably and says what happened to them.
    pub async fn submit(&self, items: Vec<Inbound>) -> Result<Outcome, IngestError> {
        if items.is_empty() {
            return Ok(Outcome::default());
        }
        // Triage runs here, in the caller's task, so the single committer only writes.
        let now = crate::store::now_ms();
        let flags = items
            .iter()
            .map(|item| {
                self.moderation
                    .as_ref()
                    .and_then(|m| crate::moderation::advice::advise(m, item, now))
            })
            .collect();
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { items, flags, done })
            .await
            .map_err(|_| IngestError::ShuttingDown)?;
        answer.await.map_err(|_| IngestError::ShuttingDown)?
    }
}

async fn run(store: Store, limits: Limits, batch_max: usize, mut rx: mpsc::Receiver<Job>) {
    let mut cache = BatchCache::default();
    // Kept from group to group so its page cache stays warm (`Store::writer_connection`), and
    // given back the moment the pool closes: closing waits for every connection.
    let mut writer = None;
    let closed = store.pool.close_event();
    tokio::pin!(closed);
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = &mut closed, if writer.is_some() => {
                writer = None;
                continue;
            }
        };
        // Group whatever else is already waiting: one commit for many requests.
        let mut count = first.items.len();
        let mut group = vec![first];
        while count < batch_max {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.items.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        if writer.is_none() && !store.pool.is_closed() {
            // Without one (the pool is busy or closing), the group takes any pooled connection.
            writer = store.writer_connection().await.ok().flatten();
        }
        match commit(&store, writer.as_mut(), &limits, &group, &mut cache).await {
            Ok(outcomes) => {
                metrics::COMMIT_LATENCY.observe(started.elapsed());
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    record(&outcome);
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(group_error) => {
                // One bad job must not fail its neighbours: retry each alone.
                tracing::warn!(error = %group_error, jobs = group.len(), "group commit failed; committing jobs one by one");
                // The connection may be what failed: the retries and later groups take another.
                writer = None;
                for job in group {
                    cache = BatchCache::default();
                    let result = commit(
                        &store,
                        None,
                        &limits,
                        std::slice::from_ref(&job),
                        &mut cache,
                    )
                    .await
                    .map(|mut o| o.remove(0))
                    .map_err(|e| IngestError::Store(e.to_string()));
                    if let Ok(outcome) = &result {
                        record(outcome);
                    }
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

async fn commit(
    store: &Store,
    writer: Option<&mut PoolConnection<Any>>,
    limits: &Limits,
    group: &[Job],
    cache: &mut BatchCache,
) -> Result<Vec<Outcome>, StoreError> {
    cache.next_group();
    let mut tx = store.begin_on(writer).await?;

    let items: Vec<_> = group
        .iter()
        .flat_map(|job| job.items.iter().zip(job.flags.iter().map(Option::as_ref)))
        .collect();
    let mut each = apply_group(&mut tx, cache, limits, &items)
        .await?
        .into_iter();
    let outcomes = group
        .iter()
        .map(|job| {
            let mut outcome = Outcome::default();
            each.by_ref()
                .take(job.items.len())
                .for_each(|o| outcome.add(o));
            outcome
        })
        .collect();
    store.commit(tx).await?;
    Ok(outcomes)
}

fn record(outcome: &Outcome) {
    metrics::INGESTED_MESSAGES.fetch_add(outcome.new_messages as u64, Ordering::Relaxed);
    metrics::INGESTED_DUPLICATES.fetch_add(outcome.duplicates as u64, Ordering::Relaxed);
    metrics::QUARANTINED_ITEMS.fetch_add(outcome.quarantined as u64, Ordering::Relaxed);
}

/// Re-ingests what waited in quarantine for a channel that is now registered and approved.
/// Returns how many items were released. Safe to repeat: ingestion is idempotent.
pub async fn release_quarantine(
    store: &Store,
    ingestor: &Ingestor,
    channel: &crate::store::channels::Channel,
) -> Result<usize, StoreError> {
    if !channel.approved {
        return Err(StoreError::Invalid(format!(
            "channel {} is not approved yet; approve it first",
            channel.id
        )));
    }
    let mut released = 0;
    let mut after = 0;
    loop {
        let page = store
            .quarantined_for(&channel.platform, &channel.platform_id, after, 500)
            .await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
        let items = page.into_iter().map(|(_, item)| item).collect();
        ingestor
            .submit(items)
            .await
            .map_err(|e| StoreError::Invalid(format!("{e}; release again")))?;
        store.mark_released(&ids).await?;
        released += ids.len();
    }
    Ok(released)
}
