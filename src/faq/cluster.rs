//! Online clustering of questions into FAQ signals, at two levels: *questions* (messages that ask
//! the same thing) and *topics* (question clusters about the same subject, a lower threshold over
//! the question clusters' centroids).
//!
//! - [`Clusterer::assign`] puts one message in the nearest question cluster (cosine to the
//!   centroid, at least `threshold`) or starts a new one. Candidates come from an inverted index
//!   over each centroid's heaviest terms, so the cost does not grow with the number of clusters.
//! - [`Clusterer::consolidate`], run periodically (say every few thousand messages or minutes),
//!   merges clusters that have grown together and moves members whose best cluster changed. The
//!   larger (then older) cluster keeps its id and merges are reported as `(from, into)`, so
//!   curation (names, linked replies) can follow.
//! - [`Clusterer::recluster_all`] rebuilds from scratch from `(id, text, time, author)` rows, and
//!   [`Clusterer::keep_ids_of`] carries the previous ids over to the rebuilt clusters.
//!
//! **Persistence:** both. A `Clusterer` is `Serialize`/`Deserialize` (serde) and restores exactly,
//! document frequencies included; and it is always rebuildable from the store's `(id, text, time,
//! author)` rows with `recluster_all` (+ `keep_ids_of` for stable ids), which is what to do when it
//! is lost or the config changes. Rebuilding is the cheaper default: 100,000 questions take a few
//! seconds, while their state is ~180 MB as JSON (use a binary serde format for snapshots).
//! It keeps no author names (only 64-bit hashes), no raw texts, and example texts only masked.
//!
//! **Memory:** each message keeps its pruned vector (`max_features` × 8 bytes, ~0.6 KB in all),
//! so that consolidation can move it without the text; centroids and the index are bounded by
//! `centroid_terms` and `index_terms` per cluster.
//!
//! **Concurrency:** `assign` takes `&mut self` (the caller holds it behind a lock); batch work
//! (`recluster_all`, `consolidate`) uses `config.threads` scoped threads.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::features::{
    self, add_scaled, dot, extract, hash64, norm, Analyzer, FeatureConfig, FxMap, SparseVec,
    STEM_BIT,
};
use crate::text::detectors;

/// Tuning of the clusterer. The thresholds were tuned on CLINC150's *validation* split (see
/// `eval.rs`); the rest are speed/memory trade-offs (an exhaustive search for the nearest
/// cluster gave the same clustering as these candidate limits on that split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub features: FeatureConfig,
    /// A message joins the nearest question cluster when its cosine to the centroid is at least this.
    pub threshold: f32,
    /// Consolidation merges question clusters whose centroids are at least this similar.
    /// Centroids are averages, so they look more alike than single messages: keep it above `threshold`.
    pub merge_threshold: f32,
    /// A question cluster joins (and topics merge with) a topic at this centroid cosine.
    pub topic_threshold: f32,
    /// A member moves only when another cluster fits it better by this much (stability).
    pub move_margin: f32,
    /// Terms kept per centroid (the heaviest): bounds memory and comparison time.
    pub centroid_terms: usize,
    /// Heaviest centroid terms entered in the inverted index.
    pub index_terms: usize,
    /// Clusters compared exactly per assignment (the best-scoring index candidates).
    pub candidates: usize,
    /// Index entries read per assignment at most; rare terms are read first.
    pub posting_budget: usize,
    /// Diverse examples shown per cluster.
    pub examples: usize,
    /// Merge-and-move rounds after a batch rebuild.
    pub refine_passes: usize,
    /// Threads for batch work (0: as many as the machine has).
    pub threads: usize,
    /// Question vectors held at most (the newest messages'): each is ~0.6 KB, so holding every
    /// public question's would grow memory with the store (issue 17). An older question lets
    /// its vector go into its cluster's settled sum: it stays counted in the centroid and in
    /// the cluster, but consolidation no longer moves it and its removal leaves the centroid.
    #[serde(default = "default_kept_vectors")]
    pub kept_vectors: usize,
    /// Questions held in memory at most (the newest by message id), each about 100 bytes:
    /// beyond it the oldest are forgotten here, counted by their clusters (for sizes) and by
    /// the store (for figures, see `faq::signals`), so this state does not grow however large the
    /// store grows (issue 17). The default stays below a doubling of the questions' hash map
    /// (458,752 entries) even with the eighth let in before forgetting.
    #[serde(default = "default_kept_questions")]
    pub kept_questions: usize,
}

fn default_kept_vectors() -> usize {
    40_000
}

fn default_kept_questions() -> usize {
    400_000
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            features: FeatureConfig::default(),
            threshold: 0.3,
            merge_threshold: 0.4,
            topic_threshold: 0.15,
            move_margin: 0.02,
            centroid_terms: 128,
            index_terms: 24,
            candidates: 10,
            posting_budget: 2000,
            examples: 3,
            refine_passes: 1,
            threads: 0,
            kept_vectors: default_kept_vectors(),
            kept_questions: default_kept_questions(),
        }
    }
}

/// Where [`Clusterer::assign`] put a message.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assignment {
    pub cluster: u64,
    /// Cosine to the cluster's centroid before the message joined; for a new cluster, the best
    /// cosine found elsewhere (below the threshold), 0 when nothing was similar at all.
    pub similarity: f32,
    pub new_cluster: bool,
    /// The topic of the cluster.
    pub topic: Option<u64>,
}

/// One row of a batch rebuild, as the store holds it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub id: u64,
    pub text: &'a str,
    pub time_ms: i64,
    pub author: &'a str,
}

/// What consolidation changed, for curation to follow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Consolidation {
    /// `(from, into)`: cluster `from` no longer exists, its members are (mostly) in `into`.
    pub merges: Vec<(u64, u64)>,
    /// Members that moved to a better cluster.
    pub moved: usize,
    /// Topics after the rebuild of the topic level.
    pub topics: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    pub id: u64,
    pub topic: Option<u64>,
    /// The most central question (closest to the centroid among the kept examples), masked.
    pub label: String,
    /// The heaviest stems, as they are most often written.
    pub top_terms: Vec<String>,
    pub members: usize,
    pub authors: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Up to `examples` questions, as different from each other as the kept ones allow, masked.
    pub examples: Vec<String>,
}

/// A topic: a group of related question clusters, as clustering made them. Topics do not follow
/// communicators' curation (names, dismissals, merges, moves) and count over all time, on every
/// channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FaqTopic)]
pub struct TopicSummary {
    /// The topic id (`topic` of a FaqSignal).
    pub id: u64,
    /// The label of the topic's most central question cluster.
    pub label: String,
    /// The topic's heaviest terms, as they are most often written.
    pub top_terms: Vec<String>,
    /// The ids of its question clusters, largest first.
    pub questions: Vec<u64>,
    /// Questions in all its clusters.
    pub members: usize,
    /// Distinct people who asked them, among the questions held in memory: once a store holds
    /// more public questions than the FAQ state keeps (`kept_questions`, 400,000 by default),
    /// the askers of the oldest are no longer counted here.
    pub authors: usize,
    /// The first question's time; 0 when unknown. Milliseconds since the Unix epoch.
    pub first_ms: i64,
    /// The latest question's time; 0 when unknown. Milliseconds since the Unix epoch.
    pub last_ms: i64,
}

/// What is kept of a question besides its cluster: when and by whom it was asked (the author
/// as a hash, enough to count people), and for the owner where (channel and post as the owner
/// numbers them) and which event placed it. One small record per public question, held beside
/// its cluster slot in one map, since a store of a million messages holds hundreds of
/// thousands of them (issue 17: two maps of these doubled memory at each table growth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub time_ms: i64,
    pub author: u64,
    /// The event whose handling placed it (the owner's; 0 when not known).
    pub placed_seq: i64,
    /// The owner's number for the channel.
    pub channel: u32,
    /// The owner's number for the post it was asked under, or [`Asked::NO_POST`].
    pub post: u32,
}

impl Asked {
    pub const NO_POST: u32 = u32::MAX;

    /// Asked at `time_ms` by `author`, nothing else known yet.
    pub fn by(time_ms: i64, author: &str) -> Asked {
        Asked {
            time_ms,
            author: hash64(author),
            placed_seq: 0,
            channel: 0,
            post: Asked::NO_POST,
        }
    }
}

/// A kept example: message id and its text with personal data masked.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Exemplar {
    id: u64,
    text: String,
    /// The channel (as the owner numbers it) of a question forgotten since (see
    /// [`Clusterer::forget_oldest`]); None while the question is held, whose record says.
    #[serde(default)]
    channel: Option<u32>,
}

/// The online clusterer. See the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clusterer {
    config: ClusterConfig,
    analyzer: Analyzer,
    questions: Level<Asked>,
    /// Items are question clusters (key: question cluster id).
    topics: Level<()>,
    /// Candidate examples per question cluster.
    pools: FxMap<u64, Vec<Exemplar>>,
    /// What was forgotten of the oldest questions.
    #[serde(default)]
    forgotten: Forgotten,
    #[serde(skip)]
    scratch: Scratch,
}

/// The questions forgotten so far ([`Clusterer::forget_oldest`]): every question up to a
/// message id, each counted by its cluster but no longer held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    /// The highest message id forgotten (0: none). A question with this id or a lower one
    /// that is held (placed again by a later event) was held again after it was forgotten.
    pub up_to_id: u64,
    /// When the latest forgotten question was asked (`i64::MIN`: none): a period starting
    /// after it holds no forgotten question.
    pub until_ms: i64,
    /// Questions forgotten and not placed anew or taken out since.
    pub count: u64,
}

impl Default for Forgotten {
    fn default() -> Self {
        Forgotten {
            up_to_id: 0,
            until_ms: i64::MIN,
            count: 0,
        }
    }
}

