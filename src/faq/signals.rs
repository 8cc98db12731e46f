//! FAQ signals: the clusterer fed from the store and the event log, and per-period figures
//! (messages, distinct people, channels, posts, change against the previous period with a
//! significance test) for communicators. Clusters are derived data: rebuilt from the store at
//! start; curation (names, pins, answers) lives in the store and outlives re-clustering.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::cluster::{ClusterConfig, Clusterer, Row};
use super::question::is_question;
use crate::store::faq::{Curation, QuestionRow};
use crate::store::scope::{ReadScope, COMMENTS};
use crate::store::Store;

/// What is known of each clustered message, for per-period counts and access filters.
#[derive(Debug, Clone)]
struct Member {
    time: i64,
    author: String,
    channel_id: i64,
    post_id: Option<String>,
}

pub struct FaqSignals {
    inner: Mutex<Inner>,
}

struct Inner {
    clusterer: Clusterer,
    members: HashMap<u64, Member>,
    /// Last event sequence applied.
    seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            "quarter" => Some(Period::Quarter),
            _ => None,
        }
    }

    pub fn millis(self) -> i64 {
        let day = 86_400_000;
        match self {
            Period::Day => day,
            Period::Week => 7 * day,
            Period::Month => 30 * day,
            Period::Quarter => 91 * day,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub id: u64,
    pub topic: Option<u64>,
    /// The curated name, or the most central question the reader may read, or `#id` when they
    /// may read none of its questions.
    pub name: String,
    /// The most central question the reader may read; empty when none.
    pub label: String,
    /// From the questions the reader may read.
    pub top_terms: Vec<String>,
    /// Messages in the period, and in the period before.
    pub count: usize,
    pub previous: usize,
    /// Distinct people in the period: one person asking ten times is one signal.
    pub people: usize,
    pub change: i64,
    /// z of the change (counts as Poisson; conditional binomial test, normal approximation).
    pub z: f64,
    /// |z| ≥ 1.96 with at least five messages across both periods.
    pub significant: bool,
    /// The cluster's first question fell in this period and it already has five.
    pub new_and_fast: bool,
    pub channels: Vec<i64>,
    pub posts: Vec<String>,
    /// Questions the reader may read, personal data masked.
    pub examples: Vec<String>,
    pub total_members: usize,
    pub pinned: bool,
    pub dismissed: bool,
    pub answered_url: Option<String>,
    /// Still growing (three or more new questions) after it was marked answered.
    pub growing_after_answer: bool,
}

/// Only comments, visitors' posts and mentions: public questions. Direct messages stay out of
/// communicators' view (they do not read DMs).
fn is_public(kind: &str) -> bool {
    kind == "comments"
}

impl FaqSignals {
    /// Builds the clusters from every public question in the store.
    pub async fn build(store: &Store, config: ClusterConfig) -> anyhow::Result<FaqSignals> {
        let seq = store.last_event_seq().await?;
        let mut rows: Vec<QuestionRow> = Vec::new();
        let mut after = 0;
        loop {
            let page = store
                .question_candidates_after(&ReadScope::operator(), after, 5000)
                .await?;
            let Some(last) = page.last().map(|r| r.id) else {
                break;
            };
            after = last;
            rows.extend(
                page.into_iter()
                    .filter(|r| is_public(&r.kind) && is_question(&r.text)),
            );
        }
        let batch: Vec<Row<'_>> = rows
            .iter()
            .map(|r| Row {
                id: r.id as u64,
                text: &r.text,
                time_ms: r.time,
                author: &r.author,
            })
            .collect();
        let clusterer = tokio::task::block_in_place(|| Clusterer::recluster_all(&batch, &config));
        let members = rows
            .into_iter()
            .map(|r| {
                (
                    r.id as u64,
                    Member {
                        time: r.time,
                        author: r.author,
                        channel_id: r.channel_id,
                        post_id: r.post_id,
                    },
                )
            })
            .collect();
        Ok(FaqSignals {
            inner: Mutex::new(Inner {
                clusterer,
                members,
                seq,
            }),
        })
    }

    /// Adds one new message if it is a public question. Under a millisecond (DESIGN.md §6).
    pub fn add(&self, row: &QuestionRow) -> bool {
        if !is_public(&row.kind) || !is_question(&row.text) {
            return false;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        inner
            .clusterer
            .assign(row.id as u64, &row.text, row.time, &row.author);
        inner.members.insert(
            row.id as u64,
            Member {
                time: row.time,
                author: row.author.clone(),
                channel_id: row.channel_id,
                post_id: row.post_id.clone(),
            },
        );
        true
    }

    /// Forgets a message (erased or pseudonymised by retention or a person's request): it leaves
    /// its cluster, its counts and the examples.
    pub fn forget(&self, message: i64) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        inner.members.remove(&(message as u64));
        inner.clusterer.remove(message as u64)
    }

    /// Merges clusters that have grown together; returns the merges as (from, into).
    pub fn consolidate(&self) -> Vec<(u64, u64)> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        let c = inner.clusterer.consolidate();
        tracing::debug!(
            merges = c.merges.len(),
            moved = c.moved,
            "FAQ clusters consolidated"
        );
        c.merges
    }

    pub fn seq(&self) -> i64 {
        self.inner.lock().map(|i| i.seq).unwrap_or(0)
    }

    /// Signals for the period ending at `now`, counted within the reader's channel limit; names,
    /// labels, terms and examples drawn only from questions the reader may read.
    pub fn signals(
        &self,
        period: Period,
        now: i64,
        scope: &ReadScope,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
    ) -> Vec<Signal> {
        let start = now - period.millis();
        let before = start - period.millis();
        // (start, now] against (before, start]: the half-open windows one millisecond later.
        self.signals_between(
            (start + 1, now + 1),
            (before + 1, start + 1),
            scope,
            curations,
            moves,
        )
    }

    /// Signals for the window [from, to) against the window `previous` (also [from, to)): what
    /// follow-up reports count per calendar month or quarter.
    pub fn signals_between(
        &self,
        window: (i64, i64),
        previous: (i64, i64),
        scope: &ReadScope,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
    ) -> Vec<Signal> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let start = window.0;
        #[derive(Default)]
        struct Acc {
            count: usize,
            previous: usize,
            people: BTreeSet<String>,
            channels: BTreeSet<i64>,
            posts: BTreeMap<String, usize>,
            total: usize,
            after_answer: usize,
        }
        let answered: HashMap<i64, i64> = curations
            .iter()
            .filter_map(|c| c.answered_at.map(|a| (c.cluster_id, a)))
            .collect();
        let merged = merges(curations);
        let mut acc: HashMap<u64, Acc> = HashMap::new();
        for (id, m) in &inner.members {
            if !scope.within_channel(m.channel_id) {
                continue;
            }
            let Some(cluster) = place(&inner.clusterer, *id, &merged, moves) else {
                continue;
            };
            let a = acc.entry(cluster).or_default();
            a.total += 1;
            if answered
                .get(&(cluster as i64))
                .is_some_and(|at| m.time > *at)
            {
                a.after_answer += 1;
            }
            if m.time >= window.0 && m.time < window.1 {
                a.count += 1;
                a.people.insert(m.author.clone());
                a.channels.insert(m.channel_id);
                if let Some(p) = &m.post_id {
                    *a.posts.entry(p.clone()).or_default() += 1;
                }
            } else if m.time >= previous.0 && m.time < previous.1 {
                a.previous += 1;
            }
        }
        let mut out: Vec<Signal> = acc
            .into_iter()
            .filter(|(_, a)| a.count > 0 || a.previous > 0)
            .filter(|(id, _)| !merged.contains_key(id))
            .filter_map(|(id, a)| {
                // A question is readable when the reader reads comments on its channel.
                let readable = |message: u64| {
                    inner
                        .members
                        .get(&message)
                        .is_some_and(|m| scope.may_read(COMMENTS, m.channel_id))
                };
                let summary = inner.clusterer.cluster_among(id, &readable)?;
                let curation = curations.iter().find(|c| c.cluster_id == id as i64);
                let (c1, c0) = (a.count as f64, a.previous as f64);
                let z = if c1 + c0 > 0.0 {
                    (c1 - c0) / (c1 + c0).sqrt()
                } else {
                    0.0
                };
                let mut posts: Vec<(String, usize)> = a.posts.into_iter().collect();
                posts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
                Some(Signal {
                    id,
                    topic: summary.topic,
                    name: curation
                        .and_then(|c| c.name.clone())
                        .or_else(|| Some(summary.label.clone()).filter(|l| !l.is_empty()))
                        .unwrap_or_else(|| format!("#{id}")),
                    label: summary.label,
                    top_terms: summary.top_terms,
                    count: a.count,
                    previous: a.previous,
                    people: a.people.len(),
                    change: a.count as i64 - a.previous as i64,
                    z,
                    significant: z.abs() >= 1.96 && c1 + c0 >= 5.0,
                    new_and_fast: summary.first_ms >= start && a.count >= 5,
                    channels: a.channels.into_iter().collect(),
                    posts: posts.into_iter().take(5).map(|(p, _)| p).collect(),
                    examples: summary.examples,
                    total_members: a.total,
                    pinned: curation.is_some_and(|c| c.pinned),
                    dismissed: curation.is_some_and(|c| c.dismissed),
                    answered_url: curation.and_then(|c| c.answered_url.clone()),
                    growing_after_answer: a.after_answer >= 3,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.pinned
                .cmp(&a.pinned)
                .then(b.people.cmp(&a.people))
                .then(b.count.cmp(&a.count))
        });
        out
    }

    /// The messages of a cluster (for the search filter), at most `limit`.
    pub fn members_of(
        &self,
        cluster: u64,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
        limit: usize,
    ) -> Vec<i64> {
        let merged = merges(curations);
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        inner
            .members
            .keys()
            .filter(|id| place(&inner.clusterer, **id, &merged, moves) == Some(cluster))
            .take(limit)
            .map(|id| *id as i64)
            .collect()
    }

    /// The cluster a text would belong to (a direct message, say), after merges; nothing changes.
    pub fn nearest_cluster(&self, text: &str, curations: &[Curation]) -> Option<u64> {
        let merged = merges(curations);
        let inner = self.inner.lock().ok()?;
        inner
            .clusterer
            .nearest_cluster(text)
            .map(|(c, _)| resolve(&merged, c))
    }

    /// The cluster a message belongs to, after communicators' moves and merges.
    pub fn cluster_of_message(
        &self,
        message: i64,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
    ) -> Option<u64> {
        let merged = merges(curations);
        let inner = self.inner.lock().ok()?;
        place(&inner.clusterer, message as u64, &merged, moves)
    }

    /// Topics group question clusters across every channel, and their labels are questions: only
    /// for a reader of comments without a channel limit (others use the clusters, which honour
    /// the scope).
    pub fn topics(&self, scope: &ReadScope) -> Vec<super::cluster::TopicSummary> {
        if !scope.every_channel() || !scope.may_read_kind(COMMENTS) {
            return Vec::new();
        }
        self.inner
            .lock()
            .map(|i| i.clusterer.topics())
            .unwrap_or_default()
    }

    /// Is this message one of the clustered questions?
    pub fn has_question(&self, message: i64) -> bool {
        self.inner
            .lock()
            .map(|i| i.members.contains_key(&(message as u64)))
            .unwrap_or(false)
    }

    pub fn exists(&self, cluster: u64) -> bool {
        self.inner
            .lock()
            .map(|i| i.clusterer.cluster(cluster).is_some())
            .unwrap_or(false)
    }
}

/// Communicators' merges: cluster → the cluster it was merged into.
fn merges(curations: &[Curation]) -> HashMap<u64, u64> {
    curations
        .iter()
        .filter_map(|c| c.merged_into.map(|into| (c.cluster_id as u64, into as u64)))
        .collect()
}

/// Where a question counts: a communicator's move wins over clustering, then merges apply.
/// Signals, the search filter and suggestions all place questions this one way.
fn place(
    clusterer: &Clusterer,
    message: u64,
    merged: &HashMap<u64, u64>,
    moves: &HashMap<i64, i64>,
) -> Option<u64> {
    moves
        .get(&(message as i64))
        .map(|c| *c as u64)
        .or_else(|| clusterer.cluster_of(message))
        .map(|c| resolve(merged, c))
}

/// Where a cluster's questions count after communicators' merges (chains followed, cycles cut).
fn resolve(merged: &HashMap<u64, u64>, mut cluster: u64) -> u64 {
    for _ in 0..8 {
        match merged.get(&cluster) {
            Some(into) if *into != cluster => cluster = *into,
            _ => break,
        }
    }
    cluster
}

/// Whether an event takes its message out of the clusters: disposed records (a pseudonymised one
/// comes back with its masked text and its pseudonym as author), S5 content (a case opened or
/// raised to S5: metadata only), and what was hidden, removed or deleted (labels and examples
/// are shown to staff who do not moderate).
fn leaves_clusters(e: &crate::store::StoredEvent) -> bool {
    match e.kind.as_str() {
        "message.erased" | "message.pseudonymised" => true,
        "moderation.case_opened" | "moderation.case_changed" => e.payload["level"] == "S5",
        "message.changed" => e.payload["state"]
            .as_str()
            .is_some_and(|state| state != "visible"),
        _ => false,
    }
}

/// Whether an event says its message's current text changed (an edit newer than the text).
fn new_wording(e: &crate::store::StoredEvent) -> bool {
    e.kind == "message.changed" && e.payload["text_changed"] == true
}

/// Follows the event log: new messages join their cluster; consolidation runs periodically.
pub async fn follow(
    store: Store,
    faq: Arc<FaqSignals>,
    consolidate_every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = faq.seq();
    let mut last_consolidation = tokio::time::Instant::now();
    loop {
        let committed = store.committed.clone();
        let woken = committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match store.events_after(after, 1000).await {
            Ok(events) if !events.is_empty() => {
                // An edit's new wording is placed afresh: the message leaves with its old text
                // and, if it is still a question, comes back below with the new one.
                for e in events
                    .iter()
                    .filter(|e| leaves_clusters(e) || new_wording(e))
                {
                    if let Some(id) = e.message_id {
                        faq.forget(id);
                    }
                }
                // One query for the page's new messages, not one per event. A message shown
                // again (unhidden) comes back; the store leaves out what may not be clustered.
                let ids: Vec<i64> = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.kind.as_str(),
                            "message.received" | "message.pseudonymised" | "message.changed"
                        )
                    })
                    .filter_map(|e| e.message_id)
                    .collect();
                match store
                    .question_candidates(&ReadScope::operator(), &ids)
                    .await
                {
                    Ok(rows) => {
                        for row in &rows {
                            faq.add(row);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "FAQ could not read new messages; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
                if let Some(last) = events.last() {
                    after = last.seq;
                }
                if let Ok(mut inner) = faq.inner.lock() {
                    inner.seq = after;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "FAQ could not read the event log"),
        }
        if last_consolidation.elapsed() >= consolidate_every {
            // Curation follows a merged cluster to the one it joined.
            for (from, into) in faq.consolidate() {
                if let Err(e) = store.move_curation(from as i64, into as i64).await {
                    tracing::warn!(error = %e, "cannot move a FAQ curation after a merge");
                }
            }
            last_consolidation = tokio::time::Instant::now();
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
