//! FAQ signals: the clusterer fed from the store and the event log, and per-period figures
//! (messages, distinct people, channels, posts, change against the previous period with a
//! significance test) for communicators.
//!
//! Which cluster a question is in is stored (`faq_members`), because curation (names, pins,
//! merges, answers) is keyed by cluster id and several instances may share one store: each
//! instance follows the event log and places new questions by its own centroids, but a placement
//! is written to the store before it counts, and a placement already stored for the same event by
//! another instance wins. A restart rebuilds the centroids from the stored placements, so every
//! instance and every restart shows the same id for the same questions; questions the store holds
//! without a placement (a restore, an import) are placed in the background in batches, each stored
//! as it goes, so the service serves at once and a restart resumes. Consolidation (merging
//! clusters that grew together) runs on one instance at a time, under a lease; the others reload
//! the placements when its generation changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::cluster::{Asked, ClusterConfig, Clusterer, Row};
use super::question::is_question;
use crate::store::faq::{Consolidated, Curation, Placement, PlacementChange, QuestionRow};
use crate::store::faq_figures::{FigureRequest, StoredFigures};
use crate::store::scope::{ReadScope, COMMENTS};
use crate::store::Store;

/// Post ids (or channel ids), each kept once however many questions were asked under it: what
/// the clusterer keeps of each question ([`Asked`]) names them by number.
#[derive(Debug)]
struct Numbering<K> {
    values: Vec<K>,
    numbers: HashMap<K, u32>,
}

impl<K> Default for Numbering<K> {
    fn default() -> Self {
        Numbering {
            values: Vec::new(),
            numbers: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Numbering<K> {
    fn number<Q>(&mut self, value: &Q) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(n) = self.numbers.get(value) {
            return *n;
        }
        let n = self.values.len() as u32;
        self.values.push(value.to_owned());
        self.numbers.insert(value.to_owned(), n);
        n
    }

    fn value(&self, n: u32) -> Option<&K> {
        self.values.get(n as usize)
    }
}

pub struct FaqSignals {
    inner: Mutex<Inner>,
}

struct Inner {
    /// The clusters, and what is known of each question in them (for per-period counts and
    /// access filters).
    clusterer: Clusterer,
    /// Last event sequence applied.
    seq: i64,
    /// The store's generation of placements this state follows.
    generation: i64,
    /// Clusters consolidation merged away, and where they went.
    merged: HashMap<u64, u64>,
    /// Cluster ids the store handed to this instance and not used yet.
    ids: std::ops::Range<u64>,
    /// New clusters get ids above this one, the highest curation names.
    id_floor: i64,
    posts: Numbering<String>,
    channels: Numbering<i64>,
    /// Placing questions the store holds without placements; None when none are left.
    placing: Option<Placing>,
    /// What the store counted of the questions forgotten here, when it was last counted.
    forgotten: Option<ForgottenCounts>,
    /// The forgotten questions are to be counted again: more were forgotten, or an event,
    /// a consolidation or curation changed where some of them count.
    recount: bool,
}

/// The store's count of the questions the FAQ state no longer holds (every question up to a
/// message id), per cluster where they count in the end and channel, and the curation it
/// was counted by: it answers for figures only while that curation is unchanged.
struct ForgottenCounts {
    up_to_id: u64,
    /// Cluster → (channel, questions, of them asked after the cluster was answered).
    parts: HashMap<u64, Vec<(i64, usize, usize)>>,
    /// Cluster → its earliest forgotten question, on any channel.
    first: HashMap<u64, i64>,
    moves: HashMap<i64, i64>,
    merged: HashMap<i64, i64>,
    answered: HashMap<i64, i64>,
}

impl ForgottenCounts {
    fn counted_by(&self, moves: &HashMap<i64, i64>, curations: &[Curation]) -> bool {
        self.moves == *moves
            && self.merged == resolved_merges(curations)
            && self.answered == answered(curations)
    }
}

/// Where a view counted in the store takes each cluster's all-time figures (its questions in
/// all, those after its answer, its first): the store's count reads every stored question, so
/// while the forgotten ones' count answers for the curation, memory's figures are used.
pub enum AllTime<'a> {
    Stored,
    /// Counted from the questions held and the forgotten ones' count, with these moves.
    Held(&'a HashMap<i64, i64>),
}

/// Placing in the background: where it is in the store, and how far.
struct Placing {
    /// The last message id looked at.
    after: i64,
    /// The last message id when the service started: later ones come through the event log.
    up_to: i64,
    looked_at: u64,
    placed: u64,
    total: u64,
    tenths_logged: u64,
    started: std::time::Instant,
}

/// How far placing in the background is, as the FAQ routes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = FaqBuilding)]
pub struct Building {
    /// Questions placed so far.
    pub placed: u64,
    /// Comments looked at so far (the questions among them placed); reaches `total` when done,
    /// or stays below it when another instance placed some meanwhile.
    pub looked_at: u64,
    /// Comments that had no stored placement when this instance started.
    pub total: u64,
}

/// The event sequence placing in the background decides as of: before every event, so any
/// event's decision about the same question overrides it, and among instances placing the same
/// store the first stored wins (a placement is only replaced by a later event's).
const BEFORE_THE_LOG: i64 = 0;

/// Comments looked at per batch when placing in the background, unless the settings say.
pub const DEFAULT_PLACING_BATCH: usize = 500;

/// Placing in the background: comments per batch and a pause between batches, which leaves
/// the processor to requests on a small machine.
#[derive(Debug, Clone, Copy)]
pub struct PlacingPace {
    pub batch: usize,
    pub pause: Duration,
}

impl Inner {
    /// What the clusterer keeps of a question placed by the event `placed_seq`.
    fn asked(&mut self, row: &QuestionRow, placed_seq: i64) -> Asked {
        asked_of(&mut self.channels, &mut self.posts, row, placed_seq)
    }

    fn holds(&self, message: i64) -> bool {
        self.clusterer.asked(message as u64).is_some()
    }

    /// A cluster's summary drawn from the questions the reader may read: those on channels
    /// where they read comments.
    fn summary(&self, cluster: u64, scope: &ReadScope) -> Option<super::cluster::ClusterSummary> {
        let readable = |message: u64| {
            self.clusterer
                .asked(message)
                .is_some_and(|m| scope.may_read(COMMENTS, self.channel(m)))
        };
        let readable_channel = |channel: u32| {
            self.channels
                .value(channel)
                .is_some_and(|c| scope.may_read(COMMENTS, *c))
        };
        self.clusterer
            .cluster_among_channels(cluster, &readable, &readable_channel)
    }

    /// The channel id of a question's channel number.
    fn channel(&self, asked: &Asked) -> i64 {
        self.channels.value(asked.channel).copied().unwrap_or(0)
    }
}

/// What the clusterer keeps of a question placed by the event `placed_seq`, its channel and
/// post numbered by the owner.
fn asked_of(
    channels: &mut Numbering<i64>,
    posts: &mut Numbering<String>,
    row: &QuestionRow,
    placed_seq: i64,
) -> Asked {
    Asked {
        placed_seq,
        channel: channels.number(&row.channel_id),
        post: row
            .post_id
            .as_deref()
            .map_or(Asked::NO_POST, |p| posts.number(p)),
        ..Asked::by(row.time, &row.author)
    }
}

/// Cluster ids taken from the store at a time.
const ID_BLOCK: i64 = 64;

/// One message to settle after events (or at start): the latest event about it, whether that
/// event changed its wording or took it out (it is placed afresh), and the message as it is now
/// if it is a public question (None: it is not, or no longer, one).
struct Handling {
    message: i64,
    seq: i64,
    fresh: bool,
    question: Option<QuestionRow>,
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

    /// The period ending at `now` and the one before it, as half-open windows [from, to):
    /// (start, now] against (before, start], one millisecond later.
    pub fn windows(self, now: i64) -> ((i64, i64), (i64, i64)) {
        let start = now - self.millis();
        let before = start - self.millis();
        ((start + 1, now + 1), (before + 1, start + 1))
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

/// One FAQ cluster (a question that comes again and again) with its figures for the period asked
/// for, which ends now, against the period of the same length before it. Only public questions are
/// clustered: inbound, visible messages with text in comment threads (comments, visitors' posts,
/// mentions) that read as questions; direct messages never are. Questions count where communicators
/// placed them: a moved question counts in the cluster it was moved to, and a cluster merged into
/// another counts there. Every figure counts only questions on channels within the caller's channel
/// scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FaqSignal, example = json!({
    "answered_url": "saved-reply:3",
    "change": 11,
    "channels": [
        1
    ],
    "count": 14,
    "dismissed": false,
    "examples": [
        "Hur länge är Storgatan avstängd?",
        "När öppnar Storgatan för bilar igen?",
        "Varför är Storgatan avstängd?"
    ],
    "growing_after_answer": false,
    "id": 5,
    "label": "Hur länge är Storgatan avstängd?",
    "name": "Avstängningen av Storgatan",
    "new_and_fast": false,
    "people": 11,
    "pinned": true,
    "posts": [
        "104857600123456_99"
    ],
    "previous": 3,
    "significant": true,
    "top_terms": [
        "Storgatan",
        "avstängd",
        "länge"
    ],
    "topic": 2,
    "total_members": 17,
    "z": 2.67
}))]
pub struct Signal {
    /// The cluster id: for PATCH /api/v1/faq/clusters/{id}, POST
    /// /api/v1/faq/clusters/{id}/questions and the `faq_cluster` filter of GET /api/v1/search.
    /// Clusters are derived data: consolidation may merge one into another (its curation follows
    /// it), after which the old id answers 404.
    pub id: u64,
    /// The topic the cluster belongs to (`id` in GET /api/v1/faq/topics); null when it is in none
    /// yet.
    #[schema(required = true)]
    pub topic: Option<u64>,
    /// The name a communicator gave the cluster, or else its `label`, or else `#id` when the caller
    /// may read none of its questions.
    pub name: String,
    /// The most central question the caller may read (questions on channels within their scope),
    /// with personal data masked; empty when none.
    pub label: String,
    /// The heaviest terms of the questions the caller may read, as they are most often written.
    pub top_terms: Vec<String>,
    /// Questions in the period.
    pub count: usize,
    /// Questions in the period before, of the same length.
    pub previous: usize,
    /// Distinct people who asked in the period: one person asking ten times counts once.
    pub people: usize,
    /// `count` minus `previous`.
    pub change: i64,
    /// The change as a z score, (count − previous) / √(count + previous): a conditional binomial
    /// test with the normal approximation (counts taken as Poisson). 0 when both are 0.
    pub z: f64,
    /// |z| ≥ 1.96, with at least five questions across both periods.
    pub significant: bool,
    /// The cluster's first question fell in this period, and it already has at least five questions
    /// in it.
    pub new_and_fast: bool,
    /// The channel ids the question was asked on in the period, ascending.
    pub channels: Vec<i64>,
    /// The platform ids of the posts it was asked under in the period, most questions first, at
    /// most 5.
    #[schema(max_items = 5)]
    pub posts: Vec<String>,
    /// Up to three questions the caller may read, as different from each other as possible,
    /// personal data masked.
    pub examples: Vec<String>,
    /// Questions in the cluster over all time (within the caller's scope), after merges and moves.
    pub total_members: usize,
    /// A communicator pinned it: pinned clusters are listed first.
    pub pinned: bool,
    /// A communicator dismissed it: listed only with `include_dismissed=true`.
    pub dismissed: bool,
    /// What answers the question, as a communicator marked it: a web address (`https://…` or
    /// `http://…`) or a saved reply (`saved-reply:ID`); null when not marked answered.
    #[schema(required = true)]
    pub answered_url: Option<String>,
    /// At least three questions arrived after it was marked answered (counted over all time): the
    /// answer may not be reaching people.
    pub growing_after_answer: bool,
}