impl Clusterer {
    pub fn new(config: ClusterConfig) -> Clusterer {
        Clusterer {
            config,
            analyzer: Analyzer::default(),
            questions: Level::default(),
            topics: Level::default(),
            pools: FxMap::default(),
            forgotten: Forgotten::default(),
            scratch: Scratch::default(),
        }
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Puts message `id` in its question cluster, learning its terms' frequencies first. The
    /// caller decides what is a question (`question::is_question`). A message already assigned
    /// (a redelivered webhook) is not counted twice: its current cluster is returned.
    pub fn assign(&mut self, id: u64, text: &str, time_ms: i64, author: &str) -> Assignment {
        if let Some(done) = self.existing(id) {
            return done;
        }
        let raw = extract(text, &self.config.features);
        self.analyzer.learn(&raw);
        let vector = self.analyzer.weigh(&raw, &self.config.features);
        self.place(id, vector, Asked::by(time_ms, author), text, None)
    }

    /// The question cluster a text would join, without joining it (no learning, no change):
    /// how a direct message is matched to the public questions without ever being shown in them.
    pub fn nearest_cluster(&self, text: &str) -> Option<(u64, f32)> {
        let raw = extract(text, &self.config.features);
        if raw.is_empty() {
            return None;
        }
        let vector = self.analyzer.weigh(&raw, &self.config.features);
        let mut scratch = Scratch::default();
        let (slot, similarity) =
            self.questions
                .nearest(&vector, None, &self.config, &mut scratch)?;
        if similarity < self.config.threshold {
            return None;
        }
        let node = self.questions.nodes.get(slot as usize)?.as_ref()?;
        Some((node.id, similarity))
    }

    fn existing(&self, id: u64) -> Option<Assignment> {
        let cluster = self.cluster_of(id)?;
        Some(Assignment {
            cluster,
            similarity: 1.0,
            new_cluster: false,
            topic: self.topic_of(cluster),
        })
    }

    /// Places a weighted vector (no learning) and keeps pools and topics up to date.
    /// `guess` is a nearest cluster found beforehand (batch rebuilds search in parallel).
    fn place(
        &mut self,
        id: u64,
        vector: SparseVec,
        meta: Asked,
        text: &str,
        guess: Option<(u32, f32)>,
    ) -> Assignment {
        if let Some(done) = self.existing(id) {
            return done;
        }
        let config = &self.config;
        let (cluster, similarity, new_cluster) = self.questions.insert(
            id,
            vector,
            meta,
            (config.threshold, guess),
            config,
            &mut self.scratch,
        );
        if new_cluster {
            // A new cluster's centroid is this message: it goes to its topic now, and gets a
            // better place when consolidation rebuilds the topics from grown centroids.
            let first = self
                .questions
                .vector(id)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            self.topics.insert(
                cluster,
                first,
                (),
                (config.topic_threshold, None),
                config,
                &mut self.scratch,
            );
        }
        self.offer_example(cluster, id, text);
        self.let_go_old_vectors();
        Assignment {
            cluster,
            similarity,
            new_cluster,
            topic: self.topic_of(cluster),
        }
    }

    /// A question's weighted vector, its term frequencies learned first (as `assign` does): the
    /// first half of placing a message whose cluster is decided elsewhere (see [`Self::put`]).
    pub fn learn(&mut self, text: &str) -> SparseVec {
        let raw = extract(text, &self.config.features);
        self.analyzer.learn(&raw);
        self.analyzer.weigh(&raw, &self.config.features)
    }

    /// The question cluster a learned vector would join (cosine at least `threshold`), without
    /// joining it; None when it would start a cluster of its own.
    pub fn nearest_to(&mut self, vector: &[(u32, f32)]) -> Option<u64> {
        let (slot, similarity) =
            self.questions
                .nearest(vector, None, &self.config, &mut self.scratch)?;
        if similarity < self.config.threshold {
            return None;
        }
        Some(self.questions.nodes.get(slot as usize)?.as_ref()?.id)
    }

    /// Puts message `id` in the question cluster `cluster` (started under that id when there is
    /// none), leaving the cluster it was in: how a placement decided elsewhere (the store,
    /// another instance, a consolidation) is followed. Cluster ids then come from the caller.
    /// A question already in that cluster stays, with `meta` as its record.
    pub fn put(&mut self, id: u64, vector: SparseVec, meta: Asked, text: &str, cluster: u64) {
        if self.cluster_of(id) == Some(cluster) {
            if let Some(item) = self.questions.items.get_mut(&id) {
                item.meta = meta;
            }
            return;
        }
        self.remove(id);
        let new_cluster = self
            .questions
            .insert_into(id, vector, meta, cluster, &self.config);
        if new_cluster {
            let first = self
                .questions
                .vector(id)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            let config = &self.config;
            self.topics.insert(
                cluster,
                first,
                (),
                (config.topic_threshold, None),
                config,
                &mut self.scratch,
            );
        }
        self.offer_example(cluster, id, text);
        self.let_go_old_vectors();
    }

    /// Keeps the held question vectors within `kept_vectors` (see [`ClusterConfig`]).
    fn let_go_old_vectors(&mut self) {
        let config = &self.config;
        self.questions.let_go_beyond(config.kept_vectors, config);
    }

    /// Forgets the oldest questions (the lowest message ids) once more than `kept_questions`
    /// and an eighth of it are held, down to `kept_questions`; returns whether it did. A
    /// forgotten question stays counted by its cluster (its size, channels and earliest time;
    /// its vector was let go into the settled sum long before) and its example stays, with
    /// its channel; nothing else of it is held. Forgetting in batches keeps its cost (a
    /// selection over the held ids) to a few operations a question.
    pub fn forget_oldest(&mut self) -> bool {
        let kept = self.config.kept_questions;
        let held = self.questions.items.len();
        if held <= kept.saturating_add(kept / 8) {
            return false;
        }
        let mut oldest: Vec<u64> = self.questions.items.keys().copied().collect();
        let n = held - kept;
        oldest.select_nth_unstable(n - 1);
        oldest.truncate(n);
        let mut gone: FxMap<u64, u32> = FxMap::default();
        let mut slots: Vec<u32> = Vec::new();
        for key in oldest {
            let Some(item) = self.questions.items.remove(&key) else {
                continue;
            };
            if let Some(vector) = self.questions.held.remove(&key) {
                self.questions.settle(item.slot, &vector, &self.config);
            }
            let Some(node) = self
                .questions
                .nodes
                .get_mut(item.slot as usize)
                .and_then(Option::as_mut)
            else {
                continue;
            };
            node.forgotten += 1;
            if let Err(at) = node.forgotten_channels.binary_search(&item.meta.channel) {
                node.forgotten_channels.insert(at, item.meta.channel);
            }
            node.forgotten_first_ms = node.forgotten_first_ms.min(item.meta.time_ms);
            node.forgotten_last_ms = node.forgotten_last_ms.max(item.meta.time_ms);
            slots.push(item.slot);
            gone.insert(key, item.meta.channel);
            let f = &mut self.forgotten;
            f.up_to_id = f.up_to_id.max(key);
            f.until_ms = f.until_ms.max(item.meta.time_ms);
            f.count += 1;
        }
        self.questions.compact_items(kept.saturating_add(kept / 8));
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            if let Some(node) = self.questions.nodes[slot as usize].as_mut() {
                node.members.retain(|m| !gone.contains_key(m));
            }
        }
        for e in self.pools.values_mut().flatten() {
            if let Some(channel) = gone.get(&e.id) {
                e.channel = Some(*channel);
            }
        }
        true
    }

    /// A forgotten question of `cluster` was placed anew or taken out by an event: its cluster
    /// no longer counts it (a cluster left with no question at all is gone).
    pub fn unforget(&mut self, cluster: u64) {
        let Some(&slot) = self.questions.slot_of.get(&cluster) else {
            return;
        };
        let Some(node) = self.questions.nodes[slot as usize].as_mut() else {
            return;
        };
        node.forgotten = node.forgotten.saturating_sub(1);
        self.forgotten.count = self.forgotten.count.saturating_sub(1);
        if node.is_empty() {
            self.questions.nodes[slot as usize] = None;
            self.questions.slot_of.remove(&cluster);
            self.pools.remove(&cluster);
            self.topics.remove(cluster, &self.config);
        }
    }

    /// What has been forgotten so far.
    pub fn forgotten(&self) -> Forgotten {
        self.forgotten
    }

    /// Moves a held message to another cluster with the vector it was placed with (a
    /// consolidation elsewhere moved it); false when it is not held.
    pub fn move_to(&mut self, id: u64, cluster: u64) -> bool {
        if self.cluster_of(id) == Some(cluster) {
            return true;
        }
        let Some(item) = self.questions.items.get(&id) else {
            return false;
        };
        let meta = item.meta;
        let vector = self
            .questions
            .vector(id)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        let text = self
            .pools
            .values()
            .flatten()
            .find(|e| e.id == id)
            .map(|e| e.text.clone());
        self.remove(id);
        let new_cluster = self
            .questions
            .insert_into(id, vector, meta, cluster, &self.config);
        if new_cluster {
            let first = self
                .questions
                .vector(id)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            let config = &self.config;
            self.topics.insert(
                cluster,
                first,
                (),
                (config.topic_threshold, None),
                config,
                &mut self.scratch,
            );
        }
        // An example follows its message (its text is already masked).
        if let Some(text) = text {
            let capacity = self.pool_capacity();
            let pool = self.pools.entry(cluster).or_default();
            if pool.len() < capacity {
                pool.push(Exemplar {
                    id,
                    text,
                    channel: None,
                });
            }
        }
        true
    }

