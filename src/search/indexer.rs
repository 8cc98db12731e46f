//! The projection from the event log into the index, and the rebuild from the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::SearchIndex;
use crate::store::scope::ReadScope;
use crate::store::{Store, StoredEvent};

/// Events read per round.
const PAGE: i64 = 2000;
/// A pause that lets a burst of commits land in one index commit: each index commit writes a
/// segment that later merges cost CPU, so fewer, larger commits leave more for ingestion while
/// a message still becomes searchable well within a second.
const GATHER: Duration = Duration::from_millis(300);

/// Follows the event log until `shutdown` flips. Publishes the last applied sequence on
/// `progress`, so callers (and tests) can wait for freshness.
pub async fn follow(
    store: Store,
    index: Arc<SearchIndex>,
    progress: watch::Sender<i64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = index.indexed_seq();
    let _ = progress.send(after);
    loop {
        // Ask to be woken before reading, so a commit in between is not missed.
        let committed = store.committed.clone();
        let woken = committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match catch_up(&store, &index, after).await {
            Ok(seq) if seq > after => {
                after = seq;
                let _ = progress.send(after);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "the search index could not follow the event log; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        // Other instances write to the same log: look at least every half second.
        tokio::select! {
            _ = &mut woken => tokio::time::sleep(GATHER).await,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Applies every event after `after` in one index commit; returns the new last sequence.
pub async fn catch_up(store: &Store, index: &SearchIndex, after: i64) -> anyhow::Result<i64> {
    let mut last = after;
    let mut messages = BTreeSet::new();
    loop {
        let events = store.events_after(last, PAGE).await?;
        let Some(end) = events.last().map(|e| e.seq) else {
            break;
        };
        for e in &events {
            affected(store, e, &mut messages).await?;
        }
        last = end;
        if (events.len() as i64) < PAGE || messages.len() > 50_000 {
            break;
        }
    }
    if last == after {
        return Ok(after);
    }
    let ids: Vec<i64> = messages.into_iter().collect();
    let rows = store
        .messages_for_index(&ReadScope::operator(), &ids)
        .await?;
    let mut writer = index
        .writer
        .lock()
        .map_err(|_| anyhow::anyhow!("the index writer lock is poisoned"))?;
    for id in &ids {
        index.put(&writer, *id, rows.iter().find(|m| m.id == *id))?;
    }
    index.commit(&mut writer, last)?;
    Ok(last)
}

/// The messages whose indexed form an event may have changed.
async fn affected(store: &Store, e: &StoredEvent, out: &mut BTreeSet<i64>) -> anyhow::Result<()> {
    match e.kind.as_str() {
        "message.received"
        | "message.sent"
        | "message.changed"
        | "conversation.replied"
        | "message.erased"
        | "message.pseudonymised"
        // A case opened or raised to S5 takes the message's words out of the index.
        | "moderation.case_opened"
        | "moderation.case_changed" => {
            if let Some(id) = e.message_id {
                out.insert(id);
            }
        }
        // Status is indexed per message, so a status change touches the whole conversation.
        "conversation.status_changed" => {
            if let Some(c) = e.conversation_id {
                out.extend(store.conversation_message_ids(c).await?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rebuilds the index from the store: every message, in pages, with progress. The events up to
/// the sequence read at the start are covered; later ones are applied by the follower.
pub async fn rebuild(
    store: &Store,
    index: &SearchIndex,
    mut progress: impl FnMut(i64, i64),
) -> anyhow::Result<i64> {
    let seq = store.last_event_seq().await?;
    let total = store.message_count().await?;
    {
        let writer = index
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("the index writer lock is poisoned"))?;
        writer.delete_all_documents()?;
    }
    let mut after = 0;
    let mut done = 0;
    let started = Instant::now();
    loop {
        let page = store
            .messages_for_index_after(&ReadScope::operator(), after, 5000)
            .await?;
        let Some(last) = page.last().map(|m| m.id) else {
            break;
        };
        {
            let writer = index
                .writer
                .lock()
                .map_err(|_| anyhow::anyhow!("the index writer lock is poisoned"))?;
            for m in &page {
                writer.add_document(index.document(m))?;
            }
        }
        done += page.len() as i64;
        after = last;
        progress(done, total);
    }
    let mut writer = index
        .writer
        .lock()
        .map_err(|_| anyhow::anyhow!("the index writer lock is poisoned"))?;
    index.commit(&mut writer, seq)?;
    tracing::info!(
        messages = done,
        seconds = started.elapsed().as_secs_f64(),
        "search index rebuilt"
    );
    Ok(done)
}