/// Only comments, visitors' posts and mentions: public questions. Direct messages stay out of
/// communicators' view (they do not read DMs).
fn is_public(kind: &str) -> bool {
    kind == "comments"
}

impl FaqSignals {
    /// Builds the clusters from the stored placements, and plans placing the public questions
    /// that have none (a restore, an import, a store from before placements were stored): that
    /// runs in the background ([`follow`] places a batch at a time), so the service serves at
    /// once; until it is done the clusters hold what is placed so far ([`FaqSignals::building`]).
    pub async fn build(store: &Store, config: ClusterConfig) -> anyhow::Result<FaqSignals> {
        let seq = store.last_event_seq().await?;
        // Where placing stops, read before anything else: a message after it comes with an
        // event this instance follows.
        let up_to = store.last_message_id().await?;
        let generation = store.faq_generation().await?;
        let stored = store.all_faq_placements().await?;
        let merged = as_u64(store.faq_cluster_merges().await?);
        let id_floor = store.faq_highest_named_cluster().await?;
        let mut posts = Numbering::default();
        let mut channels = Numbering::default();
        // Each placed question, once read and once placed, a page at a time: the questions of
        // a large store are never all in memory, and the oldest are forgotten as they come.
        let mut restoring = Clusterer::restoring(&config);
        let mut after = 0;
        while let Some(page) = placed_questions_after(store, &mut after, &stored).await? {
            let texts: Vec<&str> = page.iter().map(|r| r.text.as_str()).collect();
            tokio::task::block_in_place(|| restoring.learn(&texts));
        }
        // The stored placements are in message order (as read) and looked up by halving (a map
        // of a million would cost twice the memory at start). Which of them are of messages
        // that still are questions (the others are settled below):
        let mut questions = vec![false; stored.len()];
        let mut after = 0;
        while let Some(page) = placed_questions_after(store, &mut after, &stored).await? {
            let rows: Vec<(Row<'_>, u64, Asked)> = page
                .iter()
                .filter_map(|r| {
                    let at = stored.binary_search_by_key(&r.id, |p| p.message_id).ok()?;
                    questions[at] = true;
                    let p = &stored[at];
                    let asked = asked_of(&mut channels, &mut posts, r, p.placed_seq);
                    Some((row_of(r), resolve(&merged, p.cluster_id as u64), asked))
                })
                .collect();
            tokio::task::block_in_place(|| restoring.place(&rows));
        }
        let clusterer = tokio::task::block_in_place(|| restoring.finish());
        let total = store
            .count_unplaced_question_candidates(&ReadScope::operator(), up_to)
            .await?
            .max(0) as u64;
        let mut inner = Inner {
            forgotten: None,
            recount: true,
            clusterer,
            seq,
            generation,
            merged,
            ids: 0..0,
            id_floor,
            posts,
            channels,
            placing: (total > 0).then(|| Placing {
                after: 0,
                up_to,
                looked_at: 0,
                placed: 0,
                total,
                tenths_logged: 0,
                started: std::time::Instant::now(),
            }),
        };
        // Placing in the background walks every comment not held: until it is done nothing
        // more is forgotten (a forgotten question would be held again). What the restore
        // forgot is left to it: placing looks at unplaced comments, never at forgotten ones.
        if inner.placing.is_none() && inner.clusterer.forget_oldest() {
            inner.recount = true;
        }
        let faq = FaqSignals {
            inner: Mutex::new(inner),
        };
        if total > 0 {
            tracing::info!(
                "FAQ signals: {} comments have no stored placement; the questions among them are placed in the background",
                thousands(total)
            );
        }
        // Placements of messages that are no questions any more are settled as of now.
        let settle: Vec<Handling> = stored
            .iter()
            .zip(&questions)
            .filter(|(_, question)| !**question)
            .map(|(p, _)| p)
            .map(|p| Handling {
                message: p.message_id,
                seq,
                fresh: true,
                question: None,
            })
            .collect();
        for chunk in settle.chunks(1000) {
            faq.settle(store, chunk).await?;
        }
        Ok(faq)
    }

    /// Builds and places every question before it returns: for the command line, which has no
    /// service to answer meanwhile and wants the whole picture.
    pub async fn build_complete(
        store: &Store,
        config: ClusterConfig,
    ) -> anyhow::Result<FaqSignals> {
        let faq = Self::build(store, config).await?;
        while faq.place_some(store, DEFAULT_PLACING_BATCH).await? {}
        Ok(faq)
    }

    /// The questions held in memory and those forgotten, for /metrics: a store that grows
    /// shows forgotten questions growing while held ones stay at `faq_kept_questions`.
    pub fn render_metrics(&self, out: &mut String) {
        let Some(inner) = self.read() else {
            return;
        };
        out.push_str(&format!(
            "# HELP tavla_faq_questions Public questions the FAQ state holds in memory, and those it forgot (counted from the store).\n\
             # TYPE tavla_faq_questions gauge\n\
             tavla_faq_questions{{state=\"held\"}} {}\n\
             tavla_faq_questions{{state=\"forgotten\"}} {}\n",
            inner.clusterer.len(),
            inner.clusterer.forgotten().count
        ));
    }

    /// How far placing in the background is, or None when every question is placed.
    pub fn building(&self) -> Option<Building> {
        let inner = self.read()?;
        inner.placing.as_ref().map(|p| Building {
            placed: p.placed,
            looked_at: p.looked_at,
            total: p.total,
        })
    }

    /// Places the next batch of questions this instance does not hold (from at most `batch`
    /// comments): one with a stored placement follows it, one without is placed and the
    /// placement stored before it counts, so a restart resumes where this stopped. Returns
    /// whether more is left.
    ///
    /// Each is decided as of [`BEFORE_THE_LOG`]: the first placement stored for a question
    /// wins over any other instance's placing of it (which then follows the stored one), and
    /// any event about it, which is later, wins over both.
    pub async fn place_some(&self, store: &Store, batch: usize) -> anyhow::Result<bool> {
        let (after, up_to) = match &self.lock()?.placing {
            Some(p) => (p.after, p.up_to),
            None => return Ok(false),
        };
        // Every comment is walked, not only those unplaced: a question another instance placed
        // after this one started is adopted here (its placement came with no event).
        let page = store
            .question_candidates_after(&ReadScope::operator(), after, batch.max(1) as i64)
            .await?;
        let last = page.last().map(|r| r.id).filter(|id| *id <= up_to);
        let (mut unheld, forgotten_up_to): (Vec<QuestionRow>, i64) = {
            let inner = self.lock()?;
            let unheld = page
                .into_iter()
                .filter(|r| r.id <= up_to && is_public(&r.kind))
                .filter(|r| !inner.holds(r.id))
                .collect();
            (unheld, inner.clusterer.forgotten().up_to_id as i64)
        };
        // A question the restore forgot is placed and counted already: left alone, it stays
        // forgotten (placed again here, it would be held again).
        let old: Vec<i64> = unheld
            .iter()
            .map(|r| r.id)
            .filter(|id| *id <= forgotten_up_to)
            .collect();
        if !old.is_empty() {
            let placed: HashSet<i64> = store
                .faq_placements(&old)
                .await?
                .iter()
                .map(|p| p.message_id)
                .collect();
            unheld.retain(|r| !placed.contains(&r.id));
        }
        let looked = unheld.len() as u64;
        let handlings: Vec<Handling> = unheld
            .into_iter()
            .filter(|r| is_question(&r.text))
            .map(|r| Handling {
                message: r.id,
                seq: BEFORE_THE_LOG,
                fresh: false,
                question: Some(r),
            })
            .collect();
        self.settle(store, &handlings).await?;
        let mut inner = self.lock()?;
        let Some(p) = inner.placing.as_mut() else {
            return Ok(false);
        };
        let Some(last) = last else {
            tracing::info!(
                "FAQ signals: placing finished: {} questions placed from {} comments in {:.1} s",
                thousands(p.placed),
                thousands(p.looked_at),
                p.started.elapsed().as_secs_f64()
            );
            inner.placing = None;
            return Ok(false);
        };
        p.after = last;
        p.placed += handlings.len() as u64;
        // Another instance placing the same store meanwhile leaves fewer to look at here.
        p.looked_at = (p.looked_at + looked).min(p.total);
        let tenths = p.looked_at * 10 / p.total.max(1);
        if tenths > p.tenths_logged {
            p.tenths_logged = tenths;
            tracing::info!(
                "FAQ signals: looked at {} of {} unplaced comments, {} questions placed",
                thousands(p.looked_at),
                thousands(p.total),
                thousands(p.placed)
            );
        }
        Ok(true)
    }

    /// Settles messages after events: decides the placement of those whose stored placement is
    /// older than their event, stores the decisions (an instance that stored first for the same
    /// event wins), then follows what is stored.
    async fn settle(&self, store: &Store, handlings: &[Handling]) -> anyhow::Result<()> {
        if handlings.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = handlings.iter().map(|h| h.message).collect();
        let stored = by_message(store.faq_placements(&ids).await?);
        self.take_back_forgotten(handlings, &stored)?;
        let mut changes = Vec::new();
        let mut placed_here = HashSet::new();
        let mut next = 0;
        while next < handlings.len() {
            next += self.decide(&handlings[next..], &stored, &mut changes, &mut placed_here)?;
            if next < handlings.len() {
                // Out of cluster ids: take another block from the store.
                let above = {
                    let inner = self.lock()?;
                    (inner.clusterer.highest_cluster_id() as i64).max(inner.id_floor)
                };
                let first = store.reserve_faq_cluster_ids(ID_BLOCK, above).await? as u64;
                self.lock()?.ids = first..first + ID_BLOCK as u64;
            }
        }
        store.change_faq_placements(&changes).await?;
        let stored = by_message(store.faq_placements(&ids).await?);
        let redirects = self.follow_stored(handlings, &stored, &placed_here)?;
        store.change_faq_placements(&redirects).await?;
        Ok(())
    }

    /// Forgotten questions that events are about to settle (placed anew or taken out) leave
    /// their clusters' forgotten counts, and the store's count of them is taken again.
    fn take_back_forgotten(
        &self,
        handlings: &[Handling],
        stored: &HashMap<i64, Placement>,
    ) -> anyhow::Result<()> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let up_to_id = inner.clusterer.forgotten().up_to_id;
        for h in handlings {
            let id = h.message as u64;
            if id > up_to_id || inner.holds(h.message) {
                continue;
            }
            inner.recount = true;
            if let Some(p) = stored.get(&h.message) {
                let cluster = resolve(&inner.merged, p.cluster_id as u64);
                inner.clusterer.unforget(cluster);
            }
        }
        Ok(())
    }

