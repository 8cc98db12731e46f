//! How well FAQ clustering agrees with labelled questions: `tavla faq eval FILE [--json]`.
//!
//! Every row of a `text<TAB>label` file is treated as a question and the whole file is clustered
//! with [`Clusterer::recluster_all`]; the clusters (and topics) are compared with the labels by
//! normalised mutual information (NMI, arithmetic-mean normalisation as in scikit-learn) and the
//! adjusted Rand index (ARI). NMI rewards pure clusters even when there are too many; ARI punishes
//! both splitting and lumping, so the two together say more than either.
//!
//! Tuning used CLINC150's *validation* split only (`clinc150_data_full.json`, 3,000 questions,
//! not one of the evaluated files): the join and merge thresholds against its intents, the topic
//! threshold against its domains (the intent→domain map). SweFAQ and xSID were never used.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;

use super::cluster::{ClusterConfig, Clusterer, Row};
use super::features::FxMap;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Rows clustered.
    pub questions: usize,
    /// Distinct labels.
    pub labels: usize,
    /// Question clusters found, and how many of them hold a single question.
    pub clusters: usize,
    pub singletons: usize,
    /// Agreement of question clusters with the labels.
    pub nmi: f64,
    pub ari: f64,
    /// Of the pairs put in one cluster, the share that share a label; of the pairs that share a
    /// label, the share put in one cluster.
    pub pairwise_precision: f64,
    pub pairwise_recall: f64,
    /// Topics found, and their agreement with the labels (labels that group different
    /// questions on one subject, like SweFAQ's, are topics rather than questions).
    pub topics: usize,
    pub topic_nmi: f64,
    pub topic_ari: f64,
    pub threshold: f32,
    pub topic_threshold: f32,
    /// Wall-clock time of the clustering.
    pub seconds: f64,
}

impl EvalReport {
    pub fn summary(&self) -> String {
        format!(
            "FAQ clustering of {} questions with {} labels\n\
             \x20 question clusters: {:>5} ({} singletons)   NMI {:.3}   ARI {:.3}   pairwise P {:.3} R {:.3}\n\
             \x20 topics:            {:>5}                  NMI {:.3}   ARI {:.3}\n\
             \x20 thresholds: join {:.2}, topic {:.2}; {:.2} s",
            self.questions,
            self.labels,
            self.clusters,
            self.singletons,
            self.nmi,
            self.ari,
            self.pairwise_precision,
            self.pairwise_recall,
            self.topics,
            self.topic_nmi,
            self.topic_ari,
            self.threshold,
            self.topic_threshold,
            self.seconds,
        )
    }
}

/// What `tavla faq eval FILE [--json]` prints: the summary, and with `json` the report as one
/// JSON object on the last line.
pub fn eval_file(path: &Path, json: bool) -> anyhow::Result<String> {
    let tsv = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}: give a text<TAB>label file", path.display()))?;
    let report = evaluate(&tsv, &ClusterConfig::default())
        .with_context(|| format!("in {}", path.display()))?;
    let mut out = report.summary();
    if json {
        out.push('\n');
        out.push_str(&serde_json::to_string(&report)?);
    }
    Ok(out)
}

/// Clusters every text of a `text<TAB>label` file and compares with the labels.
pub fn evaluate(tsv: &str, config: &ClusterConfig) -> anyhow::Result<EvalReport> {
    let rows = parse_tsv(tsv)?;
    let started = Instant::now();
    let batch: Vec<Row<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, (text, _))| Row {
            id: i as u64,
            text,
            time_ms: i as i64,
            author: "",
        })
        .collect();
    let clusterer = Clusterer::recluster_all(&batch, config);
    let seconds = started.elapsed().as_secs_f64();

    let labels = dense(rows.iter().map(|(_, label)| *label));
    let clusters = dense((0..rows.len()).map(|i| clusterer.cluster_of(i as u64)));
    let topics = dense((0..rows.len()).map(|i| {
        clusterer
            .cluster_of(i as u64)
            .and_then(|c| clusterer.topic_of(c))
    }));
    let mut sizes: FxMap<usize, usize> = FxMap::default();
    for c in &clusters {
        *sizes.entry(*c).or_default() += 1;
    }
    Ok(EvalReport {
        questions: rows.len(),
        labels: count_distinct(&labels),
        clusters: sizes.len(),
        singletons: sizes.values().filter(|&&n| n == 1).count(),
        nmi: nmi(&labels, &clusters),
        ari: ari(&labels, &clusters),
        pairwise_precision: pairwise(&labels, &clusters).0,
        pairwise_recall: pairwise(&labels, &clusters).1,
        topics: count_distinct(&topics),
        topic_nmi: nmi(&labels, &topics),
        topic_ari: ari(&labels, &topics),
        threshold: config.threshold,
        topic_threshold: config.topic_threshold,
        seconds,
    })
}

