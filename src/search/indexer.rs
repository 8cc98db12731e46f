//! The projection from the event log into the index, and the rebuild from the store (which is
//! also how a damaged index heals: see `healing`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use tantivy::IndexWriter;
use tokio::sync::watch;

use super::healing::is_damage;
use super::synonyms::Group;
use super::{OpenIndex, SearchIndex};
use crate::store::scope::ReadScope;
use crate::store::search::IndexedMessage;
use crate::store::{EventKind, Store, StoredEvent};

/// Events read per round.
const PAGE: i64 = 2000;
/// A pause that lets a burst of commits land in one index commit: each index commit writes a
/// segment that later merges cost CPU, so fewer, larger commits leave more for ingestion while
/// a message still becomes searchable well within a second.
const GATHER: Duration = Duration::from_millis(300);

/// Follows the event log until `shutdown` flips. Publishes the last applied sequence on
/// `progress`, so callers (and tests) can wait for freshness. An index that is not whole (set
/// aside at start, damaged while running, or empty while the store is not) is rebuilt from the
/// store first, while the service answers.
pub async fn follow(
    store: Store,
    index: Arc<SearchIndex>,
    progress: watch::Sender<i64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = index.indexed_seq();
    let _ = progress.send(after);
    load_synonyms(&store, &index).await;
    lost_while_stopped(&store, &index).await;
    let mut pause = Duration::from_secs(1);
    loop {
        if index.needs_filling() {
            let filled = tokio::select! {
                filled = fill(&store, &index) => filled,
                _ = shutdown.changed() => return,
            };
            match filled {
                Ok(seq) => {
                    after = seq;
                    let _ = progress.send(after);
                    pause = Duration::from_secs(1);
                }
                Err(e) => {
                    if is_damage(&e) {
                        index.found_damage(&e);
                    }
                    tracing::error!(error = %e, retry_in = ?pause, "the search index could not be rebuilt from the store; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => return,
                    }
                    pause = (pause * 2).min(Duration::from_secs(60));
                    continue;
                }
            }
        }
        // Ask to be woken before reading, so a commit in between is not missed.
        let committed = store.committed.clone();
        let woken = committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let began = tokio::time::Instant::now();
        match catch_up(&store, &index, after).await {
            Ok(seq) if seq > after => {
                after = seq;
                let _ = progress.send(after);
                // Under sustained ingestion more has always arrived meanwhile: gather it until
                // GATHER has passed since this round began, so index commits stay a few a second
                // (each is a segment with a fixed cost, and merges after) rather than one per
                // trickle, while a message is still searchable well within a second.
                tokio::select! {
                    _ = tokio::time::sleep_until(began + GATHER) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            Ok(_) => {}
            Err(e) if is_damage(&e) => {
                index.found_damage(&e);
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "the search index could not follow the event log; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        // Other instances write to the same log: look at least every half second.
        tokio::select! {
            _ = &mut woken => tokio::time::sleep(GATHER).await,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = index.damage_found.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Loads the organisation's synonyms into the index in use (at start, and when the event log
/// says they changed). Searches go on with the groups they had if the store does not answer.
pub async fn load_synonyms(store: &Store, index: &SearchIndex) {
    match store.synonym_groups().await {
        Ok(groups) => {
            let groups: Vec<Group> = groups
                .into_iter()
                .map(|g| Group {
                    id: g.id,
                    terms: g.terms,
                })
                .collect();
            index.synonyms.set(&groups);
        }
        Err(e) => {
            tracing::warn!(error = %e, "the search synonyms could not be loaded; searches use those loaded before")
        }
    }
}

/// An index that has applied nothing while the store holds messages was lost while the service
/// was stopped (its folder deleted, a restore): it is filled from the store rather than
/// replayed from the log with searches answered from a part of it.
async fn lost_while_stopped(store: &Store, index: &SearchIndex) {
    if index.needs_filling() || index.indexed_seq() > 0 {
        return;
    }
    match store.message_count().await {
        Ok(n) if n > 0 => index.progress(0, n as u64),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot count the messages to see whether the search index is whole")
        }
    }
}

/// Rebuilds the index in use from the store, logging the progress; returns the sequence the
/// rebuilt index covers.
async fn fill(store: &Store, index: &SearchIndex) -> anyhow::Result<i64> {
    let mut last_log = Instant::now();
    rebuild(store, index, |done, total| {
        if last_log.elapsed() >= Duration::from_secs(2) {
            last_log = Instant::now();
            tracing::info!(done, total, "rebuilding the search index from the store");
        }
    })
    .await?;
    Ok(index.indexed_seq())
}

/// The writer of an index; a writer poisoned by a panic counts as damage, which heals.
fn writer(index: &OpenIndex) -> Result<MutexGuard<'_, IndexWriter>, tantivy::TantivyError> {
    index
        .writer
        .lock()
        .map_err(|_| tantivy::TantivyError::Poisoned)
}

/// Applies every event after `after` in one index commit; returns the new last sequence.
pub async fn catch_up(store: &Store, index: &SearchIndex, after: i64) -> anyhow::Result<i64> {
    let open = index.current();
    let mut last = after;
    let mut messages = BTreeSet::new();
    let mut synonyms_changed = false;
    loop {
        let events = store.events_after(last, PAGE).await?;
        let Some(end) = events.last().map(|e| e.seq) else {
            break;
        };
        for e in &events {
            affected(store, e, &mut messages).await?;
            synonyms_changed |= e.kind == EventKind::SynonymsChanged.as_str();
        }
        last = end;
        if (events.len() as i64) < PAGE || messages.len() > 50_000 {
            break;
        }
    }
    if last == after {
        return Ok(after);
    }
    if synonyms_changed {
        load_synonyms(store, index).await;
    }
    let ids: Vec<i64> = messages.into_iter().collect();
    let rows = store
        .messages_for_index(&ReadScope::operator(), &ids)
        .await?;
    // By id: a round may hold tens of thousands of messages (catching up after a pause), and a
    // search of the rows for each would cost the square of that.
    let rows: HashMap<i64, &IndexedMessage> = rows.iter().map(|m| (m.id, m)).collect();
    let mut writer = writer(&open)?;
    for id in &ids {
        open.put(&writer, *id, rows.get(id).copied())?;
    }
    open.commit(&mut writer, last)?;
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

/// Rebuilds the index from the store: every message, in pages, with progress (kept on the index
/// too, for the searches refused meanwhile). A damaged index is first set aside for a fresh one.
/// The events up to the sequence read at the start are covered; later ones are applied by the
/// follower. Returns the number of messages indexed.
pub async fn rebuild(
    store: &Store,
    index: &SearchIndex,
    mut progress: impl FnMut(i64, i64),
) -> anyhow::Result<i64> {
    let seq = store.last_event_seq().await?;
    let total = store.message_count().await?;
    let open = index.prepare_filling(total as u64)?;
    writer(&open)?.delete_all_documents()?;
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
            let writer = writer(&open)?;
            for m in &page {
                open.add(&writer, m)?;
            }
        }
        done += page.len() as i64;
        after = last;
        index.progress(done as u64, total.max(done) as u64);
        progress(done, total);
    }
    open.commit(&mut *writer(&open)?, seq)?;
    index.filled();
    tracing::info!(
        messages = done,
        seconds = started.elapsed().as_secs_f64(),
        "search index rebuilt"
    );
    Ok(done)
}