    /// Rebuilds the state of stored placements: frequencies learned from every row first, then
    /// each row put in its cluster (in id order), then the topics. Nothing moves: which cluster
    /// a question is in is the store's, so every instance and every restart agree.
    pub fn restore(rows: &[(Row<'_>, u64)], config: &ClusterConfig) -> Clusterer {
        let mut order: Vec<&(Row<'_>, u64)> = rows.iter().collect();
        order.sort_by_key(|(r, _)| r.id);
        order.dedup_by_key(|(r, _)| r.id);
        let mut restoring = Clusterer::restoring(config);
        let texts: Vec<&str> = order.iter().map(|(r, _)| r.text).collect();
        restoring.learn(&texts);
        let placed: Vec<(Row<'_>, u64, Asked)> = order
            .iter()
            .map(|(r, c)| (*r, *c, Asked::by(r.time_ms, r.author)))
            .collect();
        restoring.place(&placed);
        restoring.finish()
    }

    /// A restore a page of stored questions at a time, so that the questions of a large store
    /// are never all in memory at once: every page learned first ([`Restoring::learn`]), then
    /// every page placed in id order ([`Restoring::place`]), forgetting the oldest as it goes.
    pub fn restoring(config: &ClusterConfig) -> Restoring {
        Restoring {
            clusterer: Clusterer::new(config.clone()),
        }
    }

    /// Every held message with its question cluster.
    pub fn placements(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = self
            .questions
            .items
            .keys()
            .filter_map(|&m| Some((m, self.cluster_of(m)?)))
            .collect();
        out.sort_unstable();
        out
    }

    /// The highest question cluster id held (ids handed out elsewhere must pass it).
    pub fn highest_cluster_id(&self) -> u64 {
        self.questions.nodes().map(|n| n.id).max().unwrap_or(0)
    }

    /// Forgets a message (erasure, retention). Returns whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some((cluster, emptied)) = self.questions.remove(id, &self.config) else {
            return false;
        };
        if let Some(pool) = self.pools.get_mut(&cluster) {
            pool.retain(|e| e.id != id);
        }
        if emptied {
            self.pools.remove(&cluster);
            self.topics.remove(cluster, &self.config);
        }
        true
    }

    /// Merges clusters that have grown together, moves members to the cluster that now fits
    /// them best and rebuilds the topic level (keeping topic ids where their questions stay).
    /// Takes a few seconds at 100,000 questions: run it periodically, not per message.
    pub fn consolidate(&mut self) -> Consolidation {
        let mut result = Consolidation::default();
        self.refine(&mut result);
        self.rebuild_topics();
        result.topics = self.topics.len();
        result
    }

    fn refine(&mut self, result: &mut Consolidation) {
        let config = self.config.clone();
        let threads = threads(&config);
        result
            .merges
            .extend(self.questions.rebuild(&config, threads));
        let merges = self
            .questions
            .merge_pass(config.merge_threshold, &config, &mut self.scratch);
        result.merges.extend(merges);
        result.moved += self.questions.move_pass(&config, threads);
        result
            .merges
            .extend(self.questions.rebuild(&config, threads));
        self.rehome_examples(&result.merges);
    }

    /// A batch rebuild: frequencies learned from all rows first, then the rows placed in time
    /// order, then `refine_passes` rounds of merging and moving. Uses `config.threads`.
    pub fn recluster_all(rows: &[Row<'_>], config: &ClusterConfig) -> Clusterer {
        let threads = threads(config);
        // Each id once (the earliest row), then in time order as they would have arrived.
        let mut order: Vec<&Row<'_>> = rows.iter().collect();
        order.sort_by_key(|r| (r.id, r.time_ms));
        order.dedup_by_key(|r| r.id);
        order.sort_by_key(|r| (r.time_ms, r.id));
        // Two extraction passes instead of keeping every row's raw features: extraction is
        // cheap, and the raw n-gram lists of 100,000 rows would need over 100 MB at once.
        let chunks = par_map(&order, threads, Analyzer::default, |a, row| {
            a.learn(&extract(row.text, &config.features));
        });
        let mut analyzer = Analyzer::default();
        for chunk in chunks {
            analyzer.absorb(chunk.state);
        }
        let vectors: Vec<SparseVec> = par_map(
            &order,
            threads,
            || (),
            |_, row| analyzer.weigh(&extract(row.text, &config.features), &config.features),
        )
        .into_iter()
        .flatten()
        .collect();
        let mut clusterer = Clusterer::new(config.clone());
        clusterer.analyzer = analyzer;
        // Rows are placed one by one in time order, but the search for each row's nearest
        // cluster runs in parallel per chunk beforehand: most rows join an existing cluster and
        // need nothing more; the others search again, seeing the clusters the chunk started.
        let mut vectors = vectors.into_iter();
        for rows in order.chunks(PLACE_CHUNK) {
            let chunk: Vec<SparseVec> = vectors.by_ref().take(rows.len()).collect();
            let questions = &clusterer.questions;
            let guesses = par_map(&chunk, threads, Scratch::default, |s, v| {
                questions.nearest(v, None, config, s)
            });
            let since = clusterer.questions.nodes.len();
            for ((row, vector), guess) in rows.iter().zip(chunk).zip(guesses.into_iter().flatten())
            {
                let guess = guess.map(|g| clusterer.questions.recheck(&vector, g.0, since));
                let meta = Asked::by(row.time_ms, row.author);
                clusterer.place(row.id, vector, meta, row.text, guess);
            }
        }
        let mut ignored = Consolidation::default();
        for _ in 0..config.refine_passes.max(1) {
            clusterer.refine(&mut ignored);
        }
        clusterer.rebuild_topics();
        clusterer
    }

    /// Gives the clusters of a rebuild the ids of `previous` where they share members (greedily,
    /// by the number shared), so that curation survives a `recluster_all`; topics likewise.
    /// Other clusters get ids `previous` never used. Returns `(from, into)` for each cluster of
    /// `previous` whose id did not carry over: `into` holds most of its former members.
    pub fn keep_ids_of(&mut self, previous: &Clusterer) -> Vec<(u64, u64)> {
        let mapping = self.questions.adopt_ids(
            |key| previous.questions.cluster_of(key),
            |_| 1,
            previous.questions.next_id,
        );
        let renamed: FxMap<u64, Vec<Exemplar>> = std::mem::take(&mut self.pools)
            .into_iter()
            .map(|(id, pool)| (mapping.get(&id).copied().unwrap_or(id), pool))
            .collect();
        self.pools = renamed;
        self.rebuild_topics();
        let questions = &self.questions;
        let fresh = previous.topics.next_id.max(self.topics.next_id);
        self.topics.adopt_ids(
            |key| previous.topics.cluster_of(key),
            |key| questions.size(key),
            fresh,
        );
        let mut gone = Vec::new();
        for old in previous.questions.nodes() {
            if self.questions.node(old.id).is_some() {
                continue;
            }
            let mut holders: FxMap<u64, usize> = FxMap::default();
            for key in &old.members {
                if let Some(now) = self.cluster_of(*key) {
                    *holders.entry(now).or_default() += 1;
                }
            }
            let into = holders
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
            if let Some((into, _)) = into {
                gone.push((old.id, into));
            }
        }
        gone.sort_unstable();
        gone
    }

    /// Regroups the question clusters into topics (after moves made elsewhere).
    pub fn regroup_topics(&mut self) {
        self.rebuild_topics();
    }

    /// Rebuilds the topic level from the question clusters' centroids (largest first), then
    /// carries the previous topic ids over by overlap.
    fn rebuild_topics(&mut self) {
        let config = self.config.clone();
        let mut clusters: Vec<(u64, usize, SparseVec)> = self
            .questions
            .nodes()
            .map(|n| (n.id, n.size(), n.unit()))
            .collect();
        clusters.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut topics: Level<()> = Level::default();
        for (id, _, vector) in clusters {
            topics.insert(
                id,
                vector,
                (),
                (config.topic_threshold, None),
                &config,
                &mut self.scratch,
            );
        }
        topics.merge_pass(config.topic_threshold, &config, &mut self.scratch);
        topics.rebuild(&config, 1);
        let previous = std::mem::replace(&mut self.topics, topics);
        let questions = &self.questions;
        self.topics.adopt_ids(
            |key| previous.cluster_of(key),
            |key| questions.size(key),
            previous.next_id.max(self.topics.next_id),
        );
    }

    // ---- examples ---------------------------------------------------------------------------

    /// An example's vector: the one held, or (its vector let go) weighed again from its masked
    /// text, which is close enough to choose diverse examples by.
    fn example_vector(&self, e: &Exemplar) -> Cow<'_, [(u32, f32)]> {
        match self.questions.vector(e.id) {
            Some(v) if !v.is_empty() => Cow::Borrowed(v),
            _ => {
                let features = &self.config.features;
                Cow::Owned(self.analyzer.weigh(&extract(&e.text, features), features))
            }
        }
    }

    fn pool_capacity(&self) -> usize {
        self.config.examples + 5
    }

    /// Keeps a bounded, diverse pool of candidate examples: when full, the most redundant one
    /// (highest similarity to another) leaves, never the most central one. Once the pool is
    /// full, only about `capacity / members` of the newcomers are considered (a deterministic
    /// sample by id, as in reservoir sampling): the pool still follows the cluster as it drifts,
    /// and big clusters do not pay for the comparison on every message.
    fn offer_example(&mut self, cluster: u64, id: u64, text: &str) {
        let capacity = self.pool_capacity();
        let Some(node) = self.questions.node(cluster) else {
            return;
        };
        let pool = self.pools.entry(cluster).or_default();
        if pool.len() < capacity {
            pool.push(Exemplar {
                id,
                text: detectors::mask(text),
                channel: None,
            });
            return;
        }
        let pool = &self.pools[&cluster];
        let stride = (node.size() / capacity).max(1) as u64;
        if !(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32).is_multiple_of(stride) {
            return;
        }
        let mut vectors: Vec<Cow<'_, [(u32, f32)]>> =
            pool.iter().map(|e| self.example_vector(e)).collect();
        vectors.push(Cow::Borrowed(self.questions.vector(id).unwrap_or(&[])));
        let vectors: Vec<&[(u32, f32)]> = vectors.iter().map(|v| &**v).collect();
        let drop = most_redundant(&vectors, node);
        let pool = self.pools.entry(cluster).or_default();
        if drop < pool.len() {
            pool[drop] = Exemplar {
                id,
                text: detectors::mask(text),
                channel: None,
            };
        }
    }

    /// After members moved, examples follow their messages to their new clusters; those of
    /// forgotten questions (which never move) follow their cluster where it was merged.
    fn rehome_examples(&mut self, merges: &[(u64, u64)]) {
        let capacity = self.pool_capacity();
        let merged: FxMap<u64, u64> = merges.iter().copied().collect();
        let mut pools: FxMap<u64, Vec<Exemplar>> = FxMap::default();
        let mut all: Vec<(u64, Exemplar)> = std::mem::take(&mut self.pools)
            .into_iter()
            .flat_map(|(cluster, pool)| pool.into_iter().map(move |e| (cluster, e)))
            .collect();
        all.sort_by_key(|(_, e)| e.id);
        for (mut was, e) in all {
            let cluster = match e.channel {
                None => self.questions.cluster_of(e.id),
                Some(_) => {
                    for _ in 0..merges.len() {
                        match merged.get(&was) {
                            Some(&into) if into != was => was = into,
                            _ => break,
                        }
                    }
                    self.questions.node(was).map(|n| n.id)
                }
            };
            if let Some(cluster) = cluster {
                pools.entry(cluster).or_default().push(e);
            }
        }
        for (cluster, pool) in pools.iter_mut() {
            while pool.len() > capacity {
                let Some(node) = self.questions.node(*cluster) else {
                    break;
                };
                let vectors: Vec<Cow<'_, [(u32, f32)]>> =
                    pool.iter().map(|e| self.example_vector(e)).collect();
                let vectors: Vec<&[(u32, f32)]> = vectors.iter().map(|v| &**v).collect();
                let drop = most_redundant(&vectors, node);
                pool.swap_remove(drop);
            }
        }
        self.pools = pools;
    }

    // ---- reading ----------------------------------------------------------------------------

    /// Messages held.
    pub fn len(&self) -> usize {
        self.questions.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.questions.items.is_empty()
    }

    pub fn cluster_count(&self) -> usize {
        self.questions.len()
    }

    /// Question vectors held in memory (at most `kept_vectors`).
    pub fn held_vectors(&self) -> usize {
        self.questions.held.len()
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// What is kept of a held question.
    pub fn asked(&self, message: u64) -> Option<&Asked> {
        self.questions.items.get(&message).map(|i| &i.meta)
    }

    /// What is kept of a held question, to complete or correct.
    pub fn asked_mut(&mut self, message: u64) -> Option<&mut Asked> {
        self.questions.items.get_mut(&message).map(|i| &mut i.meta)
    }

    /// Every held question with what is kept of it, in no order.
    pub fn every_asked(&self) -> impl Iterator<Item = (u64, &Asked)> {
        self.questions.items.iter().map(|(id, i)| (*id, &i.meta))
    }

    /// The question cluster of a message.
    pub fn cluster_of(&self, message: u64) -> Option<u64> {
        self.questions.cluster_of(message)
    }

    /// The topic of a question cluster, named by its largest question cluster (then the oldest):
    /// question cluster ids are the store's, so instances grouping alike name topics alike.
    pub fn topic_of(&self, cluster: u64) -> Option<u64> {
        let topic = self.topics.node(self.topics.cluster_of(cluster)?)?;
        self.topic_name(topic)
    }

    fn topic_name(&self, topic: &Node) -> Option<u64> {
        topic
            .members
            .iter()
            .max_by_key(|&&q| (self.questions.size(q), std::cmp::Reverse(q)))
            .copied()
    }

    /// Every question cluster, largest first.
    pub fn clusters(&self) -> Vec<ClusterSummary> {
        let mut out: Vec<ClusterSummary> = self
            .questions
            .nodes()
            .filter_map(|n| self.cluster(n.id))
            .collect();
        out.sort_by(|a, b| b.members.cmp(&a.members).then(a.id.cmp(&b.id)));
        out
    }

    pub fn cluster(&self, id: u64) -> Option<ClusterSummary> {
        self.cluster_among(id, &|_| true)
    }

    /// The cluster's summary drawn only from the members `readable` allows: its label, examples
    /// and top terms come from those questions alone (a reader limited to some channels must not
    /// see another channel's question as the cluster's name). Counts stay the whole cluster's.
    /// Forgotten members are not readable here: see [`Clusterer::cluster_among_channels`].
    pub fn cluster_among(&self, id: u64, readable: &dyn Fn(u64) -> bool) -> Option<ClusterSummary> {
        self.cluster_among_channels(id, readable, &|_| false)
    }

    /// As [`Clusterer::cluster_among`], with `readable_channel` saying whether the reader may
    /// read the questions of a channel (as the owner numbers it), for members forgotten.
    pub fn cluster_among_channels(
        &self,
        id: u64,
        readable: &dyn Fn(u64) -> bool,
        readable_channel: &dyn Fn(u32) -> bool,
    ) -> Option<ClusterSummary> {
        let node = self.questions.node(id)?;
        let (authors, first_ms, last_ms) = self.activity(&node.members);
        let first_ms = earliest(first_ms, authors, node.forgotten_first_ms);
        let last_ms = latest(last_ms, authors, node.forgotten_last_ms);
        let pool: Vec<&Exemplar> = self
            .pools
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|e| match e.channel {
                Some(channel) => readable_channel(channel),
                None => readable(e.id),
            })
            .collect();
        let vectors: Vec<Cow<'_, [(u32, f32)]>> =
            pool.iter().map(|e| self.example_vector(e)).collect();
        let vectors: Vec<&[(u32, f32)]> = vectors.iter().map(|v| &**v).collect();
        let chosen = diverse(&vectors, node, self.config.examples);
        let all_readable = node.members.iter().all(|m| readable(*m))
            && node.forgotten_channels.iter().all(|c| readable_channel(*c));
        let top_terms = if all_readable {
            self.top_terms(node)
        } else {
            let mut sum: SparseVec = Vec::new();
            for member in node.members.iter().filter(|m| readable(**m)) {
                sum = add_scaled(&sum, self.questions.vector(*member).unwrap_or(&[]), 1.0);
            }
            self.top_terms_of(&sum)
        };
        Some(ClusterSummary {
            id,
            topic: self.topic_of(id),
            label: chosen
                .first()
                .map(|&i| pool[i].text.clone())
                .unwrap_or_default(),
            top_terms,
            members: node.size(),
            authors,
            first_ms,
            last_ms,
            examples: chosen.iter().map(|&i| pool[i].text.clone()).collect(),
        })
    }

    /// Every topic, largest first.
    pub fn topics(&self) -> Vec<TopicSummary> {
        let mut out: Vec<TopicSummary> = self
            .topics
            .nodes()
            .map(|topic| {
                let mut questions: Vec<(usize, u64)> = topic
                    .members
                    .iter()
                    .map(|&q| (self.questions.size(q), q))
                    .collect();
                questions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                let nodes: Vec<&Node> = questions
                    .iter()
                    .filter_map(|(_, q)| self.questions.node(*q))
                    .collect();
                let messages: Vec<u64> = nodes
                    .iter()
                    .flat_map(|n| n.members.iter().copied())
                    .collect();
                let (authors, first_ms, last_ms) = self.activity(&messages);
                let forgotten_first = nodes.iter().map(|n| n.forgotten_first_ms).min();
                let first_ms = earliest(first_ms, authors, forgotten_first.unwrap_or(i64::MAX));
                let forgotten_last = nodes.iter().map(|n| n.forgotten_last_ms).max();
                let last_ms = latest(last_ms, authors, forgotten_last.unwrap_or(i64::MIN));
                let central = topic
                    .members
                    .iter()
                    .filter_map(|&q| self.questions.node(q))
                    .max_by(|a, b| topic.cosine(&a.unit()).total_cmp(&topic.cosine(&b.unit())));
                TopicSummary {
                    id: self.topic_name(topic).unwrap_or(topic.id),
                    label: central
                        .and_then(|n| self.cluster(n.id))
                        .map(|c| c.label)
                        .unwrap_or_default(),
                    top_terms: self.top_terms(topic),
                    questions: questions.iter().map(|(_, q)| *q).collect(),
                    members: questions.iter().map(|(size, _)| size).sum(),
                    authors,
                    first_ms,
                    last_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| b.members.cmp(&a.members).then(a.id.cmp(&b.id)));
        out
    }

    /// Distinct authors, first and last time of some messages.
    fn activity(&self, messages: &[u64]) -> (usize, i64, i64) {
        let mut authors: Vec<u64> = Vec::with_capacity(messages.len());
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for m in messages {
            if let Some(item) = self.questions.items.get(m) {
                authors.push(item.meta.author);
                first = first.min(item.meta.time_ms);
                last = last.max(item.meta.time_ms);
            }
        }
        authors.sort_unstable();
        authors.dedup();
        if authors.is_empty() {
            (first, last) = (0, 0);
        }
        (authors.len(), first, last)
    }

    fn top_terms(&self, node: &Node) -> Vec<String> {
        self.top_terms_of(&node.sum)
    }

    /// The heaviest stems of a summed vector, as they are most often written.
    fn top_terms_of(&self, sum: &[(u32, f32)]) -> Vec<String> {
        let mut stems: Vec<&(u32, f32)> = sum.iter().filter(|f| f.0 & STEM_BIT != 0).collect();
        stems.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut out: Vec<String> = Vec::new();
        for (stem, _) in stems {
            if let Some(word) = self.analyzer.surface(*stem) {
                if !out.iter().any(|w| w == word) {
                    out.push(word.to_string());
                }
            }
            if out.len() == 5 {
                break;
            }
        }
        out
    }
}

/// The earliest time of held questions (`held`, 0 when none is held: `authors` is 0) and of
/// forgotten ones (`i64::MAX` when none is forgotten).
fn earliest(held: i64, authors: usize, forgotten: i64) -> i64 {
    match (authors, forgotten) {
        (_, i64::MAX) => held,
        (0, _) => forgotten,
        _ => held.min(forgotten),
    }
}

/// The latest time, as [`earliest`] the earliest (`i64::MIN` when none is forgotten).
fn latest(held: i64, authors: usize, forgotten: i64) -> i64 {
    match (authors, forgotten) {
        (_, i64::MIN) => held,
        (0, _) => forgotten,
        _ => held.max(forgotten),
    }
}

/// The pool entry to drop: among all but the most central, the one most similar to another.
fn most_redundant(vectors: &[&[(u32, f32)]], node: &Node) -> usize {
    let central = (0..vectors.len())
        .max_by(|&a, &b| node.cosine(vectors[a]).total_cmp(&node.cosine(vectors[b])))
        .unwrap_or(0);
    let mut worst = (vectors.len().saturating_sub(1), f32::MIN);
    for i in 0..vectors.len() {
        if i == central {
            continue;
        }
        let closest = (0..vectors.len())
            .filter(|&j| j != i)
            .map(|j| dot(vectors[i], vectors[j]))
            .fold(f32::MIN, f32::max);
        if closest > worst.1 {
            worst = (i, closest);
        }
    }
    worst.0
}

/// Max-min diversity: the most central entry first, then each time the one whose closest chosen
/// entry is farthest away.
fn diverse(vectors: &[&[(u32, f32)]], node: &Node, k: usize) -> Vec<usize> {
    let Some(central) = (0..vectors.len())
        .max_by(|&a, &b| node.cosine(vectors[a]).total_cmp(&node.cosine(vectors[b])))
    else {
        return Vec::new();
    };
    let mut chosen = vec![central];
    while chosen.len() < k.min(vectors.len()) {
        let next = (0..vectors.len())
            .filter(|i| !chosen.contains(i))
            .min_by(|&a, &b| {
                let closest = |i: usize| {
                    chosen
                        .iter()
                        .map(|&c| dot(vectors[i], vectors[c]))
                        .fold(f32::MIN, f32::max)
                };
                closest(a).total_cmp(&closest(b))
            });
        match next {
            Some(i) => chosen.push(i),
            None => break,
        }
    }
    chosen
}

/// Rows whose nearest clusters a batch rebuild looks up together (in parallel) before placing.
const PLACE_CHUNK: usize = 1024;

fn threads(config: &ClusterConfig) -> usize {
    match config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Maps `f` over `items` on `threads` threads, each with its own state from `init`; returns the
/// states (in chunk order) or, through `R`, the results per chunk.
fn par_map<T: Sync, S: Send, R: Send>(
    items: &[T],
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<ChunkResult<S, R>> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let (init, f) = (&init, &f);
                scope.spawn(move || {
                    let mut state = init();
                    let results: Vec<R> = part.iter().map(|t| f(&mut state, t)).collect();
                    ChunkResult { state, results }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// One thread's state and results, from [`par_map`].
struct ChunkResult<S, R> {
    state: S,
    results: Vec<R>,
}

impl<S, R> IntoIterator for ChunkResult<S, R> {
    type Item = R;
    type IntoIter = std::vec::IntoIter<R>;
    fn into_iter(self) -> Self::IntoIter {
        self.results.into_iter()
    }
}

// ---- one level of clusters ------------------------------------------------------------------

/// A restore in progress (see [`Clusterer::restoring`]).
pub struct Restoring {
    clusterer: Clusterer,
}

impl Restoring {
    /// Learns the document frequencies of some stored questions' texts.
    pub fn learn(&mut self, texts: &[&str]) {
        let config = &self.clusterer.config;
        let chunks = par_map(texts, threads(config), Analyzer::default, |a, text| {
            a.learn(&extract(text, &config.features));
        });
        for chunk in chunks {
            self.clusterer.analyzer.absorb(chunk.state);
        }
    }

    /// Puts stored questions (in id order, after every page was learned) in their stored
    /// clusters with what is kept of each; the oldest vectors are let go and the oldest
    /// questions forgotten as the newest come.
    pub fn place(&mut self, rows: &[(Row<'_>, u64, Asked)]) {
        let c = &mut self.clusterer;
        let threads = threads(&c.config);
        for part in rows.chunks(PLACE_CHUNK * 8) {
            let (analyzer, features) = (&c.analyzer, &c.config.features);
            let vectors: Vec<SparseVec> = par_map(
                part,
                threads,
                || (),
                |_, (row, _, _)| analyzer.weigh(&extract(row.text, features), features),
            )
            .into_iter()
            .flatten()
            .collect();
            for ((row, cluster, asked), vector) in part.iter().zip(vectors) {
                c.questions
                    .insert_into(row.id, vector, *asked, *cluster, &c.config);
                c.offer_example(*cluster, row.id, row.text);
            }
            c.let_go_old_vectors();
            c.forget_oldest();
        }
    }

    /// The restored state: centroids recomputed, examples and topics rebuilt.
    pub fn finish(mut self) -> Clusterer {
        let c = &mut self.clusterer;
        let config = c.config.clone();
        c.questions.rebuild(&config, threads(&config));
        c.rehome_examples(&[]);
        c.rebuild_topics();
        self.clusterer
    }
}

/// A clustered item: its cluster's slot and what the level's owner keeps about it (its vector,
/// while held, is in `Level::held`: most items have let theirs go, and an empty boxed slice
/// would still cost each of them 16 bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item<M> {
    slot: u32,
    meta: M,
}

/// A cluster: the (pruned) sum of its members' unit vectors, and which index terms point to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Node {
    id: u64,
    sum: SparseVec,
    norm: f32,
    members: Vec<u64>,
    /// Terms whose postings hold this node (sorted); may include terms no longer among its
    /// heaviest until the next rebuild, which costs a wasted candidate, never a miss.
    indexed: Vec<u32>,
    /// The (pruned) sum of the vectors its older members let go (`Level::let_go_beyond`):
    /// what a rebuild adds to the vectors still held.
    #[serde(default)]
    settled: SparseVec,
    /// Members forgotten (no longer held in memory: [`Clusterer::forget_oldest`]); their
    /// vectors are in `settled`.
    #[serde(default)]
    forgotten: u32,
    /// The channels (as the owner numbers them) of the forgotten members, ascending.
    #[serde(default)]
    forgotten_channels: Vec<u32>,
    /// When the earliest forgotten member was asked (`i64::MAX`: none).
    #[serde(default = "no_time")]
    forgotten_first_ms: i64,
    /// When the latest forgotten member was asked (`i64::MIN`: none).
    #[serde(default = "no_last_time")]
    forgotten_last_ms: i64,
}

fn no_last_time() -> i64 {
    i64::MIN
}

fn no_time() -> i64 {
    i64::MAX
}

impl Node {
    /// Members held and forgotten.
    fn size(&self) -> usize {
        self.members.len() + self.forgotten as usize
    }

    /// Whether it has no member left, held or forgotten.
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.forgotten == 0
    }

    fn empty(id: u64) -> Node {
        Node {
            id,
            sum: Vec::new(),
            norm: 0.0,
            members: Vec::new(),
            indexed: Vec::new(),
            settled: Vec::new(),
            forgotten: 0,
            forgotten_channels: Vec::new(),
            forgotten_first_ms: no_time(),
            forgotten_last_ms: no_last_time(),
        }
    }

    fn cosine(&self, unit: &[(u32, f32)]) -> f32 {
        if self.norm > 0.0 {
            dot(&self.sum, unit) / self.norm
        } else {
            0.0
        }
    }

    fn unit(&self) -> SparseVec {
        let mut v = self.sum.clone();
        features::normalise(&mut v);
        v
    }
}

/// Clusters of items with an inverted index from term to the clusters it is heavy in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Level<M> {
    /// Slots; `None` where a cluster was merged away (compacted by `rebuild`).
    nodes: Vec<Option<Node>>,
    slot_of: FxMap<u64, u32>,
    items: FxMap<u64, Item<M>>,
    index: FxMap<u32, Vec<u32>>,
    next_id: u64,
    /// The vectors held, by key (ordered: message ids grow with time, so the first are the
    /// oldest, which `let_go_beyond` lets go).
    #[serde(default)]
    held: std::collections::BTreeMap<u64, Box<[(u32, f32)]>>,
}

impl<M> Default for Level<M> {
    fn default() -> Self {
        Level {
            nodes: Vec::new(),
            slot_of: FxMap::default(),
            items: FxMap::default(),
            index: FxMap::default(),
            next_id: 1,
            held: Default::default(),
        }
    }
}

/// Reusable buffers for candidate search (per thread).
#[derive(Debug, Clone, Default)]
struct Scratch {
    score: Vec<f32>,
    touched: Vec<u32>,
    order: Vec<(u32, f32)>,
}

impl<M: Clone + Send + Sync> Level<M> {
    fn len(&self) -> usize {
        self.slot_of.len()
    }

    fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    fn node(&self, id: u64) -> Option<&Node> {
        self.nodes.get(*self.slot_of.get(&id)? as usize)?.as_ref()
    }

    fn size(&self, id: u64) -> usize {
        self.node(id).map_or(0, Node::size)
    }

    fn cluster_of(&self, key: u64) -> Option<u64> {
        let slot = self.items.get(&key)?.slot;
        Some(self.nodes.get(slot as usize)?.as_ref()?.id)
    }

    fn vector(&self, key: u64) -> Option<&[(u32, f32)]> {
        self.held.get(&key).map(|v| &**v)
    }

    /// The most similar cluster to `unit` (other than `skip`): index candidates by the summed
    /// weight of shared terms, rarest terms read first within `posting_budget`, then the best
    /// `candidates` compared exactly.
    fn nearest(
        &self,
        unit: &[(u32, f32)],
        skip: Option<u32>,
        config: &ClusterConfig,
        s: &mut Scratch,
    ) -> Option<(u32, f32)> {
        s.score.resize(self.nodes.len(), 0.0);
        s.order.clear();
        s.order.extend_from_slice(unit);
        s.order.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        let mut budget = config.posting_budget;
        for &(term, weight) in &s.order {
            if budget == 0 {
                break;
            }
            let Some(postings) = self.index.get(&term) else {
                continue;
            };
            let read = postings.len().min(budget);
            budget -= read;
            for &slot in &postings[..read] {
                if Some(slot) == skip {
                    continue;
                }
                let score = &mut s.score[slot as usize];
                if *score == 0.0 {
                    s.touched.push(slot);
                }
                *score += weight;
            }
        }
        let mut candidates: Vec<(f32, u32)> = s
            .touched
            .drain(..)
            .map(|slot| (std::mem::take(&mut s.score[slot as usize]), slot))
            .collect();
        if candidates.len() > config.candidates {
            candidates.select_nth_unstable_by(config.candidates, |a, b| b.0.total_cmp(&a.0));
            candidates.truncate(config.candidates);
        }
        candidates
            .into_iter()
            .filter_map(|(_, slot)| {
                let node = self.nodes[slot as usize].as_ref()?;
                Some((slot, node.cosine(unit)))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Puts an item in its nearest cluster at `threshold`, or in a new one.
    /// A nearest cluster found before the clusters from slot `since` on were started: the
    /// guessed cluster as it is now, or one of those if it fits better.
    fn recheck(&self, unit: &[(u32, f32)], guess: u32, since: usize) -> (u32, f32) {
        let now = |slot: usize| self.nodes.get(slot)?.as_ref().map(|n| n.cosine(unit));
        let mut best = (guess, now(guess as usize).unwrap_or(f32::MIN));
        for slot in since..self.nodes.len() {
            if let Some(sim) = now(slot).filter(|&sim| sim > best.1) {
                best = (slot as u32, sim);
            }
        }
        best
    }

    /// `guess` (a nearest cluster found beforehand) is used when it still exists and passes.
    fn insert(
        &mut self,
        key: u64,
        vector: SparseVec,
        meta: M,
        (threshold, guess): (f32, Option<(u32, f32)>),
        config: &ClusterConfig,
        scratch: &mut Scratch,
    ) -> (u64, f32, bool) {
        let usable = |&(slot, sim): &(u32, f32)| {
            sim >= threshold && self.nodes.get(slot as usize).is_some_and(Option::is_some)
        };
        let best = match guess.filter(usable) {
            Some(guess) => Some(guess),
            None => self.nearest(&vector, None, config, scratch),
        };
        let (slot, similarity, new) = match best {
            Some((slot, sim)) if sim >= threshold => (slot, sim, false),
            other => (self.new_node(), other.map_or(0.0, |b| b.1.max(0.0)), true),
        };
        self.add(slot, key, vector, meta, config);
        let id = self.nodes[slot as usize].as_ref().map_or(0, |n| n.id);
        (id, similarity, new)
    }

    /// Adds an item to the cluster with id `cluster`, starting it under that id if there is none.
    /// Returns whether it was started.
    fn insert_into(
        &mut self,
        key: u64,
        vector: SparseVec,
        meta: M,
        cluster: u64,
        config: &ClusterConfig,
    ) -> bool {
        let (slot, new) = match self.slot_of.get(&cluster) {
            Some(&slot) => (slot, false),
            None => {
                let slot = self.nodes.len() as u32;
                self.nodes.push(Some(Node::empty(cluster)));
                self.slot_of.insert(cluster, slot);
                self.next_id = self.next_id.max(cluster + 1);
                (slot, true)
            }
        };
        self.add(slot, key, vector, meta, config);
        new
    }

    fn new_node(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let slot = self.nodes.len() as u32;
        self.nodes.push(Some(Node::empty(id)));
        self.slot_of.insert(id, slot);
        slot
    }

    fn add(&mut self, slot: u32, key: u64, vector: SparseVec, meta: M, config: &ClusterConfig) {
        let Some(node) = self.nodes[slot as usize].as_mut() else {
            return;
        };
        node.sum = add_scaled(&node.sum, &vector, 1.0);
        // Prune with some slack so that not every addition pays for a selection.
        if node.sum.len() > config.centroid_terms + config.centroid_terms / 2 {
            prune(&mut node.sum, config.centroid_terms);
        }
        node.norm = norm(&node.sum);
        node.members.push(key);
        if !vector.is_empty() {
            self.held.insert(key, vector.into_boxed_slice());
        }
        self.items.insert(key, Item { slot, meta });
        self.index_node(slot, config);
    }

    /// Enters the node's heaviest terms in the index (those not already there).
    fn index_node(&mut self, slot: u32, config: &ClusterConfig) {
        let Some(node) = self.nodes[slot as usize].as_mut() else {
            return;
        };
        let mut top: Vec<(u32, f32)> = node.sum.clone();
        if top.len() > config.index_terms {
            top.select_nth_unstable_by(config.index_terms, |a, b| b.1.total_cmp(&a.1));
            top.truncate(config.index_terms);
        }
        for (term, _) in top {
            if let Err(at) = node.indexed.binary_search(&term) {
                node.indexed.insert(at, term);
                self.index.entry(term).or_default().push(slot);
            }
        }
    }

    /// Copies the items into a fresh map with room for `most` of them, after a batch of them
    /// was forgotten. A removal from a well-filled hash map leaves a marker that takes its place
    /// until the map is rebuilt, and a map more than half full rebuilds itself by doubling: at a
    /// million messages (measured) the first insertion after the markers filled it allocated a
    /// table twice the size beside the old one (+51 MiB resident for a moment, +26 MiB for good;
    /// issue 17). A copy of the same size costs its size for the moment of the copy and keeps
    /// the map at the size its most items need.
    fn compact_items(&mut self, most: usize) {
        let items = std::mem::take(&mut self.items);
        let mut fresh = FxMap::with_capacity_and_hasher(most.max(items.len()), Default::default());
        fresh.extend(items);
        self.items = fresh;
    }

    /// Removes an item; returns its cluster id and whether the cluster is now gone.
    fn remove(&mut self, key: u64, config: &ClusterConfig) -> Option<(u64, bool)> {
        let item = self.items.remove(&key)?;
        // A vector let go is in the settled sum and stays there (nothing to subtract).
        let vector = self.held.remove(&key).unwrap_or_default();
        let node = self.nodes.get_mut(item.slot as usize)?.as_mut()?;
        let id = node.id;
        node.members.retain(|&m| m != key);
        if node.is_empty() {
            self.nodes[item.slot as usize] = None;
            self.slot_of.remove(&id);
            return Some((id, true));
        }
        node.sum = add_scaled(&node.sum, &vector, -1.0);
        node.norm = norm(&node.sum);
        self.index_node(item.slot, config);
        Some((id, false))
    }

    /// Lets the oldest held vectors go until at most `kept` are held: each is added to its
    /// cluster's settled sum (so the centroid keeps it) and its item keeps only slot and meta.
    fn let_go_beyond(&mut self, kept: usize, config: &ClusterConfig) {
        while self.held.len() > kept {
            let Some((key, vector)) = self.held.pop_first() else {
                break;
            };
            if let Some(slot) = self.items.get(&key).map(|i| i.slot) {
                self.settle(slot, &vector, config);
            }
        }
    }

    /// Adds a vector let go to its cluster's settled sum.
    fn settle(&mut self, slot: u32, vector: &[(u32, f32)], config: &ClusterConfig) {
        let Some(node) = self.nodes.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        node.settled = add_scaled(&node.settled, vector, 1.0);
        if node.settled.len() > config.centroid_terms + config.centroid_terms / 2 {
            prune(&mut node.settled, config.centroid_terms);
        }
    }

    /// Merges clusters whose centroids are at least `threshold` similar, smallest first; the
    /// larger (then older) of each pair keeps its id. Returns `(from, into)`.
    fn merge_pass(
        &mut self,
        threshold: f32,
        config: &ClusterConfig,
        scratch: &mut Scratch,
    ) -> Vec<(u64, u64)> {
        let mut order: Vec<(usize, u64, u32)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(slot, n)| Some((n.as_ref()?.size(), n.as_ref()?.id, slot as u32)))
            .collect();
        order.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut merges = Vec::new();
        for (_, _, slot) in order {
            let Some(node) = self.nodes[slot as usize].as_ref() else {
                continue;
            };
            let unit = node.unit();
            let Some((other, sim)) = self.nearest(&unit, Some(slot), config, scratch) else {
                continue;
            };
            if sim < threshold {
                continue;
            }
            let (Some(a), Some(b)) = (
                self.nodes[slot as usize].as_ref(),
                self.nodes[other as usize].as_ref(),
            ) else {
                continue;
            };
            // The larger, then older (smaller id), cluster keeps its identity.
            let a_keeps = (a.size(), std::cmp::Reverse(a.id)) > (b.size(), std::cmp::Reverse(b.id));
            let (from, into) = if a_keeps {
                (other, slot)
            } else {
                (slot, other)
            };
            if let Some(pair) = self.merge(from, into, config) {
                merges.push(pair);
            }
        }
        merges
    }

    fn merge(&mut self, from: u32, into: u32, config: &ClusterConfig) -> Option<(u64, u64)> {
        let gone = self.nodes[from as usize].take()?;
        self.slot_of.remove(&gone.id);
        for key in &gone.members {
            if let Some(item) = self.items.get_mut(key) {
                item.slot = into;
            }
        }
        let node = self.nodes[into as usize].as_mut()?;
        node.sum = add_scaled(&node.sum, &gone.sum, 1.0);
        prune(&mut node.sum, config.centroid_terms);
        node.norm = norm(&node.sum);
        node.settled = add_scaled(&node.settled, &gone.settled, 1.0);
        prune(&mut node.settled, config.centroid_terms);
        node.members.extend(gone.members);
        node.forgotten += gone.forgotten;
        for channel in gone.forgotten_channels {
            if let Err(at) = node.forgotten_channels.binary_search(&channel) {
                node.forgotten_channels.insert(at, channel);
            }
        }
        node.forgotten_first_ms = node.forgotten_first_ms.min(gone.forgotten_first_ms);
        node.forgotten_last_ms = node.forgotten_last_ms.max(gone.forgotten_last_ms);
        let pair = (gone.id, node.id);
        self.index_node(into, config);
        Some(pair)
    }

    /// Moves every item whose best cluster (compared leave-one-out with its own) is better by
    /// `move_margin` and reaches `threshold`. All moves are decided against the same centroids
    /// (in parallel) and applied together; `rebuild` then recomputes the centroids.
    fn move_pass(&mut self, config: &ClusterConfig, threads: usize) -> usize {
        // Only items whose vectors are held: one let go (an older question) stays where it is.
        let keys: Vec<u64> = self.held.keys().copied().collect();
        let this = &*self;
        let moves: Vec<(u64, u32)> = par_map(&keys, threads, Scratch::default, |s, key| {
            let item = this.items.get(key)?;
            let vector = this.held.get(key)?;
            let own = this.nodes[item.slot as usize].as_ref()?;
            let stay = leave_one_out(own, vector);
            let (best, sim) = this.nearest(vector, Some(item.slot), config, s)?;
            (sim >= config.threshold && sim > stay + config.move_margin).then_some((*key, best))
        })
        .into_iter()
        .flatten()
        .flatten()
        .collect();
        for (key, slot) in &moves {
            if let Some(item) = self.items.get_mut(key) {
                item.slot = *slot;
            }
        }
        moves.len()
    }

    /// Recomputes member lists, exact centroids and the index from the items; compacts slots.
    /// Clusters left empty (their members moved) are reported as `(from, into)` with `into`
    /// the cluster that received most of them.
    fn rebuild(&mut self, config: &ClusterConfig, threads: usize) -> Vec<(u64, u64)> {
        let mut keys: Vec<u64> = self.items.keys().copied().collect();
        keys.sort_unstable();
        let mut members: Vec<Vec<u64>> = vec![Vec::new(); self.nodes.len()];
        for key in &keys {
            if let Some(item) = self.items.get(key) {
                members[item.slot as usize].push(*key);
            }
        }
        let mut dissolved = Vec::new();
        for (slot, node) in self.nodes.iter().enumerate() {
            if let Some(node) = node {
                if members[slot].is_empty() && node.forgotten == 0 {
                    dissolved.push((node.id, slot));
                }
            }
        }
        let mut merges = Vec::new();
        for (id, slot) in dissolved {
            let old = &self.nodes[slot]
                .as_ref()
                .map(|n| n.members.clone())
                .unwrap_or_default();
            let mut counts: FxMap<u32, usize> = FxMap::default();
            for key in old {
                if let Some(item) = self.items.get(key) {
                    *counts.entry(item.slot).or_default() += 1;
                }
            }
            let into = counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .and_then(|(s, _)| self.nodes[s as usize].as_ref())
                .map(|n| n.id);
            if let Some(into) = into {
                merges.push((id, into));
            }
        }
        // Compact: live, non-empty nodes in slot order.
        let mut new_slot = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::with_capacity(self.slot_of.len());
        for (slot, node) in std::mem::take(&mut self.nodes).into_iter().enumerate() {
            if let Some(mut node) = node {
                if !members[slot].is_empty() || node.forgotten > 0 {
                    node.members = std::mem::take(&mut members[slot]);
                    new_slot[slot] = nodes.len() as u32;
                    nodes.push(Some(node));
                }
            }
        }
        for item in self.items.values_mut() {
            item.slot = new_slot[item.slot as usize];
        }
        let held = &self.held;
        let sums = par_map(
            &nodes,
            threads,
            || (),
            |_, node| {
                let node = node.as_ref()?;
                let mut entries: Vec<(u32, f32)> = node
                    .members
                    .iter()
                    .filter_map(|k| held.get(k))
                    .flat_map(|v| v.iter().copied())
                    .chain(node.settled.iter().copied())
                    .collect();
                entries.sort_unstable_by_key(|e| e.0);
                let mut sum: SparseVec = Vec::with_capacity(entries.len());
                for (term, w) in entries {
                    match sum.last_mut() {
                        Some(last) if last.0 == term => last.1 += w,
                        _ => sum.push((term, w)),
                    }
                }
                prune(&mut sum, config.centroid_terms);
                Some(sum)
            },
        );
        for (node, sum) in nodes.iter_mut().zip(sums.into_iter().flatten()) {
            if let (Some(node), Some(sum)) = (node.as_mut(), sum) {
                node.norm = norm(&sum);
                node.sum = sum;
                node.indexed.clear();
            }
        }
        self.nodes = nodes;
        self.slot_of = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(slot, n)| Some((n.as_ref()?.id, slot as u32)))
            .collect();
        self.index.clear();
        for slot in 0..self.nodes.len() {
            self.index_node(slot as u32, config);
        }
        merges
    }

    /// Renames clusters after those of a previous state that hold most of the same items
    /// (weighted by `weight`), greedily by overlap; the rest get ids from `fresh` on. Returns
    /// the mapping from the ids before to the ids after.
    fn adopt_ids(
        &mut self,
        old_of: impl Fn(u64) -> Option<u64>,
        weight: impl Fn(u64) -> usize,
        fresh: u64,
    ) -> FxMap<u64, u64> {
        let mut overlap: FxMap<(u64, u64), usize> = FxMap::default();
        for node in self.nodes() {
            for &key in &node.members {
                if let Some(old) = old_of(key) {
                    *overlap.entry((node.id, old)).or_default() += weight(key).max(1);
                }
            }
        }
        let mut pairs: Vec<((u64, u64), usize)> = overlap.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut mapping: FxMap<u64, u64> = FxMap::default();
        let mut taken: FxMap<u64, ()> = FxMap::default();
        for ((new, old), _) in pairs {
            if mapping.contains_key(&new) || taken.contains_key(&old) {
                continue;
            }
            mapping.insert(new, old);
            taken.insert(old, ());
        }
        let mut next = fresh;
        let mut ids: Vec<u64> = self.nodes().map(|n| n.id).collect();
        ids.sort_unstable();
        for id in ids {
            mapping.entry(id).or_insert_with(|| {
                next += 1;
                next - 1
            });
        }
        for node in self.nodes.iter_mut().flatten() {
            node.id = mapping.get(&node.id).copied().unwrap_or(node.id);
        }
        self.slot_of = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(slot, n)| Some((n.as_ref()?.id, slot as u32)))
            .collect();
        self.next_id = next;
        mapping
    }
}

/// Cosine of a member to its cluster's centroid without the member itself, so that staying and
/// moving are judged alike (a singleton would otherwise always fit itself perfectly).
fn leave_one_out(node: &Node, unit: &[(u32, f32)]) -> f32 {
    let d = dot(&node.sum, unit);
    let rest_norm_sq = node.norm * node.norm - 2.0 * d + 1.0;
    if rest_norm_sq <= 1e-6 {
        return 0.0;
    }
    ((d - 1.0) / rest_norm_sq.sqrt()).clamp(-1.0, 1.0)
}

/// Keeps the `keep` heaviest entries, in id order.
fn prune(v: &mut SparseVec, keep: usize) {
    if v.len() > keep {
        v.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
        v.truncate(keep);
        v.sort_unstable_by_key(|f| f.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusterer() -> Clusterer {
        Clusterer::new(ClusterConfig::default())
    }

    /// Templated Swedish questions: `subjects × frames`, each subject its own FAQ.
    fn templated(n: usize) -> Vec<String> {
        let subjects = [
            "soptömningen",
            "bygglovet",
            "simhallen",
            "biblioteket",
            "färdtjänsten",
            "snöröjningen",
            "skolskjutsen",
            "förskolekön",
            "parkeringen",
            "återvinningen",
            "hemtjänsten",
            "badplatsen",
            "kulturskolan",
            "fritidsgården",
            "vattenmätaren",
        ];
        let frames = [
            "När öppnar {}?",
            "Vad kostar {}?",
            "Vem ansvarar för {}?",
            "Hur fungerar {}?",
        ];
        (0..n)
            .map(|i| {
                let s = subjects[(i * 7 + i / 3) % subjects.len()];
                let f = frames[(i * 5 + i / 7) % frames.len()];
                f.replace("{}", s)
            })
            .collect()
    }

    #[test]
    fn the_same_question_joins_and_a_different_one_does_not() {
        let mut c = clusterer();
        let a = c.assign(1, "När töms soporna på Storgatan?", 1_000, "anna");
        let b = c.assign(
            2,
            "Hej! När töms soporna på Storgatan i vår?",
            2_000,
            "bertil",
        );
        let d = c.assign(3, "när tömms soporna på storgatan", 3_000, "cecilia");
        let e = c.assign(
            4,
            "Hur ansöker jag om bygglov för ett garage?",
            4_000,
            "david",
        );
        assert!(
            a.new_cluster && !b.new_cluster && !d.new_cluster,
            "{a:?} {b:?} {d:?}"
        );
        assert_eq!((a.cluster, a.cluster), (b.cluster, d.cluster));
        assert!(b.similarity >= c.config().threshold && b.similarity <= 1.0 + 1e-4);
        assert!(e.new_cluster && e.cluster != a.cluster);
        assert_eq!((c.len(), c.cluster_count()), (4, 2));
    }

    #[test]
    fn a_redelivered_message_is_not_counted_twice() {
        let mut c = clusterer();
        let first = c.assign(7, "Vad kostar parkeringstillstånd?", 1, "x");
        let again = c.assign(7, "Vad kostar parkeringstillstånd?", 1, "x");
        assert_eq!(first.cluster, again.cluster);
        assert!(!again.new_cluster);
        assert_eq!(c.cluster(first.cluster).map(|s| s.members), Some(1));
    }

    #[test]
    fn a_summary_among_some_members_shows_only_their_words() {
        let mut c = clusterer();
        // Three questions from one channel (ids 0-2, "Åby") and one from another (id 3, "Böle").
        for (i, t) in [
            "När töms soporna i Åby?",
            "När töms soporna i Åby i vinter?",
            "När töms soporna i Åby nästa vecka?",
            "När töms soporna i Böle?",
        ]
        .iter()
        .enumerate()
        {
            c.assign(i as u64, t, 1_000 * i as i64, &format!("p{i}"));
        }
        let all = c.clusters();
        assert_eq!(all.len(), 1, "{all:?}");
        let id = all[0].id;
        let only_bole = c.cluster_among(id, &|m| m == 3).unwrap();
        assert_eq!(only_bole.label, "När töms soporna i Böle?");
        assert_eq!(only_bole.examples, vec![only_bole.label.clone()]);
        let names_aby = |terms: &[String]| terms.iter().any(|t| t.to_lowercase() == "åby");
        assert!(names_aby(&all[0].top_terms), "{:?}", all[0].top_terms);
        assert!(
            !names_aby(&only_bole.top_terms),
            "{:?}",
            only_bole.top_terms
        );
        assert_eq!(only_bole.members, 4, "counts stay the cluster's");
        let none = c.cluster_among(id, &|_| false).unwrap();
        assert!(none.label.is_empty() && none.examples.is_empty() && none.top_terms.is_empty());
        assert_eq!(c.cluster_among(id, &|_| true).unwrap().label, all[0].label);
    }

    #[test]
    fn summaries_show_label_terms_activity_and_masked_examples() {
        let mut c = clusterer();
        let texts = [
            "När töms soporna i Åby?",
            "När töms soporna? Mitt personnummer är 19850312-1231",
            "När töms soporna? Ring 070-123 45 67",
            "När töms soporna i Åby? anna.svensson@example.se",
            "När töms soporna nästa vecka?",
        ];
        for (i, t) in texts.iter().enumerate() {
            c.assign(
                i as u64,
                t,
                1_000 * i as i64,
                if i % 2 == 0 { "anna" } else { "bo" },
            );
        }
        let all = c.clusters();
        assert_eq!(all.len(), 1, "{all:?}");
        let s = &all[0];
        assert_eq!(
            (s.members, s.authors, s.first_ms, s.last_ms),
            (5, 2, 0, 4_000)
        );
        assert!(
            s.top_terms.iter().any(|t| t == "soporna"),
            "{:?}",
            s.top_terms
        );
        assert!(!s.label.is_empty() && s.examples.len() == 3);
        assert!(s.examples.contains(&s.label));
        for e in &s.examples {
            assert!(!e.contains("1231") && !e.contains("45 67") && !e.contains("anna.svensson"));
        }
        let topics = c.topics();
        assert_eq!(topics.len(), 1);
        assert_eq!(
            (topics[0].members, topics[0].questions.clone()),
            (5, vec![s.id])
        );
    }

    #[test]
    fn consolidation_merges_into_the_larger_cluster_and_says_so() {
        // Join only near-identical texts, merge at an ordinary similarity.
        let config = ClusterConfig {
            threshold: 0.95,
            merge_threshold: 0.4,
            ..ClusterConfig::default()
        };
        let mut c = Clusterer::new(config);
        let big = c.assign(1, "När öppnar simhallen?", 1, "a").cluster;
        c.assign(2, "När öppnar simhallen?", 2, "b");
        let small = c.assign(3, "När öppnar simhallen igen?", 3, "c");
        assert!(small.new_cluster && small.cluster != big);
        assert!(small.similarity >= 0.4, "{small:?}");
        let other = c
            .assign(4, "Vad kostar en plats i kulturskolan?", 4, "d")
            .cluster;
        let result = c.consolidate();
        assert_eq!(result.merges, vec![(small.cluster, big)]);
        assert_eq!(c.cluster_of(3), Some(big));
        assert_eq!(c.cluster_of(4), Some(other));
        assert_eq!(c.cluster(big).map(|s| s.members), Some(3));
        assert!(c.cluster(small.cluster).is_none());
    }

    #[test]
    fn removal_forgets_the_message_and_an_emptied_cluster() {
        let mut c = clusterer();
        let a = c.assign(1, "Var kan jag lämna grovsopor?", 1, "a");
        c.assign(2, "Var lämnar man grovsopor?", 2, "b");
        let lone = c.assign(3, "Vad kostar fiskekort?", 3, "c");
        assert!(c.remove(2));
        assert!(!c.remove(2));
        assert_eq!(c.cluster(a.cluster).map(|s| s.members), Some(1));
        assert!(c.remove(3));
        assert!(c.cluster(lone.cluster).is_none());
        assert_eq!(c.topic_of(lone.cluster), None);
        assert!(c.clusters().iter().all(|s| !s
            .examples
            .iter()
            .any(|e| e.contains("grovsopor?") && e.starts_with("Var lämnar"))));
    }

    /// Each cluster's members (sorted), the clusters sorted: a partition to compare.
    fn partition(c: &Clusterer) -> Vec<Vec<u64>> {
        let mut out: Vec<Vec<u64>> = c
            .clusters()
            .iter()
            .map(|s| {
                let mut m = c.questions.node(s.id).unwrap().members.clone();
                m.sort_unstable();
                m
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn only_the_newest_vectors_are_held_and_the_clusters_stay_the_same() {
        let bounded = ClusterConfig {
            kept_vectors: 10,
            ..ClusterConfig::default()
        };
        let (mut all, mut few) = (clusterer(), Clusterer::new(bounded.clone()));
        for (i, t) in templated(300).iter().enumerate() {
            let (a, b) = (
                all.assign(i as u64, t, i as i64, "x"),
                few.assign(i as u64, t, i as i64, "x"),
            );
            assert_eq!(a.cluster, b.cluster, "question {i} placed elsewhere");
        }
        assert_eq!(all.held_vectors(), 300);
        assert_eq!(few.held_vectors(), 10);
        assert_eq!(partition(&all), partition(&few));
        // Consolidation moves only questions whose vectors are held; the others stay put.
        let before: Vec<Option<u64>> = (0..290).map(|i| few.cluster_of(i)).collect();
        few.consolidate();
        let after: Vec<Option<u64>> = (0..290).map(|i| few.cluster_of(i)).collect();
        assert_eq!(before, after);
        assert_eq!(few.held_vectors(), 10);
        // Examples and labels still come from the questions let go.
        assert!(few.clusters().iter().all(|s| !s.label.is_empty()));
        // A restore from stored placements holds no more either, and places alike.
        let texts = templated(300);
        let rows: Vec<(Row<'_>, u64)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let row = Row {
                    id: i as u64,
                    text: t,
                    time_ms: i as i64,
                    author: "x",
                };
                (row, few.cluster_of(i as u64).unwrap())
            })
            .collect();
        let mut restored = Clusterer::restore(&rows, &bounded);
        assert!(restored.held_vectors() <= 10);
        let next = "När öppnar simhallen i sommar?";
        assert_eq!(
            restored.assign(1000, next, 1000, "y").cluster,
            few.assign(1000, next, 1000, "y").cluster
        );
    }

    #[test]
    fn the_oldest_questions_are_forgotten_and_still_counted_by_their_clusters() {
        let bounded = |kept_questions| ClusterConfig {
            kept_vectors: 10,
            kept_questions,
            ..ClusterConfig::default()
        };
        let (mut all, mut few) = (
            Clusterer::new(bounded(usize::MAX)),
            Clusterer::new(bounded(40)),
        );
        for (i, t) in templated(300).iter().enumerate() {
            let (a, b) = (
                all.assign(i as u64, t, 10 * i as i64, "x"),
                few.assign(i as u64, t, 10 * i as i64, "x"),
            );
            assert_eq!(a.cluster, b.cluster, "question {i} placed elsewhere");
            assert!(!all.forget_oldest());
            few.forget_oldest();
            assert!(few.len() <= 45, "{} held after question {i}", few.len());
        }
        let forgotten = few.forgotten();
        assert_eq!(forgotten.count as usize + few.len(), 300);
        assert!(few.every_asked().all(|(id, _)| id > forgotten.up_to_id));
        assert_eq!(forgotten.until_ms, 10 * forgotten.up_to_id as i64);
        assert_eq!(all.forgotten(), Forgotten::default());
        let sizes = |c: &Clusterer| -> Vec<(u64, usize, i64, i64)> {
            let mut v: Vec<_> = c
                .clusters()
                .iter()
                .map(|s| (s.id, s.members, s.first_ms, s.last_ms))
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(sizes(&all), sizes(&few));
        // Consolidation merges and moves alike (it moves only questions whose vectors are
        // held, the same newest ones in both), and keeps clusters whose members are forgotten.
        all.consolidate();
        few.consolidate();
        assert_eq!(sizes(&all), sizes(&few));
        let topic_sizes = |c: &Clusterer| -> Vec<(u64, usize, i64)> {
            c.topics()
                .iter()
                .map(|t| (t.id, t.members, t.first_ms))
                .collect()
        };
        assert_eq!(topic_sizes(&all), topic_sizes(&few));
        // A forgotten question is not held: removing it here does nothing.
        assert!(!few.remove(0));
        assert_eq!(few.cluster_of(0), None);
        // Its example stays, readable only to a reader of its channel.
        let shown = |readable_channel: &dyn Fn(u32) -> bool| -> usize {
            few.clusters()
                .iter()
                .filter_map(|c| few.cluster_among_channels(c.id, &|_| false, readable_channel))
                .map(|c| c.examples.len())
                .sum()
        };
        assert!(shown(&|_| true) > 0);
        assert_eq!(shown(&|_| false), 0);
        // The state round-trips with what was forgotten.
        let back: Clusterer = serde_json::from_str(&serde_json::to_string(&few).unwrap()).unwrap();
        assert_eq!(
            (back.forgotten(), sizes(&back)),
            (few.forgotten(), sizes(&few))
        );
    }

    #[test]
    fn forgetting_again_and_again_never_doubles_the_map_of_held_questions() {
        // The default (400,000 and an eighth) fills its map to 98 %; 398 and an eighth fill a
        // map of 512 slots likewise, where a removal leaves a marker rather than a free slot.
        let kept = 398;
        let mut c = Clusterer::new(ClusterConfig {
            kept_vectors: 10,
            kept_questions: kept,
            ..ClusterConfig::default()
        });
        // The room a map needs for the most questions ever held at once.
        let needed =
            FxMap::<u64, ()>::with_capacity_and_hasher(kept + kept / 8, Default::default())
                .capacity();
        let mut forgot = 0;
        for (i, t) in templated(3000).iter().enumerate() {
            // Message ids grow with gaps (other messages between the questions): ids one
            // after another would each find a slot of their own and leave no markers.
            let id = 1000 * i as u64 + (i as u64).wrapping_mul(2_654_435_761) % 997;
            c.assign(id, t, 10 * i as i64, "x");
            forgot += usize::from(c.forget_oldest());
            let room = c.questions.items.capacity();
            assert!(
                room <= needed,
                "after question {i} the map has room for {room}, more than the {needed} needed"
            );
        }
        assert!(forgot >= 40, "forgot {forgot} times");
        assert_eq!(c.forgotten().count as usize + c.len(), 3000);
    }

    #[test]
    fn what_is_kept_of_a_question_is_one_small_record_that_follows_it() {
        // One map entry per public question (key and item): a store of a million messages
        // holds hundreds of thousands, so a field added here costs megabytes.
        assert!(std::mem::size_of::<(u64, Item<Asked>)>() <= 48);
        let mut c = Clusterer::new(ClusterConfig {
            kept_vectors: 2,
            ..ClusterConfig::default()
        });
        let texts = templated(6);
        let asked = |i: i64| Asked {
            time_ms: 1000 + i,
            author: 7,
            placed_seq: 40 + i,
            channel: 3,
            post: 9,
        };
        for (i, t) in texts.iter().enumerate() {
            let v = c.learn(t);
            c.put(i as u64, v, asked(i as i64), t, 1 + i as u64 % 2);
        }
        assert_eq!(c.asked(4), Some(&asked(4)));
        // Moved by a consolidation elsewhere, a question held or let go keeps its record.
        assert!(c.move_to(4, 1));
        assert!(c.move_to(0, 2));
        assert_eq!((c.cluster_of(4), c.asked(4)), (Some(1), Some(&asked(4))));
        assert_eq!((c.cluster_of(0), c.asked(0)), (Some(2), Some(&asked(0))));
        // Put again where it is (a later event about it), the record is the new one.
        let later = Asked {
            placed_seq: 99,
            ..asked(4)
        };
        let v = c.learn(&texts[4]);
        c.put(4, v, later, &texts[4], 1);
        assert_eq!(c.asked(4), Some(&later));
        c.asked_mut(5).unwrap().channel = 8;
        let mut kept: Vec<(u64, u32)> = c.every_asked().map(|(id, a)| (id, a.channel)).collect();
        kept.sort_unstable();
        assert_eq!(kept, [(0, 3), (1, 3), (2, 3), (3, 3), (4, 3), (5, 8)]);
        assert!(c.remove(5));
        assert_eq!((c.asked(5), c.len(), c.held_vectors()), (None, 5, 1));
    }

    #[test]
    fn state_survives_a_serde_round_trip() {
        let mut c = clusterer();
        for (i, t) in templated(60).iter().enumerate() {
            c.assign(i as u64, t, i as i64, "x");
        }
        c.consolidate();
        let json = serde_json::to_string(&c).unwrap();
        let mut restored: Clusterer = serde_json::from_str(&json).unwrap();
        let next = "När öppnar simhallen i sommar?";
        assert_eq!(
            c.assign(100, next, 100, "y"),
            restored.assign(100, next, 100, "y")
        );
        assert_eq!(c.cluster_count(), restored.cluster_count());
    }

    #[test]
    fn a_rebuild_keeps_the_previous_ids() {
        let texts = templated(120);
        let rows: Vec<Row<'_>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Row {
                id: i as u64,
                text: t,
                time_ms: i as i64,
                author: "a",
            })
            .collect();
        let before = Clusterer::recluster_all(&rows[..100], &ClusterConfig::default());
        let mut after = Clusterer::recluster_all(&rows, &ClusterConfig::default());
        let gone = after.keep_ids_of(&before);
        for (from, into) in &gone {
            assert!(before.cluster(*from).is_some() && after.cluster(*from).is_none());
            assert!(after.cluster(*into).is_some());
        }
        // Clusters of the earlier state live on, under their ids, as the cluster of the rebuild
        // holding most of their members (unless two were merged: then one id goes on).
        let old = before.clusters();
        let lived_on = old
            .iter()
            .filter(|o| {
                let mut holders: FxMap<u64, usize> = FxMap::default();
                for i in (0..100u64).filter(|&i| before.cluster_of(i) == Some(o.id)) {
                    *holders.entry(after.cluster_of(i).unwrap_or(0)).or_default() += 1;
                }
                holders.iter().max_by_key(|(_, n)| **n).map(|(id, _)| *id) == Some(o.id)
            })
            .count();
        assert!(
            lived_on * 10 >= old.len() * 8,
            "{lived_on} of {}",
            old.len()
        );
        // An id of the earlier state only ever names a cluster holding members it named then.
        for s in after.clusters() {
            if old.iter().any(|o| o.id == s.id) {
                let shares = (0..100u64).any(|i| {
                    after.cluster_of(i) == Some(s.id) && before.cluster_of(i) == Some(s.id)
                });
                assert!(shares, "{s:?}");
            }
        }
    }

    #[test]
    fn the_index_finds_what_a_full_scan_finds() {
        let texts = templated(600);
        let rows: Vec<Row<'_>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Row {
                id: i as u64,
                text: t,
                time_ms: i as i64,
                author: "a",
            })
            .collect();
        let config = ClusterConfig {
            threshold: 0.6,
            ..ClusterConfig::default()
        };
        let mut c = Clusterer::recluster_all(&rows, &config);
        let probes = [
            "När öppnar biblioteket på lördag?",
            "Vad kostar skolskjutsen?",
            "Vem ansvarar för badplatsen i Åby?",
        ];
        for probe in probes {
            let raw = extract(probe, &config.features);
            let v = c.analyzer.weigh(&raw, &config.features);
            let found = c.questions.nearest(&v, None, &config, &mut c.scratch);
            let scan = c
                .questions
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(slot, n)| Some((slot as u32, n.as_ref()?.cosine(&v))))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let (found, scan) = (found.unwrap(), scan.unwrap());
            assert!(
                (found.1 - scan.1).abs() < 1e-5,
                "{probe}: {found:?} vs {scan:?}"
            );
        }
    }

    #[test]
    fn related_questions_share_a_topic() {
        let mut c = clusterer();
        let fee = c.assign(1, "Vad kostar bygglov för ett garage?", 1, "a");
        let time = c.assign(
            2,
            "Hur lång handläggningstid har bygglov för garage?",
            2,
            "b",
        );
        let other = c.assign(3, "När öppnar simhallen?", 3, "c");
        c.consolidate();
        let (fee, time, other) = (
            c.cluster_of(1).unwrap_or(fee.cluster),
            c.cluster_of(2).unwrap_or(time.cluster),
            c.cluster_of(3).unwrap_or(other.cluster),
        );
        assert_ne!(fee, time, "different questions");
        assert_eq!(c.topic_of(fee), c.topic_of(time));
        assert_ne!(c.topic_of(fee), c.topic_of(other));
    }
}