    /// Keeps memory bounded: forgets the oldest questions beyond what the clusterer keeps,
    /// then, when they changed, counts the forgotten ones in the store (a second or two at a
    /// million messages; figures reaching them come from the store meanwhile).
    pub async fn keep_bounded(&self, store: &Store) -> anyhow::Result<()> {
        let up_to_id = {
            let mut inner = self.lock()?;
            if inner.placing.is_none() && inner.clusterer.forget_oldest() {
                inner.recount = true;
                tracing::debug!(
                    forgotten = inner.clusterer.forgotten().count,
                    "FAQ: the oldest questions forgotten"
                );
            }
            let f = inner.clusterer.forgotten();
            if f.count == 0 || !(inner.recount || inner.forgotten.is_none()) {
                return Ok(());
            }
            // Whatever marks it again while counting has it counted once more.
            inner.recount = false;
            f.up_to_id
        };
        let counted = self.count_forgotten(store, up_to_id).await;
        let mut inner = self.lock()?;
        match counted {
            Ok(counts) if inner.clusterer.forgotten().up_to_id == up_to_id => {
                inner.forgotten = Some(counts);
                Ok(())
            }
            Ok(_) => {
                inner.recount = true;
                Ok(())
            }
            Err(e) => {
                inner.recount = true;
                Err(e)
            }
        }
    }

    async fn count_forgotten(
        &self,
        store: &Store,
        up_to_id: u64,
    ) -> anyhow::Result<ForgottenCounts> {
        let curations = store.curations().await?;
        let moves = store.faq_moves().await?;
        let merged = resolved_merges(&curations);
        let answered = answered(&curations);
        let parts = store
            .faq_forgotten_figures(up_to_id as i64, &merged, &answered)
            .await?;
        let mut counts = ForgottenCounts {
            up_to_id,
            parts: HashMap::new(),
            first: HashMap::new(),
            moves,
            merged,
            answered,
        };
        for p in parts {
            let cluster = p.cluster as u64;
            let n = |v: i64| v.max(0) as usize;
            counts.parts.entry(cluster).or_default().push((
                p.channel,
                n(p.total),
                n(p.after_answer),
            ));
            let first = counts.first.entry(cluster).or_insert(i64::MAX);
            *first = (*first).min(p.first);
        }
        Ok(counts)
    }