/// `(text, label)` rows of a file whose first line is `text<TAB>label`.
pub fn parse_tsv(tsv: &str) -> anyhow::Result<Vec<(&str, &str)>> {
    let mut lines = tsv.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').trim_end());
    if header != Some("text\tlabel") {
        bail!(
            "the first line must be the header text<TAB>label, found {:?}",
            header.unwrap_or("")
        );
    }
    let mut rows = Vec::new();
    for (number, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        // The label is after the last tab, so a tab inside a text does not shift it.
        let Some((text, label)) = line.rsplit_once('\t') else {
            bail!("line {}: expected text<TAB>label, found no tab", number + 1);
        };
        if label.trim().is_empty() {
            bail!("line {}: the label is empty", number + 1);
        }
        rows.push((text, label.trim()));
    }
    if rows.is_empty() {
        bail!("no rows after the header");
    }
    Ok(rows)
}

/// Numbers the distinct values 0, 1, ... in order of appearance.
fn dense<T: std::hash::Hash + Eq>(values: impl Iterator<Item = T>) -> Vec<usize> {
    let mut ids: FxMap<T, usize> = FxMap::default();
    values
        .map(|v| {
            let next = ids.len();
            *ids.entry(v).or_insert(next)
        })
        .collect()
}

fn count_distinct(xs: &[usize]) -> usize {
    xs.iter().max().map_or(0, |m| m + 1)
}

/// Cluster sizes of two partitions and the sizes of their intersections.
struct Contingency {
    n: f64,
    a: Vec<f64>,
    b: Vec<f64>,
    /// (row, column, count) of the non-empty cells.
    cells: Vec<(usize, usize, f64)>,
}

fn contingency(a: &[usize], b: &[usize]) -> Contingency {
    let mut sa = vec![0.0; count_distinct(a)];
    let mut sb = vec![0.0; count_distinct(b)];
    let mut cells: FxMap<(usize, usize), f64> = FxMap::default();
    for (&x, &y) in a.iter().zip(b) {
        sa[x] += 1.0;
        sb[y] += 1.0;
        *cells.entry((x, y)).or_default() += 1.0;
    }
    Contingency {
        n: a.len().min(b.len()) as f64,
        a: sa,
        b: sb,
        cells: cells.into_iter().map(|((x, y), n)| (x, y, n)).collect(),
    }
}

fn entropy(sizes: &[f64], n: f64) -> f64 {
    sizes
        .iter()
        .filter(|&&s| s > 0.0)
        .map(|&s| -(s / n) * (s / n).ln())
        .sum()
}

/// Normalised mutual information of two labelings (dense ids), normalised by the arithmetic
/// mean of the entropies. Two single-cluster partitions agree perfectly (1).
pub fn nmi(a: &[usize], b: &[usize]) -> f64 {
    let c = contingency(a, b);
    if c.n == 0.0 {
        return 1.0;
    }
    let mi: f64 = c
        .cells
        .iter()
        .map(|&(x, y, nxy)| (nxy / c.n) * (c.n * nxy / (c.a[x] * c.b[y])).ln())
        .sum();
    let (ha, hb) = (entropy(&c.a, c.n), entropy(&c.b, c.n));
    if ha == 0.0 && hb == 0.0 {
        return 1.0;
    }
    (mi / ((ha + hb) / 2.0)).clamp(0.0, 1.0)
}

/// Pairwise precision and recall of `found` against `truth` (dense ids).
pub fn pairwise(truth: &[usize], found: &[usize]) -> (f64, f64) {
    let c = contingency(found, truth);
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let together: f64 = c.cells.iter().map(|&(_, _, n)| pairs(n)).sum();
    let found_pairs: f64 = c.a.iter().map(|&n| pairs(n)).sum();
    let true_pairs: f64 = c.b.iter().map(|&n| pairs(n)).sum();
    let ratio = |x: f64, y: f64| if y == 0.0 { 1.0 } else { x / y };
    (ratio(together, found_pairs), ratio(together, true_pairs))
}