    /// The state for a read. A panic while it was held leaves it poisoned: readers then show
    /// nothing rather than half-made clusters, and each such read is logged as the fault it is
    /// (a restart rebuilds the state from the store).
    fn read(&self) -> Option<std::sync::MutexGuard<'_, Inner>> {
        match self.inner.lock() {
            Ok(inner) => Some(inner),
            Err(_) => {
                tracing::error!(
                    "the FAQ state was poisoned by a panic; FAQ signals are empty until a restart rebuilds them from the store"
                );
                None
            }
        }
    }

    fn lock(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| anyhow::anyhow!("the FAQ state was poisoned by a panic"))
    }

    /// Decides placements in order until a new cluster needs an id and none is left; returns
    /// how many handlings were decided. Each placement is made here at once, so the next
    /// question sees the cluster the previous one started.
    fn decide(
        &self,
        handlings: &[Handling],
        stored: &HashMap<i64, Placement>,
        changes: &mut Vec<PlacementChange>,
        placed_here: &mut HashSet<i64>,
    ) -> anyhow::Result<usize> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        for (done, h) in handlings.iter().enumerate() {
            let known = stored.get(&h.message);
            if known.is_some_and(|p| p.placed_seq >= h.seq) {
                continue;
            }
            let Some(q) = &h.question else {
                if known.is_some() || inner.holds(h.message) {
                    changes.push(PlacementChange::Remove {
                        message_id: h.message,
                        seq: h.seq,
                    });
                }
                continue;
            };
            if known.is_some() && !h.fresh {
                continue;
            }
            let id = h.message as u64;
            inner.clusterer.remove(id);
            let vector = inner.clusterer.learn(&q.text);
            let cluster = match inner.clusterer.nearest_to(&vector) {
                Some(c) => c,
                None => match inner.ids.next() {
                    Some(c) => c,
                    None => return Ok(done),
                },
            };
            let asked = inner.asked(q, h.seq);
            inner.clusterer.put(id, vector, asked, &q.text, cluster);
            placed_here.insert(h.message);
            changes.push(PlacementChange::Place {
                message_id: h.message,
                cluster_id: cluster as i64,
                seq: h.seq,
            });
        }
        Ok(handlings.len())
    }

    /// Makes this state follow the stored placements of these messages; returns the
    /// placements that still name a cluster consolidation merged away, redirected.
    fn follow_stored(
        &self,
        handlings: &[Handling],
        stored: &HashMap<i64, Placement>,
        placed_here: &HashSet<i64>,
    ) -> anyhow::Result<Vec<PlacementChange>> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let mut redirects = Vec::new();
        for h in handlings {
            let id = h.message as u64;
            let (Some(p), Some(q)) = (stored.get(&h.message), &h.question) else {
                inner.clusterer.remove(id);
                continue;
            };
            let cluster = resolve(&inner.merged, p.cluster_id as u64);
            if cluster != p.cluster_id as u64 {
                redirects.push(PlacementChange::Redirect {
                    message_id: p.message_id,
                    from: p.cluster_id,
                    into: cluster as i64,
                });
            }
            let stale_wording = h.fresh && !placed_here.contains(&h.message);
            let asked = inner.asked(q, p.placed_seq);
            if stale_wording || !inner.clusterer.move_to(id, cluster) {
                inner.clusterer.remove(id);
                let vector = inner.clusterer.learn(&q.text);
                inner.clusterer.put(id, vector, asked, &q.text, cluster);
            } else if let Some(kept) = inner.clusterer.asked_mut(id) {
                *kept = asked;
            }
        }
        Ok(redirects)
    }

    /// Follows a consolidation another instance stored: every held question to its stored
    /// cluster (or out, when its placement is gone).
    async fn reload(&self, store: &Store, generation: i64) -> anyhow::Result<()> {
        let stored = by_message(store.all_faq_placements().await?);
        let merged = as_u64(store.faq_cluster_merges().await?);
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        for (message, held) in inner.clusterer.placements() {
            match stored.get(&(message as i64)) {
                Some(p) => {
                    let cluster = resolve(&merged, p.cluster_id as u64);
                    if cluster != held {
                        inner.clusterer.move_to(message, cluster);
                    }
                    if let Some(m) = inner.clusterer.asked_mut(message) {
                        m.placed_seq = p.placed_seq;
                    }
                }
                None => {
                    inner.clusterer.remove(message);
                }
            }
        }
        inner.clusterer.regroup_topics();
        inner.merged = merged;
        inner.generation = generation;
        inner.recount = true;
        Ok(())
    }

    /// Consolidates this instance's clusters (merges clusters that have grown together, moves
    /// questions that fit another better) and says what changed, for the store.
    fn consolidate(&self) -> anyhow::Result<Consolidated> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        // Merges move forgotten questions too (and a count now and then heals one that drifted).
        inner.recount = true;
        let before: HashMap<u64, u64> = inner.clusterer.placements().into_iter().collect();
        let c = inner.clusterer.consolidate();
        tracing::debug!(
            merges = c.merges.len(),
            moved = c.moved,
            "FAQ clusters consolidated"
        );
        let mut out = Consolidated::default();
        for (message, cluster) in inner.clusterer.placements() {
            let Some(&was) = before.get(&message) else {
                continue;
            };
            if was != cluster {
                let placed_seq = inner.clusterer.asked(message).map_or(0, |m| m.placed_seq);
                let from = Placement {
                    message_id: message as i64,
                    cluster_id: was as i64,
                    placed_seq,
                };
                out.moves.push((from, cluster as i64));
            }
        }
        for (from, into) in c.merges {
            inner.merged.insert(from, into);
        }
        // Chains (a into b, b into c) are stored as where each ends now.
        let merged = inner.merged.clone();
        out.merges = merged
            .keys()
            .map(|&from| (from as i64, resolve(&merged, from) as i64))
            .filter(|(from, into)| from != into)
            .collect();
        out.merges.sort_unstable();
        Ok(out)
    }

    pub fn seq(&self) -> i64 {
        self.read().map(|i| i.seq).unwrap_or(0)
    }

    /// Signals for the window [from, to) against the window `previous` (also [from, to)): what
    /// follow-up reports count per calendar month or quarter. Counted from the questions held
    /// in memory.
    pub fn signals_between(
        &self,
        window: (i64, i64),
        previous: (i64, i64),
        scope: &ReadScope,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
    ) -> Vec<Signal> {
        let Some(inner) = self.read() else {
            return Vec::new();
        };
        let merged = merges(curations);
        let figures = held_figures(&inner, window, previous, scope, curations, &merged, moves);
        signals_of(&inner, figures, window.0, scope, curations, &merged)
    }

    /// Signals for the window [from, to) against `previous`, exact however far back they
    /// reach: counted from memory when neither period reaches a forgotten question and the
    /// forgotten ones' stored count answers for the curation as it is; else from the store.
    pub async fn signals_counted(
        self: &Arc<Self>,
        store: &Store,
        window: (i64, i64),
        previous: (i64, i64),
        scope: &ReadScope,
    ) -> anyhow::Result<Vec<Signal>> {
        let curations = store.curations().await?;
        let moves = store.faq_moves().await?;
        let (from_memory, counted) = {
            let Some(mut inner) = self.read() else {
                return Ok(Vec::new());
            };
            let f = inner.clusterer.forgotten();
            let counted = !inner.recount
                && inner
                    .forgotten
                    .as_ref()
                    .is_some_and(|c| c.up_to_id == f.up_to_id && c.counted_by(&moves, &curations));
            if f.count > 0 && !counted {
                // Curation changed since they were counted: counted again in the background.
                inner.recount = true;
            }
            let from_memory = f.count == 0 || (counted && window.0.min(previous.0) > f.until_ms);
            (from_memory, f.count == 0 || counted)
        };
        if !from_memory {
            let all_time = if counted {
                AllTime::Held(&moves)
            } else {
                AllTime::Stored
            };
            return self
                .signals_from_store(store, window, previous, scope, &curations, all_time)
                .await;
        }
        let faq = self.clone();
        let scope = scope.clone();
        Ok(tokio::task::spawn_blocking(move || {
            faq.signals_between(window, previous, &scope, &curations, &moves)
        })
        .await?)
    }

    /// The same signals as [`FaqSignals::signals_between`], counted from the stored placements
    /// instead of the questions held in memory (names, labels and examples still come from
    /// memory): for periods reaching back past the questions held. The periods are counted
    /// from the placements asked within them; the all-time figures as `all_time` says.
    pub async fn signals_from_store(
        self: &Arc<Self>,
        store: &Store,
        window: (i64, i64),
        previous: (i64, i64),
        scope: &ReadScope,
        curations: &[Curation],
        all_time: AllTime<'_>,
    ) -> anyhow::Result<Vec<Signal>> {
        let merged = merges(curations);
        let request = FigureRequest {
            window,
            previous,
            channels: scope.channels(),
            merged: &resolved_merges(curations),
            answered: &answered(curations),
        };
        let mut figures = stored_figures(
            store
                .faq_figures(&request, matches!(all_time, AllTime::Stored))
                .await?,
        );
        if let AllTime::Held(moves) = all_time {
            let faq = self.clone();
            let (reader, curation, moves) = (scope.clone(), curations.to_vec(), moves.clone());
            let held = tokio::task::spawn_blocking(move || {
                let inner = faq.read()?;
                let merged = merges(&curation);
                Some(held_figures(
                    &inner, window, previous, &reader, &curation, &merged, &moves,
                ))
            })
            .await?;
            let Some(held) = held else {
                return Ok(Vec::new());
            };
            if figures.keys().any(|c| !held.contains_key(c)) {
                // Questions another instance placed that this one has not followed yet: their
                // clusters' totals are counted in the store.
                figures = stored_figures(store.faq_figures(&request, true).await?);
            } else {
                for (cluster, f) in &mut figures {
                    let h = &held[cluster];
                    (f.total, f.after_answer, f.first) = (h.total, h.after_answer, h.first);
                }
            }
        }
        let Some(inner) = self.read() else {
            return Ok(Vec::new());
        };
        Ok(signals_of(
            &inner, figures, window.0, scope, curations, &merged,
        ))
    }

    /// The held messages of a cluster, at most `limit` (see [`FaqSignals::members_in`]).
    fn members_of(
        &self,
        cluster: u64,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
        limit: usize,
    ) -> Vec<i64> {
        let merged = merges(curations);
        let Some(inner) = self.read() else {
            return Vec::new();
        };
        inner
            .clusterer
            .every_asked()
            .map(|(id, _)| id)
            .filter(|id| place(&inner.clusterer, *id, &merged, moves) == Some(cluster))
            .take(limit)
            .map(|id| id as i64)
            .collect()
    }

    /// The messages of a cluster (for the search filter), at most `limit`: those held and, when
    /// questions were forgotten, the stored ones among them.
    pub async fn members_in(
        &self,
        store: &Store,
        cluster: u64,
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
        limit: usize,
    ) -> crate::store::Result<Vec<i64>> {
        let mut out = self.members_of(cluster, curations, moves, limit);
        let forgotten = self.read().map(|i| i.clusterer.forgotten());
        let Some(f) = forgotten.filter(|f| f.count > 0) else {
            return Ok(out);
        };
        let merged = merges(curations);
        let mut sources: Vec<i64> = merged
            .keys()
            .filter(|c| resolve(&merged, **c) == cluster)
            .map(|c| *c as i64)
            .collect();
        sources.push(cluster as i64);
        let stored = store
            .faq_forgotten_members(&sources, f.up_to_id as i64, limit as i64)
            .await?;
        out.extend(stored);
        out.sort_unstable();
        out.dedup();
        out.truncate(limit);
        Ok(out)
    }

    /// The clusters of some messages, after communicators' moves and merges, those forgotten
    /// here read from their stored placements; messages in none are left out.
    pub async fn clusters_of_messages(
        &self,
        store: &Store,
        messages: &[i64],
        curations: &[Curation],
        moves: &HashMap<i64, i64>,
    ) -> crate::store::Result<HashMap<i64, u64>> {
        let merged = merges(curations);
        let (mut out, asked_store, consolidated) = {
            let Some(inner) = self.read() else {
                return Ok(HashMap::new());
            };
            let up_to_id = inner.clusterer.forgotten().up_to_id;
            let mut out = HashMap::new();
            let mut asked_store = Vec::new();
            for &m in messages {
                match place(&inner.clusterer, m as u64, &merged, moves) {
                    Some(c) => {
                        out.insert(m, c);
                    }
                    None if m as u64 <= up_to_id => asked_store.push(m),
                    None => {}
                }
            }
            (out, asked_store, inner.merged.clone())
        };
        for p in store.faq_placements(&asked_store).await? {
            let cluster = resolve(&consolidated, p.cluster_id as u64);
            out.insert(p.message_id, resolve(&merged, cluster));
        }
        Ok(out)
    }

    /// The name each cluster shows a reader: a communicator's, else its most central question
    /// the reader may read, else `#id`.
    pub fn names(
        &self,
        clusters: &[u64],
        scope: &ReadScope,
        curations: &[Curation],
    ) -> HashMap<u64, String> {
        let Some(inner) = self.read() else {
            return HashMap::new();
        };
        clusters
            .iter()
            .filter_map(|&id| {
                let summary = inner.summary(id, scope)?;
                let name = curations
                    .iter()
                    .find(|c| c.cluster_id == id as i64)
                    .and_then(|c| c.name.clone())
                    .or_else(|| Some(summary.label).filter(|l| !l.is_empty()))
                    .unwrap_or_else(|| format!("#{id}"));
                Some((id, name))
            })
            .collect()
    }

    /// Whether this instance holds the cluster. A question is placed here a moment before its
    /// placement is stored, so a cluster just listed may not be in `faq_members` yet.
    pub fn holds_cluster(&self, cluster: u64) -> bool {
        self.read()
            .is_some_and(|inner| inner.clusterer.cluster(cluster).is_some())
    }

    /// Whether this instance holds the message as a question placed in a cluster: like a
    /// cluster, a question is placed here a moment before its placement is stored.
    pub fn holds_question(&self, message: i64) -> bool {
        message >= 0
            && self
                .read()
                .is_some_and(|inner| inner.clusterer.cluster_of(message as u64).is_some())
    }

    /// The cluster a text would belong to (a direct message, say), after merges; nothing changes.
    pub fn nearest_cluster(&self, text: &str, curations: &[Curation]) -> Option<u64> {
        let merged = merges(curations);
        let inner = self.read()?;
        inner
            .clusterer
            .nearest_cluster(text)
            .map(|(c, _)| resolve(&merged, c))
    }

    /// Topics group question clusters across every channel, and their labels are questions: only
    /// for a reader of comments without a channel limit (others use the clusters, which honour
    /// the scope).
    pub fn topics(&self, scope: &ReadScope) -> Vec<super::cluster::TopicSummary> {
        if !scope.every_channel() || !scope.may_read_kind(COMMENTS) {
            return Vec::new();
        }
        self.read()
            .map(|i| i.clusterer.topics())
            .unwrap_or_default()
    }
}

/// Communicators' merges: cluster → the cluster it was merged into.
fn merges(curations: &[Curation]) -> HashMap<u64, u64> {
    curations
        .iter()
        .filter_map(|c| c.merged_into.map(|into| (c.cluster_id as u64, into as u64)))
        .collect()
}

/// Communicators' merges, each cluster to where its questions count in the end.
fn resolved_merges(curations: &[Curation]) -> HashMap<i64, i64> {
    let merged = merges(curations);
    merged
        .keys()
        .map(|&c| (c as i64, resolve(&merged, c) as i64))
        .collect()
}

/// When each cluster was marked answered.
fn answered(curations: &[Curation]) -> HashMap<i64, i64> {
    curations
        .iter()
        .filter_map(|c| c.answered_at.map(|a| (c.cluster_id, a)))
        .collect()
}

/// What is counted of one cluster for a signal, from memory or from the store: counts within
/// the reader's channel limit, `first` on any channel.
#[derive(Debug, Clone, PartialEq)]
struct Figures {
    count: usize,
    previous: usize,
    people: usize,
    channels: Vec<i64>,
    /// Every post asked under in the window, with its questions.
    posts: Vec<(String, usize)>,
    total: usize,
    after_answer: usize,
    first: i64,
}

impl Figures {
    fn stored(f: StoredFigures) -> Figures {
        let n = |v: i64| v.max(0) as usize;
        Figures {
            count: n(f.count),
            previous: n(f.previous),
            people: n(f.people),
            channels: f.channels,
            posts: f.posts.into_iter().map(|(p, c)| (p, n(c))).collect(),
            total: n(f.total),
            after_answer: n(f.after_answer),
            first: f.first,
        }
    }