/// Adjusted Rand index of two labelings (dense ids): 1 for identical partitions, about 0 for
/// chance agreement, negative for worse than chance.
pub fn ari(a: &[usize], b: &[usize]) -> f64 {
    let c = contingency(a, b);
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = c.cells.iter().map(|&(_, _, n)| pairs(n)).sum();
    let sum_a: f64 = c.a.iter().map(|&n| pairs(n)).sum();
    let sum_b: f64 = c.b.iter().map(|&n| pairs(n)).sum();
    let total = pairs(c.n);
    if total == 0.0 {
        return 1.0;
    }
    let expected = sum_a * sum_b / total;
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        // Both partitions are all-singletons or one cluster: agreement is perfect or undefined.
        return if index == max { 1.0 } else { 0.0 };
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_precision_and_recall_by_hand() {
        // Truth {0,1,2} {3}; found {0,1} {2,3}: found pairs (0,1),(2,3); true pairs (0,1),(0,2),(1,2).
        let truth = dense([0, 0, 0, 1].iter());
        let found = dense([0, 0, 1, 1].iter());
        let (p, r) = pairwise(&truth, &found);
        assert!(
            (p - 0.5).abs() < 1e-12 && (r - 1.0 / 3.0).abs() < 1e-12,
            "{p} {r}"
        );
    }

    #[test]
    fn identical_partitions_score_one_whatever_the_names() {
        let a = [0, 0, 1, 1, 2, 2];
        let b = [5, 5, 3, 3, 4, 4];
        let (a, b) = (dense(a.iter()), dense(b.iter()));
        assert!((nmi(&a, &b) - 1.0).abs() < 1e-12);
        assert!((ari(&a, &b) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_example() {
        // Labels {0,1},{2,3}; clusters {0,1},{2},{3}.
        // MI = ln 2, H(labels) = ln 2, H(clusters) = 1.5 ln 2: NMI = 1 / 1.25 = 0.8.
        // Pairs: index 1, per labels 2, per clusters 1, of 6: expected 1/3, max 3/2,
        // ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7.
        let labels = [0, 0, 1, 1];
        let clusters = [0, 0, 1, 2];
        assert!((nmi(&labels, &clusters) - 0.8).abs() < 1e-12);
        assert!((ari(&labels, &clusters) - 4.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn unrelated_partitions_score_low() {
        let labels = [0, 0, 0, 1, 1, 1];
        let clusters = [0, 1, 2, 0, 1, 2];
        assert!(nmi(&labels, &clusters) < 1e-12);
        assert!(ari(&labels, &clusters) < 0.0);
        let one = [0, 0, 0, 0, 0, 0];
        assert_eq!(nmi(&labels, &one), 0.0);
        assert_eq!(ari(&labels, &one), 0.0);
    }

    #[test]
    fn tsv_errors_say_where() {
        assert!(parse_tsv("question\tlabel\nx\ty").is_err());
        let e = parse_tsv("text\tlabel\nfine\ta\nno tab here\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let rows = parse_tsv("\u{feff}text\tlabel\r\nHur?\tx\r\n\r\n").unwrap();
        assert_eq!(rows, vec![("Hur?", "x")]);
    }

    #[test]
    fn clusters_a_tiny_file() {
        let tsv = "text\tlabel\n\
            När töms soporna?\tsopor\n\
            När hämtas soporna?\tsopor\n\
            När töms sopkärlet?\tsopor\n\
            Hur ansöker jag om bygglov?\tbygglov\n\
            Hur söker man bygglov?\tbygglov\n\
            Hur ansöker man om bygglov för garage?\tbygglov\n";
        let report = evaluate(tsv, &ClusterConfig::default()).unwrap();
        assert_eq!(report.questions, 6);
        assert_eq!(report.labels, 2);
        assert!(report.nmi > 0.5, "{}", report.summary());
        assert!(report.summary().contains("NMI"));
    }

    /// Evaluates every labelled set in ../shared/data/faq. Missing data is skipped with a
    /// reason, except on CI (`CI=true`), where it must be there.
    #[test]
    fn shared_datasets_give_sane_figures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/faq");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{} is needed on CI: {e}",
                    dir.display()
                );
                eprintln!("skipped: no labelled FAQ data at {} ({e})", dir.display());
                return;
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
            .collect();
        files.sort();
        let mut evaluated = 0;
        for file in files {
            let Ok(tsv) = std::fs::read_to_string(&file) else {
                panic!("cannot read {}", file.display());
            };
            if !tsv.starts_with("text\tlabel") {
                eprintln!("skipped {}: not a text<TAB>label file", file.display());
                continue;
            }
            let report = evaluate(&tsv, &ClusterConfig::default()).unwrap();
            eprintln!("{}\n{}", file.display(), report.summary());
            assert!(
                report.nmi > 0.0 && report.nmi <= 1.0,
                "{}",
                report.summary()
            );
            assert!(
                report.ari > 0.0 && report.ari <= 1.0,
                "{}",
                report.summary()
            );
            assert!(report.clusters > 1 && report.clusters < report.questions);
            assert!(report.topics >= 1 && report.topics <= report.clusters);
            evaluated += 1;
        }
        assert!(evaluated > 0, "no text<TAB>label file in {}", dir.display());
    }
}