    /// The posts most asked under (then by id), at most five.
    fn top_posts(&self) -> Vec<String> {
        let mut posts: Vec<&(String, usize)> = self.posts.iter().collect();
        posts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        posts.into_iter().take(5).map(|(p, _)| p.clone()).collect()
    }
}

/// The store's figures by cluster.
fn stored_figures(figures: Vec<StoredFigures>) -> HashMap<u64, Figures> {
    figures
        .into_iter()
        .map(|f| (f.cluster as u64, Figures::stored(f)))
        .collect()
}

/// The figures of every cluster from the questions held in memory.
fn held_figures(
    inner: &Inner,
    window: (i64, i64),
    previous: (i64, i64),
    scope: &ReadScope,
    curations: &[Curation],
    merged: &HashMap<u64, u64>,
    moves: &HashMap<i64, i64>,
) -> HashMap<u64, Figures> {
    struct Acc {
        count: usize,
        previous: usize,
        people: BTreeSet<u64>,
        channels: BTreeSet<i64>,
        posts: BTreeMap<u32, usize>,
        total: usize,
        after_answer: usize,
        first: i64,
    }
    let answered = answered(curations);
    let mut acc: HashMap<u64, Acc> = HashMap::new();
    let new_acc = || Acc {
        count: 0,
        previous: 0,
        people: BTreeSet::new(),
        channels: BTreeSet::new(),
        posts: BTreeMap::new(),
        total: 0,
        after_answer: 0,
        first: i64::MAX,
    };
    // Questions up to the last one forgotten count in totals by the store's count of them (one
    // held again after it was forgotten, or placed later, included); in the periods, each
    // held one counts (a forgotten one was asked before every period counted from memory).
    let forgotten = inner
        .forgotten
        .as_ref()
        .filter(|_| inner.clusterer.forgotten().count > 0);
    let up_to_id = forgotten.map_or(0, |f| f.up_to_id);
    if let Some(f) = forgotten {
        for (cluster, parts) in &f.parts {
            let a = acc.entry(*cluster).or_insert_with(new_acc);
            a.first = a
                .first
                .min(f.first.get(cluster).copied().unwrap_or(i64::MAX));
            for (channel, total, after) in parts {
                if scope.within_channel(*channel) {
                    a.total += total;
                    a.after_answer += after;
                }
            }
        }
    }
    for (id, m) in inner.clusterer.every_asked() {
        let Some(cluster) = place(&inner.clusterer, id, merged, moves) else {
            continue;
        };
        let a = acc.entry(cluster).or_insert_with(new_acc);
        a.first = a.first.min(m.time_ms);
        let channel_id = inner.channel(m);
        if !scope.within_channel(channel_id) {
            continue;
        }
        if id > up_to_id {
            a.total += 1;
            if answered
                .get(&(cluster as i64))
                .is_some_and(|at| m.time_ms > *at)
            {
                a.after_answer += 1;
            }
        }
        if m.time_ms >= window.0 && m.time_ms < window.1 {
            a.count += 1;
            a.people.insert(m.author);
            a.channels.insert(channel_id);
            if m.post != Asked::NO_POST {
                *a.posts.entry(m.post).or_default() += 1;
            }
        } else if m.time_ms >= previous.0 && m.time_ms < previous.1 {
            a.previous += 1;
        }
    }
    acc.into_iter()
        .map(|(cluster, a)| {
            let posts = a
                .posts
                .into_iter()
                .map(|(p, n)| (inner.posts.value(p).cloned().unwrap_or_default(), n))
                .collect();
            let figures = Figures {
                count: a.count,
                previous: a.previous,
                people: a.people.len(),
                channels: a.channels.into_iter().collect(),
                posts,
                total: a.total,
                after_answer: a.after_answer,
                first: a.first,
            };
            (cluster, figures)
        })
        .collect()
}

/// Signals from clusters' figures: those with questions in either window and not merged away,
/// named and labelled from what the reader may read, pinned first, then by people and count.
fn signals_of(
    inner: &Inner,
    figures: HashMap<u64, Figures>,
    start: i64,
    scope: &ReadScope,
    curations: &[Curation],
    merged: &HashMap<u64, u64>,
) -> Vec<Signal> {
    let mut out: Vec<Signal> = figures
        .into_iter()
        .filter(|(_, a)| a.count > 0 || a.previous > 0)
        .filter(|(id, _)| !merged.contains_key(id))
        .filter_map(|(id, a)| {
            let summary = inner.summary(id, scope)?;
            let curation = curations.iter().find(|c| c.cluster_id == id as i64);
            let (c1, c0) = (a.count as f64, a.previous as f64);
            let z = if c1 + c0 > 0.0 {
                (c1 - c0) / (c1 + c0).sqrt()
            } else {
                0.0
            };
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
                people: a.people,
                change: a.count as i64 - a.previous as i64,
                z,
                significant: z.abs() >= 1.96 && c1 + c0 >= 5.0,
                new_and_fast: a.first >= start && a.count >= 5,
                posts: a.top_posts(),
                channels: a.channels,
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

/// Whether an event says its message is a direct message, which is never a public question:
/// its row is then not read back (on PostgreSQL every instance read every direct message's row,
/// text and all, only to set it aside). An event that does not say is read as before.
fn is_direct(e: &crate::store::StoredEvent) -> bool {
    e.payload["kind"] == "dm"
}

/// Whether an event says its message's current text changed (an edit newer than the text).
fn new_wording(e: &crate::store::StoredEvent) -> bool {
    e.kind == "message.changed" && e.payload["text_changed"] == true
}

/// Follows the event log: new questions are placed (and stored), edited ones placed afresh,
/// those taken out leave; consolidation runs on whichever instance takes its lease when due.
/// Questions the store held without placements at start are placed alongside, a batch between
/// pages of events, so new questions are not held up behind them.
pub async fn follow(
    store: Store,
    faq: Arc<FaqSignals>,
    consolidate_every: Duration,
    pace: PlacingPace,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = faq.seq();
    let mut next_consolidation = tokio::time::Instant::now() + consolidate_every;
    let mut generation_checked = tokio::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let committed = store.committed.clone();
        let woken = committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if generation_checked.elapsed() >= GENERATION_CHECK {
            if let Err(e) = faq.follow_generation(&store).await {
                tracing::warn!(error = %e, "FAQ could not follow another instance's consolidation");
            }
            // An instance of a release before 0041 (a rolling upgrade) stores placements
            // without their question's time, channel, author and post.
            match store.fill_in_placements().await {
                // Forgotten ones among them were counted without them.
                Ok(filled) if filled > 0 => {
                    if let Ok(mut inner) = faq.inner.lock() {
                        inner.recount = true;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "FAQ could not fill in older placements"),
            }
            generation_checked = tokio::time::Instant::now();
        }
        let mut more_events = false;
        match store.events_after(after, 1000).await {
            Ok(events) if !events.is_empty() => {
                if let Err(err) = faq.apply(&store, &events).await {
                    tracing::warn!(error = %err, "FAQ could not place new questions; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
                if let Some(last) = events.last() {
                    after = last.seq;
                }
                if let Ok(mut inner) = faq.inner.lock() {
                    inner.seq = after;
                }
                more_events = true;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "FAQ could not read the event log"),
        }
        if let Err(e) = faq.keep_bounded(&store).await {
            tracing::warn!(error = %e, "FAQ could not count the questions it forgot; retrying");
        }
        match faq.place_some(&store, pace.batch).await {
            // Consolidation waits until placing is done: it would merge a partial picture.
            Ok(true) => {
                tokio::select! {
                    _ = tokio::time::sleep(pace.pause) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "FAQ could not place stored questions; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        }
        if more_events {
            continue;
        }
        if tokio::time::Instant::now() >= next_consolidation {
            if let Err(e) = consolidate_once(&store, &faq, consolidate_every).await {
                tracing::warn!(error = %e, "FAQ consolidation failed; it is tried again later");
            }
            next_consolidation = tokio::time::Instant::now() + consolidate_every;
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How often an instance looks whether another one consolidated.
const GENERATION_CHECK: Duration = Duration::from_secs(1);
/// The consolidation lease: renewed while it runs, so only a stopped holder lets it run out.
const CONSOLIDATION_LEASE_MS: i64 = 120_000;

/// Consolidates when no instance has within `every`: under the lease, on this instance's
/// clusters, then stored (moves, merges with curation following) as a new generation.
async fn consolidate_once(
    store: &Store,
    faq: &Arc<FaqSignals>,
    every: Duration,
) -> anyhow::Result<()> {
    let due_before = crate::store::now_ms() - every.as_millis() as i64 + 1_000;
    let Some(lease) = store
        .take_lease(
            "faq.consolidation",
            CONSOLIDATION_LEASE_MS,
            Some(due_before),
        )
        .await?
    else {
        return Ok(());
    };
    let renewal = crate::store::lease::Renewal::start(store, &lease);
    let result = async {
        let before = faq.generation();
        let working = faq.clone();
        let changes = tokio::task::spawn_blocking(move || working.consolidate()).await??;
        let generation = store.record_faq_consolidation(&changes).await?;
        if generation == before + 1 {
            faq.lock()?.generation = generation;
        } else {
            // Another generation came between: follow the store as it is now.
            faq.reload(store, generation).await?;
        }
        anyhow::Ok(())
    }
    .await;
    drop(renewal);
    store.release_lease(&lease, result.is_ok()).await?;
    result
}

impl FaqSignals {
    /// Applies a page of events: each message they concern is settled once, as it is now.
    async fn apply(
        &self,
        store: &Store,
        events: &[crate::store::StoredEvent],
    ) -> anyhow::Result<()> {
        let mut latest: BTreeMap<i64, (i64, bool)> = BTreeMap::new();
        for e in events {
            let Some(message) = e.message_id else {
                continue;
            };
            if is_direct(e) {
                continue;
            }
            let fresh = leaves_clusters(e) || new_wording(e);
            let arrives = matches!(
                e.kind.as_str(),
                "message.received" | "message.pseudonymised" | "message.changed"
            );
            if !(fresh || arrives) {
                continue;
            }
            let entry = latest.entry(message).or_insert((e.seq, false));
            entry.0 = entry.0.max(e.seq);
            entry.1 |= fresh;
        }
        if latest.is_empty() {
            return Ok(());
        }
        // One query for the page's messages as they are now: the store leaves out what may
        // not be clustered (hidden, S5, erased).
        let ids: Vec<i64> = latest.keys().copied().collect();
        let mut questions: HashMap<i64, QuestionRow> = store
            .question_candidates(&ReadScope::operator(), &ids)
            .await?
            .into_iter()
            .filter(|r| is_public(&r.kind) && is_question(&r.text))
            .map(|r| (r.id, r))
            .collect();
        let handlings: Vec<Handling> = {
            let inner = self.lock()?;
            latest
                .into_iter()
                .map(|(message, (seq, fresh))| Handling {
                    message,
                    seq,
                    fresh,
                    question: questions.remove(&message),
                })
                // A message that is no question and has not been one here (a direct message, a
                // remark) has nothing to settle: were it placed elsewhere, the event that took it
                // out follows.
                .filter(|h| h.question.is_some() || h.fresh || inner.holds(h.message))
                .collect()
        };
        self.settle(store, &handlings).await
    }

    /// Reloads the placements when another instance consolidated since this one looked.
    async fn follow_generation(&self, store: &Store) -> anyhow::Result<()> {
        let generation = store.faq_generation().await?;
        if generation != self.generation() {
            self.reload(store, generation).await?;
        }
        Ok(())
    }

    fn generation(&self) -> i64 {
        self.read().map(|i| i.generation).unwrap_or(-1)
    }
}

/// The public questions among the placed messages, as they are now, in pages over the store
/// (one walk is cheaper than looking each placement up); the others are not kept.
/// The next page of placed public questions after message `after` (moved on), or None at the
/// end of the store. A store without placements is not read (placing in the background does).
async fn placed_questions_after(
    store: &Store,
    after: &mut i64,
    stored: &[Placement],
) -> anyhow::Result<Option<Vec<QuestionRow>>> {
    if stored.is_empty() {
        return Ok(None);
    }
    let page = store
        .question_candidates_after(&ReadScope::operator(), *after, 5000)
        .await?;
    let Some(last) = page.last().map(|r| r.id) else {
        return Ok(None);
    };
    *after = last;
    Ok(Some(
        page.into_iter()
            .filter(|r| {
                stored.binary_search_by_key(&r.id, |p| p.message_id).is_ok()
                    && is_public(&r.kind)
                    && is_question(&r.text)
            })
            .collect(),
    ))
}

/// 1234567 as "1,234,567", for the log.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn row_of(r: &QuestionRow) -> Row<'_> {
    Row {
        id: r.id as u64,
        text: &r.text,
        time_ms: r.time,
        author: &r.author,
    }
}

fn by_message(placements: Vec<Placement>) -> HashMap<i64, Placement> {
    placements.into_iter().map(|p| (p.message_id, p)).collect()
}

fn as_u64(map: HashMap<i64, i64>) -> HashMap<u64, u64> {
    map.into_iter().map(|(a, b)| (a as u64, b as u64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::Actor;

    /// A store with one approved page.
    async fn store_with_a_page() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        add_page(&store, "100", "Kommunen").await;
        (dir, store)
    }

    async fn add_page(
        store: &Store,
        platform_id: &str,
        name: &str,
    ) -> crate::store::channels::Channel {
        store
            .add_channel(
                &crate::store::channels::NewChannel {
                    platform: Some(crate::model::Platform::Facebook),
                    platform_id: platform_id.into(),
                    name: name.into(),
                    approved: true,
                    ..Default::default()
                },
                &Actor::command_line(),
            )
            .await
            .unwrap()
    }

    async fn follow_log(faq: &FaqSignals, store: &Store) {
        let events = store.events_after(faq.seq(), 1000).await.unwrap();
        faq.apply(store, &events).await.unwrap();
        if let Some(last) = events.last() {
            faq.lock().unwrap().seq = last.seq;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_poisoned_state_shows_nothing_and_says_so_in_the_log() {
        #[derive(Clone, Default)]
        struct Log(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Log {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (_dir, store) = store_with_a_page().await;
        let faq = FaqSignals::build(&store, ClusterConfig::default())
            .await
            .unwrap();
        let poisoning = std::thread::scope(|s| {
            s.spawn(|| {
                let _held = faq.inner.lock().unwrap();
                panic!("a bug while the FAQ state was held");
            })
            .join()
        });
        assert!(poisoning.is_err());
        let log = Log::default();
        let writer = log.clone();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish(),
        );
        assert!(faq.topics(&ReadScope::operator()).is_empty());
        assert_eq!(faq.nearest_cluster("När öppnar simhallen?", &[]), None);
        let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(
            written.contains("ERROR") && written.contains("poisoned"),
            "{written}"
        );
    }

    #[test]
    fn the_log_writes_counts_with_thousands_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(300_000), "300,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_direct_message_is_known_by_its_event_and_never_placed() {
        let (_dir, store) = store_with_a_page().await;
        let faq = FaqSignals::build(&store, ClusterConfig::default())
            .await
            .unwrap();
        let ingest = crate::ingest::Ingestor::start(store.clone(), 10_000, 100, None);
        let now = crate::store::now_ms();
        let item = |kind: &str, id: &str| {
            crate::ingest::normalised::parse(serde_json::json!({
                "platform": "facebook", "channel": "100", "kind": kind, "id": id,
                "author": {"id": format!("p-{id}")}, "text": "När öppnar simhallen på lördag?",
                "time": now, "post_id": "post"}))
            .unwrap()
        };
        ingest
            .submit(vec![item("dm", "d1"), item("comment", "c1")])
            .await
            .unwrap();
        let events = store.events_after(0, 1000).await.unwrap();
        let received: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "message.received")
            .collect();
        assert_eq!(received.len(), 2, "{events:?}");
        let direct: Vec<bool> = received.iter().map(|e| is_direct(e)).collect();
        assert_eq!(direct.iter().filter(|d| **d).count(), 1, "{received:?}");
        follow_log(&faq, &store).await;
        for e in received {
            let message = e.message_id.unwrap();
            // The same question: placed as a comment, never as a direct message.
            assert_eq!(held(&faq, message).is_some(), !is_direct(e), "{e:?}");
        }
    }

    /// The same signals, counted from the questions held or from the store: over two channels,
    /// people asking more than once, posts, a communicator's move, a merge and an answer, for
    /// every reader and several periods.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn figures_counted_in_the_store_are_those_counted_in_memory() {
        let (_dir, store) = store_with_a_page().await;
        let second = add_page(&store, "200", "Biblioteket").await;
        let faq = Arc::new(
            FaqSignals::build(&store, ClusterConfig::default())
                .await
                .unwrap(),
        );
        let ingest = crate::ingest::Ingestor::start(store.clone(), 10_000, 100, None);
        let now = crate::store::now_ms();
        let day = 86_400_000;
        let texts = [
            "När öppnar simhallen på lördag?",
            "Hur länge är Storgatan avstängd?",
            "Var hämtar jag mitt bygglov?",
        ];
        let items: Vec<_> = (0..36)
            .map(|i| {
                let item = serde_json::json!({
                    "platform": "facebook", "channel": if i % 3 == 0 { "200" } else { "100" },
                    "kind": "comment", "id": format!("c{i}"), "author": {"id": format!("p{}", i % 7)},
                    "text": texts[i % 3], "time": now - (i as i64) * day * 2 / 3,
                    "post_id": format!("post{}", i % 4),
                });
                crate::ingest::normalised::parse(item).unwrap()
            })
            .collect();
        ingest.submit(items).await.unwrap();
        follow_log(&faq, &store).await;
        let placed: Vec<(i64, u64)> = {
            let inner = faq.lock().unwrap();
            inner
                .clusterer
                .placements()
                .into_iter()
                .map(|(m, c)| (m as i64, c))
                .collect()
        };
        let clusters: BTreeSet<u64> = placed.iter().map(|p| p.1).collect();
        assert!(clusters.len() >= 3, "{placed:?}");
        let clusters: Vec<u64> = clusters.into_iter().collect();
        // A question moved to another cluster, one cluster merged into another, one answered
        // ten days ago.
        let actor = Actor::command_line();
        let moved = placed.iter().find(|p| p.1 == clusters[0]).unwrap().0;
        store
            .move_questions(&[moved], clusters[2] as i64, &actor)
            .await
            .unwrap();
        for curation in [
            Curation {
                cluster_id: clusters[1] as i64,
                merged_into: Some(clusters[2] as i64),
                ..Default::default()
            },
            Curation {
                cluster_id: clusters[2] as i64,
                answered_url: Some("https://example.se/svar".into()),
                answered_at: Some(now - 10 * day),
                ..Default::default()
            },
        ] {
            store.save_curation(&curation, &actor).await.unwrap();
        }
        let curations = store.curations().await.unwrap();
        let moves = store.faq_moves().await.unwrap();
        let readers = [
            ReadScope::operator(),
            ReadScope::privacy_request(Some(vec![second.id])),
            ReadScope::privacy_request(Some(vec![])),
        ];
        let week = 7 * day;
        let periods = [
            (
                (now - week + 1, now + 1),
                (now - 2 * week + 1, now - week + 1),
            ),
            ((now - 30 * day, now + 1), (now - 60 * day, now - 30 * day)),
            (
                (now - 20 * day, now - 10 * day),
                (now - 30 * day, now - 20 * day),
            ),
        ];
        let mut compared = 0;
        for scope in &readers {
            for (window, previous) in periods {
                let held = faq.signals_between(window, previous, scope, &curations, &moves);
                let json = |s: &[Signal]| serde_json::to_value(s).unwrap();
                for all_time in [AllTime::Stored, AllTime::Held(&moves)] {
                    let stored = faq
                        .signals_from_store(&store, window, previous, scope, &curations, all_time)
                        .await
                        .unwrap();
                    assert_eq!(json(&held), json(&stored), "{window:?} {previous:?}");
                }
                compared += held.len();
            }
        }
        // The comparison saw the move, the merge and the answer at work.
        let all = faq.signals_between(periods[1].0, periods[1].1, &readers[0], &curations, &moves);
        let merged_into = all.iter().find(|s| s.id == clusters[2]).unwrap();
        let expected = placed
            .iter()
            .filter(|p| p.1 == clusters[1] || p.1 == clusters[2])
            .count()
            + 1;
        assert_eq!(merged_into.total_members, expected, "{all:?}");
        assert!(merged_into.growing_after_answer, "{merged_into:?}");
        assert!(merged_into.people < merged_into.count, "{merged_into:?}");
        assert!(!all.iter().any(|s| s.id == clusters[1]), "{all:?}");
        assert!(compared >= 10, "{compared}");
    }

    fn held(faq: &FaqSignals, message: i64) -> Option<u64> {
        faq.lock().unwrap().clusterer.cluster_of(message as u64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consolidation_on_one_instance_is_followed_by_the_others_and_runs_once() {
        // Join only near-identical texts, merge at an ordinary similarity (as in cluster.rs).
        let config = ClusterConfig {
            threshold: 0.95,
            merge_threshold: 0.4,
            ..ClusterConfig::default()
        };
        let (_dir, store) = store_with_a_page().await;
        // Two instances, started before the questions came.
        let first = FaqSignals::build(&store, config.clone()).await.unwrap();
        let second = FaqSignals::build(&store, config.clone()).await.unwrap();
        let ingest = crate::ingest::Ingestor::start(store.clone(), 10_000, 100, None);
        let now = crate::store::now_ms();
        let texts = [
            "När öppnar simhallen?",
            "När öppnar simhallen?",
            "När öppnar simhallen igen?",
            "Vad kostar en plats i kulturskolan?",
        ];
        let items = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::ingest::normalised::parse(serde_json::json!({
                    "platform": "facebook", "channel": "100", "kind": "comment",
                    "id": format!("c{i}"), "author": {"id": format!("p{i}")}, "text": t,
                    "time": now - 1000 + i as i64, "post_id": "post"}))
                .unwrap()
            })
            .collect();
        ingest.submit(items).await.unwrap();
        let ids: Vec<i64> = sqlx::query_scalar("select id from messages order by id")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        follow_log(&first, &store).await;
        follow_log(&second, &store).await;
        let (big, small) = (held(&first, ids[0]).unwrap(), held(&first, ids[2]).unwrap());
        assert_ne!(big, small);
        for m in &ids {
            assert_eq!(held(&second, *m), held(&first, *m), "message {m}");
        }
        store
            .save_curation(
                &Curation {
                    cluster_id: small as i64,
                    name: Some("Simhallen öppnar".into()),
                    ..Default::default()
                },
                &Actor::command_line(),
            )
            .await
            .unwrap();
        let first = Arc::new(first);
        let every = Duration::from_secs(600);
        consolidate_once(&store, &first, every).await.unwrap();
        let generation = store.faq_generation().await.unwrap();
        // The small cluster went into the big one: in the store, on the instance that
        // consolidated, on the other once it looks, and the curation went with it.
        let placed = by_message(store.faq_placements(&ids).await.unwrap());
        assert_eq!(placed[&ids[2]].cluster_id, big as i64);
        assert_eq!(held(&first, ids[2]), Some(big));
        second.follow_generation(&store).await.unwrap();
        assert_eq!(held(&second, ids[2]), Some(big));
        let curations = store.curations().await.unwrap();
        assert_eq!(curations.len(), 1);
        assert_eq!(curations[0].cluster_id, big as i64);
        // The second instance's turn comes only after the interval.
        let second = Arc::new(second);
        consolidate_once(&store, &second, every).await.unwrap();
        assert_eq!(store.faq_generation().await.unwrap(), generation);
        // A restart follows the store too.
        let restarted = FaqSignals::build(&store, config).await.unwrap();
        for m in &ids {
            assert_eq!(held(&restarted, *m), held(&first, *m), "message {m}");
        }
    }
}
